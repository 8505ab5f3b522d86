-- Analytics storage that scales: events partitioned by month, rollups kept by triggers so reads
-- never scan raw events, the holdout rule in one function, and the tables behind incremental ROI
-- and adaptive allocation.

-- The holdout rule, shared by the send audience (notifications) and analytics: a customer is held
-- out of a campaign when a stable hash of (customer, campaign) falls below holdout_pct of 10,000
-- buckets. Immutable, so it can sit in indexes and the planner may fold it.
CREATE FUNCTION swipesavvy_holdout_bucket(customer_id uuid, campaign_id uuid) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT mod(mod(hashtextextended(customer_id::text || ':holdout:' || campaign_id::text, 0), 10000) + 10000, 10000)::integer
$$;

CREATE FUNCTION swipesavvy_is_treated(customer_id uuid, campaign_id uuid, holdout_pct numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT swipesavvy_holdout_bucket(customer_id, campaign_id) >= round(holdout_pct * 100)
$$;

-- Event ids seen per merchant. The partitioned table's key must contain the partition key
-- (occurred_at), so it cannot by itself refuse a resend of an id with another time; this table can.
CREATE TABLE event_ids (
  merchant_id uuid NOT NULL,
  id text NOT NULL,
  PRIMARY KEY (merchant_id, id)
);
INSERT INTO event_ids (merchant_id, id) SELECT merchant_id, id FROM events;

CREATE TABLE events_partitioned (
  merchant_id uuid NOT NULL,
  id text NOT NULL CHECK (length(id) BETWEEN 1 AND 100),
  type text NOT NULL CHECK (type IN ('impression', 'open', 'click', 'conversion')),
  campaign_id uuid NOT NULL,
  variant text,
  customer_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, occurred_at, id),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (occurred_at);
-- Events older than the oldest monthly partition land here.
CREATE TABLE events_default PARTITION OF events_partitioned DEFAULT;

/** Creates the monthly partition holding `at` (UTC months) unless it exists. */
CREATE FUNCTION swipesavvy_event_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := date_trunc('month', at, 'UTC');
  name text := 'events_' || to_char(start_at AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                   name, start_at, start_at + interval '1 month');
  END IF;
  RETURN name;
END $$;

/** The partitions from this month to `months` ahead; run on a schedule so inserts never wait on DDL. */
CREATE FUNCTION swipesavvy_event_partitions_ahead(months integer) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT swipesavvy_event_partition(now() + make_interval(months => m)) FROM generate_series(0, months) m
$$;

INSERT INTO events_partitioned SELECT merchant_id, id, type, campaign_id, variant, customer_id, occurred_at, received_at FROM events;
DROP TABLE events;
ALTER TABLE events_partitioned RENAME TO events;
-- the months the copied rows span move out of the default partition into their own
DO $$
DECLARE m timestamptz;
BEGIN
  FOR m IN SELECT DISTINCT date_trunc('month', occurred_at, 'UTC') FROM events ORDER BY 1 LOOP
    CREATE TEMP TABLE moving ON COMMIT DROP AS
      SELECT * FROM events_default WHERE occurred_at >= m AND occurred_at < m + interval '1 month';
    DELETE FROM events_default WHERE occurred_at >= m AND occurred_at < m + interval '1 month';
    PERFORM swipesavvy_event_partition(m);
    INSERT INTO events SELECT * FROM moving;
    DROP TABLE moving;
  END LOOP;
END $$;
SELECT swipesavvy_event_partitions_ahead(3);
-- attribution: the latest touch of a customer before a transaction
CREATE INDEX events_customer ON events (merchant_id, customer_id, occurred_at DESC);

-- The variant an attributed transaction counts under: the touch's, else the customer's exposure;
-- kept on the row so rollups rebuilt later agree with those kept incrementally.
ALTER TABLE transactions ADD COLUMN variant text;
UPDATE transactions t SET variant = (
  SELECT e.variant FROM events e WHERE e.merchant_id = t.merchant_id AND e.customer_id = t.customer_id
     AND e.campaign_id = t.campaign_id AND e.occurred_at <= t.occurred_at ORDER BY e.occurred_at DESC LIMIT 1)
 WHERE t.campaign_id IS NOT NULL;

-- Rollups. variant '' is "no variant"; revenue and transactions are the attributed ones.
CREATE TABLE analytics_hourly (
  merchant_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  variant text NOT NULL,
  hour timestamptz NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  conversions bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  revenue numeric(16, 2) NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, variant, hour),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE
);

