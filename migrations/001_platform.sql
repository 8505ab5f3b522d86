-- The platform's tables. Every merchant-owned row carries merchant_id, and references between
-- merchant-owned rows include it (composite foreign keys), so no row can point across merchants.

CREATE TABLE merchants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) BETWEEN 1 AND 60),
  city text CHECK (length(city) <= 100),
  latitude double precision CHECK (latitude BETWEEN -90 AND 90),
  longitude double precision CHECK (longitude BETWEEN -180 AND 180),
  tags text[] NOT NULL DEFAULT '{}',
  description text NOT NULL DEFAULT '',
  listed boolean NOT NULL DEFAULT true,
  -- Standard Webhooks signing secrets: the first signs, the rest still verify during a rotation
  webhook_secrets text[] NOT NULL CHECK (cardinality(webhook_secrets) >= 1),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merchants_directory ON merchants (category, city, name) WHERE listed;

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
  password_hash text NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
  settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_merchant ON users (merchant_id);

CREATE TABLE customers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
  email text CHECK (email LIKE '%_@_%'),
  webhook_url text CHECK (webhook_url ~ '^https?://'),
  push_subscription jsonb,
  push_invalid_at timestamptz,
  -- segment attributes in their own columns: they are filtered and grouped on constantly
  city text,
  age_band text,
  device text,
  tier text,
  unsubscribed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (merchant_id, id)
);
CREATE UNIQUE INDEX customers_external_id ON customers (merchant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX customers_segment ON customers (merchant_id, city, tier);

CREATE TABLE campaigns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  channel text NOT NULL CHECK (channel IN ('email', 'webhook', 'push')),
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed')),
  segment jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(segment) = 'object'),
  budget numeric(14, 2) NOT NULL DEFAULT 0 CHECK (budget >= 0),
  unit_cost numeric(10, 4) NOT NULL DEFAULT 0 CHECK (unit_cost >= 0),
  reward_rate numeric(5, 4) NOT NULL DEFAULT 0 CHECK (reward_rate BETWEEN 0 AND 1),
  holdout_pct numeric(5, 2) NOT NULL DEFAULT 0 CHECK (holdout_pct BETWEEN 0 AND 50),
  attribution_window_days integer NOT NULL DEFAULT 7 CHECK (attribution_window_days BETWEEN 1 AND 90),
  starts_at timestamptz,
  ends_at timestamptz,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (merchant_id, id),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX campaigns_list ON campaigns (merchant_id, created_at DESC, id DESC);

CREATE TABLE campaign_variants (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{1,40}$'),
  weight integer NOT NULL CHECK (weight BETWEEN 1 AND 10000),
  content jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(content) = 'object'),
  position integer NOT NULL,
  PRIMARY KEY (campaign_id, name)
);

-- A notification campaign: the fan-out of a campaign to its audience.
CREATE TABLE notification_sends (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'sending', 'completed', 'cancelled')),
  recipients integer NOT NULL CHECK (recipients >= 0),
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  -- set when every recipient has its notification row; recipients is then the exact count
  fanned_out_at timestamptz,
  completed_at timestamptz,
  UNIQUE (merchant_id, id),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE
);
CREATE INDEX notification_sends_campaign ON notification_sends (merchant_id, campaign_id);

CREATE TABLE notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('campaign', 'test', 'system')),
  send_id uuid,
  campaign_id uuid,
  customer_id uuid,
  variant text,
  channel text NOT NULL CHECK (channel IN ('email', 'webhook', 'push')),
  recipient text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'bounced')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text,
  response jsonb,
  idempotency_key uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  failed_at timestamptz,
  FOREIGN KEY (merchant_id, send_id) REFERENCES notification_sends (merchant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id) ON DELETE SET NULL (customer_id),
  CHECK (kind <> 'campaign' OR (send_id IS NOT NULL AND campaign_id IS NOT NULL)),
  CHECK (status <> 'delivered' OR delivered_at IS NOT NULL),
  CHECK (status NOT IN ('failed', 'bounced') OR failed_at IS NOT NULL)
);
-- exactly one notification per recipient of a send and channel
CREATE UNIQUE INDEX notifications_once ON notifications (send_id, customer_id, channel) WHERE send_id IS NOT NULL;
CREATE INDEX notifications_merchant_status ON notifications (merchant_id, created_at, status);
CREATE INDEX notifications_send_status ON notifications (send_id, status) WHERE send_id IS NOT NULL;

CREATE TABLE notification_attempts (
  notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  attempt integer NOT NULL CHECK (attempt >= 1),
  at timestamptz NOT NULL DEFAULT now(),
  outcome text NOT NULL CHECK (outcome IN ('delivered', 'sent', 'transient_error', 'permanent_error')),
  latency_ms integer NOT NULL CHECK (latency_ms >= 0),
  response_code integer,
  error text,
  PRIMARY KEY (notification_id, attempt)
);

CREATE TABLE events (
  merchant_id uuid NOT NULL,
  id text NOT NULL CHECK (length(id) BETWEEN 1 AND 100),
  type text NOT NULL CHECK (type IN ('impression', 'open', 'click', 'conversion')),
  campaign_id uuid NOT NULL,
  variant text,
  customer_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id) ON DELETE CASCADE
);
CREATE INDEX events_campaign ON events (campaign_id, type, occurred_at);
CREATE INDEX events_customer ON events (merchant_id, customer_id, occurred_at DESC);

CREATE TABLE transactions (
  merchant_id uuid NOT NULL,
  id text NOT NULL CHECK (length(id) BETWEEN 1 AND 100),
  customer_id uuid NOT NULL,
  amount numeric(14, 2) NOT NULL CHECK (amount >= 0),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  occurred_at timestamptz NOT NULL,
  campaign_id uuid,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE SET NULL (campaign_id)
);
CREATE INDEX transactions_campaign ON transactions (campaign_id, occurred_at) WHERE campaign_id IS NOT NULL;

-- The local mailbox of the embedded default: what the built-in SMTP server received.
CREATE TABLE mailbox_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id uuid REFERENCES merchants (id) ON DELETE CASCADE,
  message_id text,
  mail_from text NOT NULL,
  rcpt_to text[] NOT NULL,
  subject text NOT NULL DEFAULT '',
  text_body text NOT NULL DEFAULT '',
  html_body text,
  headers jsonb NOT NULL DEFAULT '{}',
  size_bytes integer NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mailbox_messages_merchant ON mailbox_messages (merchant_id, received_at DESC);
