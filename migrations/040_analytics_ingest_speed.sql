-- Ingestion at volume (issue 4's figures: 50,000 events/s through POST /api/events).
--
-- 1. events loses its two row-level foreign keys. Each one ran a lookup and took a FOR KEY SHARE
--    row lock on the campaign or customer for every event (20,000 locks per 10,000-event batch,
--    more than the inserts themselves cost). Ingestion checks the references set-based instead,
--    under a FOR KEY SHARE lock on the merchant row it takes first (one lock per batch), and the
--    deletes the keys used to cascade are done by statement-level triggers below, which lock the
--    merchant row FOR UPDATE first: a batch and a delete of its merchant's rows never interleave.
--    `db check` counts events whose campaign or customer is missing (event_references_exist).
-- 2. The rollup trigger probes which experiment units are already known before upserting (an
--    upsert locks, so writes, every row it meets, even when it changes nothing), and the shared
--    rollup statement looks customers up by their ids instead of hashing the whole customer table,
--    and groups hours and segments directly instead of through one eight-key grouping.

ALTER TABLE events DROP CONSTRAINT events_partitioned_merchant_id_campaign_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_partitioned_merchant_id_customer_id_fkey;

CREATE FUNCTION analytics_events_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'merchants' THEN
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.id;
    DELETE FROM event_ids e USING old_rows o WHERE e.merchant_id = o.id;
    RETURN NULL;
  END IF;
  -- waits for the batches in flight (they hold the merchant row FOR KEY SHARE); a merchant being
  -- deleted by this transaction is invisible here and needs no lock: its own delete holds one
  PERFORM 1 FROM merchants m WHERE m.id IN (SELECT merchant_id FROM old_rows) ORDER BY m.id FOR UPDATE;
  IF TG_TABLE_NAME = 'customers' THEN
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.merchant_id AND e.customer_id = o.id;
  ELSE
    DELETE FROM events e USING old_rows o WHERE e.merchant_id = o.merchant_id AND e.campaign_id = o.id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER merchants_events_cascade AFTER DELETE ON merchants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_events_cascade();
CREATE TRIGGER customers_events_cascade AFTER DELETE ON customers
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_events_cascade();
CREATE TRIGGER campaigns_events_cascade AFTER DELETE ON campaigns
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_events_cascade();

/**
 * The statement that adds a set of deltas to every rollup (same contract as in migration 020).
 * Customers are looked up by the ids the deltas name (an index scan), hours grouped straight from
 * the deltas, days from the hours, and segments by grouping sets, one per dimension.
 */
CREATE OR REPLACE FUNCTION analytics_rollup_sql(deltas text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
  SELECT format($q$
    WITH d AS (%s),
    cu AS (
      SELECT id, city, age_band, device, tier FROM customers
       WHERE id = ANY (ARRAY(SELECT DISTINCT customer_id FROM d))
    ),
    g AS (
      SELECT merchant_id, campaign_id, variant, date_trunc('hour', at, 'UTC') AS hour,
             sum(impressions) AS impressions, sum(opens) AS opens, sum(clicks) AS clicks,
             sum(conversions) AS conversions, sum(transactions) AS transactions,
             sum(revenue) AS revenue, sum(sent) AS sent
        FROM d GROUP BY 1, 2, 3, 4
    ),
    h AS (
      INSERT INTO analytics_hourly AS r (merchant_id, campaign_id, variant, hour, impressions, opens, clicks,
                                         conversions, transactions, revenue, sent)
      SELECT merchant_id, campaign_id, variant, hour, impressions, opens, clicks, conversions,
             transactions, revenue, sent
        FROM g ORDER BY 2, 3, 4
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
    ),
    s AS (
      SELECT d.merchant_id, d.campaign_id, (d.at AT TIME ZONE 'UTC')::date AS day,
             coalesce(cu.city, 'unknown') AS city, coalesce(cu.age_band, 'unknown') AS age_band,
             coalesce(cu.device, 'unknown') AS device, coalesce(cu.tier, 'unknown') AS tier,
             d.impressions, d.opens, d.clicks, d.conversions, d.transactions, d.revenue, d.sent
        FROM d LEFT JOIN cu ON cu.id = d.customer_id
    ),
    sg AS (
      SELECT merchant_id, campaign_id, day,
             CASE WHEN GROUPING(city) = 0 THEN 'city' WHEN GROUPING(age_band) = 0 THEN 'ageBand'
                  WHEN GROUPING(device) = 0 THEN 'device' ELSE 'tier' END AS dimension,
             coalesce(city, age_band, device, tier) AS value,
             sum(impressions) AS impressions, sum(opens) AS opens, sum(clicks) AS clicks,
             sum(conversions) AS conversions, sum(transactions) AS transactions,
             sum(revenue) AS revenue, sum(sent) AS sent
        FROM s
       GROUP BY GROUPING SETS ((merchant_id, campaign_id, day, city), (merchant_id, campaign_id, day, age_band),
                               (merchant_id, campaign_id, day, device), (merchant_id, campaign_id, day, tier))
    )
    INSERT INTO analytics_segments_daily AS r (merchant_id, campaign_id, dimension, value, day, impressions, opens,
                                               clicks, conversions, transactions, revenue, sent)
    SELECT merchant_id, campaign_id, dimension, value, day, impressions, opens, clicks, conversions,
           transactions, revenue, sent
      FROM sg ORDER BY campaign_id, dimension, value, day
    ON CONFLICT (campaign_id, dimension, value, day) DO UPDATE SET
      impressions = r.impressions + excluded.impressions, opens = r.opens + excluded.opens,
      clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
      transactions = r.transactions + excluded.transactions, revenue = r.revenue + excluded.revenue,
      sent = r.sent + excluded.sent
  $q$, deltas)
$f$;

CREATE OR REPLACE FUNCTION analytics_events_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Units already known, and not turning converted, need nothing: a read-only probe drops them
  -- before the upsert. A unit a concurrent batch is adding is invisible to the probe and reaches
  -- the upsert, which waits for it and counts it once.
  WITH ev AS (
    SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion') AS converted
      FROM new_rows WHERE variant IS NOT NULL GROUP BY 1, 2, 3
  ),
  todo AS (
    SELECT ev.* FROM ev
     WHERE NOT EXISTS (SELECT 1 FROM analytics_exposures x
                        WHERE x.campaign_id = ev.campaign_id AND x.customer_id = ev.customer_id
                          AND x.variant = ev.variant AND (x.converted OR NOT ev.converted))
  ),
  up AS (
    INSERT INTO analytics_exposures AS x (campaign_id, customer_id, variant, converted)
    SELECT campaign_id, customer_id, variant, converted FROM todo ORDER BY 1, 2, 3
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

-- the integrity check gains the invariant the dropped foreign keys kept
CREATE OR REPLACE FUNCTION swipesavvy_integrity_check()
RETURNS TABLE (check_name text, violations bigint, description text)
LANGUAGE sql STABLE AS $$
  SELECT 'constraints_validated',
         (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
           WHERE n.nspname = current_schema() AND NOT c.convalidated),
         'every constraint of the schema is validated'
  UNION ALL
  SELECT 'merchant_has_owner',
         (SELECT count(*) FROM merchants m
           WHERE EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id)
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id AND u.role = 'owner')),
         'every merchant with staff has an owner'
  UNION ALL
  SELECT 'campaign_has_variant',
         (SELECT count(*) FROM campaigns c
           WHERE NOT EXISTS (SELECT 1 FROM campaign_variants v WHERE v.campaign_id = c.id)),
         'every campaign has at least one variant'
  UNION ALL
  SELECT 'notification_attempts_recorded',
         (SELECT count(*) FROM notifications n
           WHERE n.attempts <> (SELECT count(*) FROM notification_attempts a WHERE a.notification_id = n.id)),
         'a notification''s attempt count equals its recorded attempts'
  UNION ALL
  SELECT 'notification_final_was_attempted',
         (SELECT count(*) FROM notifications
           WHERE status IN ('sent', 'delivered', 'bounced') AND attempts = 0),
         'a sent, delivered or bounced notification has at least one attempt'
  UNION ALL
  SELECT 'send_counts_add_up',
         (SELECT count(*) FROM notification_sends s
           WHERE s.status = 'completed'
             AND s.recipients <> (SELECT count(*) FROM notifications n WHERE n.send_id = s.id)),
         'a completed notification campaign has exactly one notification per counted recipient'
  UNION ALL
  SELECT 'completed_send_has_no_open_notifications',
         (SELECT count(*) FROM notification_sends s
           WHERE s.status = 'completed'
             AND EXISTS (SELECT 1 FROM notifications n WHERE n.send_id = s.id AND n.status IN ('queued', 'sending'))),
         'a completed notification campaign has no notification still queued or sending'
  UNION ALL
  SELECT 'event_variant_exists',
         (SELECT count(*) FROM events e
           WHERE e.variant IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM campaign_variants v WHERE v.campaign_id = e.campaign_id AND v.name = e.variant)),
         'every event names a variant of its campaign'
  UNION ALL
  SELECT 'event_references_exist',
         (SELECT count(*) FROM events e
            LEFT JOIN campaigns c ON c.merchant_id = e.merchant_id AND c.id = e.campaign_id
            LEFT JOIN customers u ON u.merchant_id = e.merchant_id AND u.id = e.customer_id
           WHERE c.id IS NULL OR u.id IS NULL),
         'every event''s campaign and customer exist and belong to its merchant'
  UNION ALL
  SELECT 'transaction_attribution_in_window',
         (SELECT count(*) FROM transactions t JOIN campaigns c ON c.id = t.campaign_id
           WHERE NOT EXISTS (
             SELECT 1 FROM events e
              WHERE e.merchant_id = t.merchant_id AND e.customer_id = t.customer_id AND e.campaign_id = t.campaign_id
                AND e.occurred_at <= t.occurred_at
                AND e.occurred_at > t.occurred_at - make_interval(days => c.attribution_window_days))),
         'an attributed transaction follows a touch of its campaign within the attribution window'
$$;