CREATE TABLE analytics_daily (
  merchant_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  day date NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  conversions bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  revenue numeric(16, 2) NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, day),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE
);
CREATE INDEX analytics_daily_merchant ON analytics_daily (merchant_id, day);

-- by the customer's attribute at the time the row was ingested
CREATE TABLE analytics_segments_daily (
  merchant_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  dimension text NOT NULL CHECK (dimension IN ('city', 'ageBand', 'device', 'tier')),
  value text NOT NULL,
  day date NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  conversions bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  revenue numeric(16, 2) NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, dimension, value, day),
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE
);

-- Experiment units: a customer counts once per campaign and variant it was seen with (a customer
-- reported under two variants counts in both: contamination shows instead of hiding behind an
-- arrival order), and as converted once it has a conversion there. Rates per customer, not per
-- event, so the binomial tests hold.
CREATE TABLE analytics_exposures (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  customer_id uuid NOT NULL,
  variant text NOT NULL,
  converted boolean NOT NULL,
  PRIMARY KEY (campaign_id, customer_id, variant)
);
CREATE TABLE analytics_variant_units (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  variant text NOT NULL,
  exposed bigint NOT NULL DEFAULT 0,
  converted bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, variant)
);

/**
 * The statement that adds a set of deltas to every rollup. `deltas` is a query with the columns
 * merchant_id, campaign_id, variant, customer_id, at, impressions, opens, clicks, conversions,
 * transactions, revenue, sent. Rows are upserted in key order so concurrent batches lock the
 * same rows in the same order.
 */
CREATE FUNCTION analytics_rollup_sql(deltas text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
  SELECT format($q$
    WITH d AS (%s),
    g AS (
      SELECT d.merchant_id, d.campaign_id, d.variant, date_trunc('hour', d.at, 'UTC') AS hour,
             coalesce(cu.city, 'unknown') AS city, coalesce(cu.age_band, 'unknown') AS age_band,
             coalesce(cu.device, 'unknown') AS device, coalesce(cu.tier, 'unknown') AS tier,
             sum(d.impressions) AS impressions, sum(d.opens) AS opens, sum(d.clicks) AS clicks,
             sum(d.conversions) AS conversions, sum(d.transactions) AS transactions,
             sum(d.revenue) AS revenue, sum(d.sent) AS sent
        -- one index probe per row: a batch is small beside the audience, and a hash join would read it all
        FROM d LEFT JOIN LATERAL (SELECT city, age_band, device, tier FROM customers WHERE id = d.customer_id) cu ON true
       GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ),
    h AS (
      INSERT INTO analytics_hourly AS r (merchant_id, campaign_id, variant, hour, impressions, opens, clicks,
                                         conversions, transactions, revenue, sent)
      SELECT merchant_id, campaign_id, variant, hour, sum(impressions), sum(opens), sum(clicks), sum(conversions),
             sum(transactions), sum(revenue), sum(sent)
        FROM g GROUP BY 1, 2, 3, 4 ORDER BY 2, 3, 4
      ON CONFLICT (campaign_id, variant, hour) DO UPDATE SET
        impressions = r.impressions + excluded.impressions, opens = r.opens + excluded.opens,
        clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
        transactions = r.transactions + excluded.transactions, revenue = r.revenue + excluded.revenue,
        sent = r.sent + excluded.sent
    ),
    dd AS (
      INSERT INTO analytics_daily AS r (merchant_id, campaign_id, day, impressions, opens, clicks,
                                        conversions, transactions, revenue, sent)
      SELECT merchant_id, campaign_id, (hour AT TIME ZONE 'UTC')::date, sum(impressions), sum(opens), sum(clicks),
             sum(conversions), sum(transactions), sum(revenue), sum(sent)
        FROM g GROUP BY 1, 2, 3 ORDER BY 2, 3
      ON CONFLICT (campaign_id, day) DO UPDATE SET
        impressions = r.impressions + excluded.impressions, opens = r.opens + excluded.opens,
        clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
        transactions = r.transactions + excluded.transactions, revenue = r.revenue + excluded.revenue,
        sent = r.sent + excluded.sent
    )
    INSERT INTO analytics_segments_daily AS r (merchant_id, campaign_id, dimension, value, day, impressions, opens,
                                               clicks, conversions, transactions, revenue, sent)
    SELECT g.merchant_id, g.campaign_id, v.dimension, v.value, (g.hour AT TIME ZONE 'UTC')::date,
           sum(impressions), sum(opens), sum(clicks), sum(conversions), sum(transactions), sum(revenue), sum(sent)
      FROM g CROSS JOIN LATERAL (VALUES ('city', g.city), ('ageBand', g.age_band), ('device', g.device),
                                        ('tier', g.tier)) AS v(dimension, value)
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 3, 4, 5
    ON CONFLICT (campaign_id, dimension, value, day) DO UPDATE SET
      impressions = r.impressions + excluded.impressions, opens = r.opens + excluded.opens,
      clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
      transactions = r.transactions + excluded.transactions, revenue = r.revenue + excluded.revenue,
      sent = r.sent + excluded.sent
  $q$, deltas)
$f$;

CREATE FUNCTION analytics_events_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  WITH ev AS (
    SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion') AS converted
      FROM new_rows WHERE variant IS NOT NULL GROUP BY 1, 2, 3
  ),
  up AS (
    INSERT INTO analytics_exposures AS x (campaign_id, customer_id, variant, converted)
    SELECT campaign_id, customer_id, variant, converted FROM ev ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, customer_id, variant) DO UPDATE SET converted = true
      WHERE NOT x.converted AND excluded.converted
    RETURNING x.campaign_id, x.variant, x.converted, (xmax = 0) AS inserted
  )
  INSERT INTO analytics_variant_units AS u (campaign_id, variant, exposed, converted)
  SELECT campaign_id, variant, count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE converted)
    FROM up GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (campaign_id, variant) DO UPDATE SET
    exposed = u.exposed + excluded.exposed, converted = u.converted + excluded.converted;

  EXECUTE analytics_rollup_sql($q$
    SELECT merchant_id, campaign_id, coalesce(variant, '') AS variant, customer_id, occurred_at AS at,
           (type = 'impression')::int AS impressions, (type = 'open')::int AS opens, (type = 'click')::int AS clicks,
           (type = 'conversion')::int AS conversions, 0 AS transactions, 0::numeric AS revenue, 0 AS sent
      FROM new_rows
  $q$);
  RETURN NULL;
