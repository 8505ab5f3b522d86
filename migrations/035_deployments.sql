-- Every deploy and rollback the go-live toolkit runs (issue 5): what went where, the canary
-- verdict with its raw values, the decision and the measured rollback time.
CREATE TABLE deployments (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('deploy', 'rollback', 'golive')),
  version          text NOT NULL,
  previous_version text,
  mode             text NOT NULL,
  router           text NOT NULL,
  weights          jsonb NOT NULL DEFAULT '{}',
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz,
  verdict          jsonb,
  decision         text NOT NULL,
  rollback_ms      integer CHECK (rollback_ms >= 0),
  signoffs         jsonb NOT NULL DEFAULT '[]',
  report_path      text,
  detail           jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX deployments_started_idx ON deployments (started_at DESC);
