-- The delivery pipeline: batch claims with a lease, per-notification retry scheduling, receipts,
-- campaign pause/cancel, suppressions and webhook secret rotation.

ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
  CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'bounced', 'suppressed', 'cancelled'));
-- claim_token marks the worker that holds a notification; a record from any other (stale) worker is ignored
ALTER TABLE notifications ADD COLUMN claim_token uuid;
ALTER TABLE notifications ADD COLUMN claimed_at timestamptz;
ALTER TABLE notifications ADD COLUMN next_attempt_at timestamptz;
-- displayed / opened confirmations from the receiving app, each with the time of the first one
ALTER TABLE notifications ADD COLUMN receipts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(receipts) = 'object');
-- queue depth and the oldest open notification are read on every /metrics scrape
CREATE INDEX notifications_open ON notifications (created_at) WHERE status IN ('queued', 'sending');

ALTER TABLE notification_sends DROP CONSTRAINT notification_sends_status_check;
ALTER TABLE notification_sends ADD CONSTRAINT notification_sends_status_check
  CHECK (status IN ('ready', 'sending', 'paused', 'completed', 'cancelled'));
-- a running fan-out touches this per batch; one silent for a lease is taken over (its worker died)
ALTER TABLE notification_sends ADD COLUMN fanout_heartbeat_at timestamptz;

-- Addresses a merchant must not message again: bounced, gone, or put there by hand.
CREATE TABLE notification_suppressions (
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  channel text NOT NULL CHECK (channel IN ('email', 'webhook', 'push')),
  address text NOT NULL CHECK (length(address) BETWEEN 1 AND 4000),
  reason text NOT NULL CHECK (reason IN ('bounced', 'invalid', 'manual', 'complaint')),
  note text CHECK (length(note) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, channel, address)
);

-- after a rotation the previous secret keeps verifying until this time
ALTER TABLE merchants ADD COLUMN webhook_secret_previous_until timestamptz;