END $$;
CREATE TRIGGER events_rollup AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_events_rollup();

-- an attributed transaction counts under the variant its customer was exposed to
CREATE FUNCTION analytics_transactions_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE analytics_rollup_sql($q$
    SELECT merchant_id, campaign_id, coalesce(variant, '') AS variant, customer_id, occurred_at AS at,
           0 AS impressions, 0 AS opens, 0 AS clicks, 0 AS conversions, 1 AS transactions, amount AS revenue, 0 AS sent
      FROM new_rows WHERE campaign_id IS NOT NULL
  $q$);
  RETURN NULL;
END $$;
CREATE TRIGGER transactions_rollup AFTER INSERT ON transactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_transactions_rollup();

-- Messages sent (status sent or delivered) of campaign notifications, as +1/-1 deltas on every
-- insert, status change and delete, so the count follows the delivery pipeline.
CREATE FUNCTION analytics_sent_delta_sql(sign integer, rows_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT merchant_id, campaign_id, coalesce(variant, '') AS variant, customer_id, coalesce(sent_at, created_at) AS at,
           0 AS impressions, 0 AS opens, 0 AS clicks, 0 AS conversions, 0 AS transactions, 0::numeric AS revenue,
           %s AS sent
      FROM %I n WHERE kind = 'campaign' AND status IN ('sent', 'delivered')
       -- a campaign being deleted takes its rollups with it; its cascaded notifications add nothing
       AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = n.campaign_id)$q$, sign, rows_name)
$$;

