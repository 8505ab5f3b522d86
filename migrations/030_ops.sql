-- The go-live toolkit's records: backups with their restore drills, and incidents with their timeline.

CREATE TABLE backups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  path text NOT NULL,
  method text NOT NULL CHECK (method IN ('pg_dump', 'copy')),
  created_at timestamptz NOT NULL DEFAULT now(),
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  manifest_sha256 text NOT NULL,
  row_counts jsonb NOT NULL DEFAULT '{}',
  duration_ms integer NOT NULL CHECK (duration_ms >= 0),
  verified_at timestamptz,
  verify_ok boolean,
  restore_ms integer CHECK (restore_ms >= 0),
  verify_detail jsonb,
  deleted_at timestamptz,
  CHECK ((verified_at IS NULL) = (verify_ok IS NULL))
);
CREATE INDEX backups_created ON backups (created_at DESC);

CREATE TABLE incidents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule text NOT NULL,
  -- one cause, one incident: while an incident of a group is open, new breaches join it
  group_key text NOT NULL,
  title text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  level integer NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 3),
  value double precision,
  threshold double precision,
  opened_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by text,
  resolved_at timestamptz,
  resolved_by text,
  CHECK (status <> 'acknowledged' OR acknowledged_at IS NOT NULL),
  CHECK (status <> 'resolved' OR resolved_at IS NOT NULL)
);
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE INDEX incidents_opened ON incidents (opened_at DESC);

CREATE TABLE incident_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL
    CHECK (kind IN ('opened', 'escalated', 'notified', 'notify_failed', 'acknowledged', 'resolved', 'breach')),
  level integer,
  message text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

-- A breach that has not yet lasted its rule's window: when it started, per rule.
CREATE TABLE alert_pending (
  rule text PRIMARY KEY,
  since timestamptz NOT NULL,
  value double precision
);