CREATE FUNCTION analytics_notifications_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  parts text[] := '{}';
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM 1 FROM new_rows WHERE kind = 'campaign' AND status IN ('sent', 'delivered') LIMIT 1;
    IF FOUND THEN parts := parts || analytics_sent_delta_sql(1, 'new_rows'); END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM 1 FROM old_rows WHERE kind = 'campaign' AND status IN ('sent', 'delivered') LIMIT 1;
    IF FOUND THEN parts := parts || analytics_sent_delta_sql(-1, 'old_rows'); END IF;
  END IF;
  IF cardinality(parts) > 0 THEN
    EXECUTE analytics_rollup_sql(array_to_string(parts, ' UNION ALL '));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER notifications_rollup_insert AFTER INSERT ON notifications
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_notifications_rollup();
CREATE TRIGGER notifications_rollup_update AFTER UPDATE ON notifications
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_notifications_rollup();
-- a deleted campaign cascades to its rollups anyway; this keeps them right when only sends go
CREATE TRIGGER notifications_rollup_delete AFTER DELETE ON notifications
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_notifications_rollup();

/**
 * Recomputes a merchant's rollups from the raw rows: the repair path (after a bulk load with the
 * triggers off, or a customer's attributes corrected) and the reference the tests compare to.
 */
CREATE FUNCTION analytics_rebuild(merchant uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM analytics_hourly WHERE merchant_id = merchant;
  DELETE FROM analytics_daily WHERE merchant_id = merchant;
  DELETE FROM analytics_segments_daily WHERE merchant_id = merchant;
  DELETE FROM analytics_variant_units WHERE campaign_id IN (SELECT id FROM campaigns WHERE merchant_id = merchant);
  DELETE FROM analytics_exposures WHERE campaign_id IN (SELECT id FROM campaigns WHERE merchant_id = merchant);
  INSERT INTO analytics_exposures (campaign_id, customer_id, variant, converted)
  SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion')
    FROM events WHERE merchant_id = merchant AND variant IS NOT NULL GROUP BY 1, 2, 3;
  INSERT INTO analytics_variant_units (campaign_id, variant, exposed, converted)
  SELECT x.campaign_id, x.variant, count(*), count(*) FILTER (WHERE x.converted)
    FROM analytics_exposures x JOIN campaigns c ON c.id = x.campaign_id
   WHERE c.merchant_id = merchant GROUP BY 1, 2;
  EXECUTE analytics_rollup_sql(format($q$
    SELECT merchant_id, campaign_id, coalesce(variant, '') AS variant, customer_id, occurred_at AS at,
           (type = 'impression')::int AS impressions, (type = 'open')::int AS opens, (type = 'click')::int AS clicks,
           (type = 'conversion')::int AS conversions, 0 AS transactions, 0::numeric AS revenue, 0 AS sent
      FROM events WHERE merchant_id = %1$L
    UNION ALL
    SELECT merchant_id, campaign_id, coalesce(variant, ''), customer_id, occurred_at, 0, 0, 0, 0, 1, amount, 0
      FROM transactions WHERE merchant_id = %1$L AND campaign_id IS NOT NULL
    UNION ALL
    SELECT merchant_id, campaign_id, coalesce(variant, ''), customer_id, coalesce(sent_at, created_at), 0, 0, 0, 0, 0, 0, 1
      FROM notifications WHERE merchant_id = %1$L AND kind = 'campaign' AND status IN ('sent', 'delivered')
  $q$, merchant));
END $$;
SELECT analytics_rebuild(id) FROM merchants;

-- The holdout baseline behind incremental ROI, refreshed by a scheduled job: per arm, the number of
-- audience customers and the sum and sum of squares of their revenue since the campaign started.
CREATE TABLE analytics_lift (
  campaign_id uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
  treated_customers bigint NOT NULL,
  treated_revenue numeric NOT NULL,
  treated_revenue_sq numeric NOT NULL,
  holdout_customers bigint NOT NULL,
  holdout_revenue numeric NOT NULL,
  holdout_revenue_sq numeric NOT NULL,
  since timestamptz NOT NULL,
  until timestamptz NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now()
);

-- Adaptive allocation: opted in per campaign; every weight change the job makes is kept.
CREATE TABLE analytics_allocation_settings (
  campaign_id uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
  enabled boolean NOT NULL,
  floor numeric(5, 4) NOT NULL CHECK (floor >= 0 AND floor <= 0.5),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE analytics_allocation_history (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  weights jsonb NOT NULL,
  probability_best jsonb NOT NULL,
  units jsonb NOT NULL,
  PRIMARY KEY (campaign_id, at)
);
