-- A campaign's all-time counts, kept by the same rollup statement as the hours and days. The
-- portfolio summed every day of every campaign for its table (3,100 daily rows for 100 campaigns
-- over a month, more every day), and the metrics and campaign reads a campaign's days; now one row
-- per campaign. The row is one more of those every batch already updates (the campaign's day).

CREATE TABLE analytics_totals (
  merchant_id uuid NOT NULL,
  campaign_id uuid PRIMARY KEY,
  impressions bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  conversions bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  revenue numeric(16, 2) NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns (merchant_id, id) ON DELETE CASCADE
);
INSERT INTO analytics_totals (merchant_id, campaign_id, impressions, opens, clicks, conversions, transactions,
                              revenue, sent)
SELECT merchant_id, campaign_id, sum(impressions), sum(opens), sum(clicks), sum(conversions), sum(transactions),
       sum(revenue), sum(sent)
  FROM analytics_daily GROUP BY 1, 2;

-- A merchant's counts per UTC day, kept by the same rollup statement: the portfolio's 30-day trend
-- summed every campaign's day (3,100 daily rows for 100 campaigns, most of the portfolio's SQL
-- time once the campaigns had their totals); now a row per day. A campaign's days leave
-- the merchant's with them: deleting daily rows (a campaign deleted, a rebuild) subtracts them.

CREATE TABLE analytics_merchant_daily (
  merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
  day date NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  conversions bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  revenue numeric(16, 2) NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (merchant_id, day)
);
INSERT INTO analytics_merchant_daily (merchant_id, day, impressions, opens, clicks, conversions, transactions,
                                      revenue, sent)
SELECT merchant_id, day, sum(impressions), sum(opens), sum(clicks), sum(conversions), sum(transactions),
       sum(revenue), sum(sent)
  FROM analytics_daily GROUP BY 1, 2;

CREATE FUNCTION analytics_daily_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE analytics_merchant_daily m SET
    impressions = m.impressions - o.impressions, opens = m.opens - o.opens, clicks = m.clicks - o.clicks,
    conversions = m.conversions - o.conversions, transactions = m.transactions - o.transactions,
    revenue = m.revenue - o.revenue, sent = m.sent - o.sent
    FROM (SELECT merchant_id, day, sum(impressions) AS impressions, sum(opens) AS opens, sum(clicks) AS clicks,
                 sum(conversions) AS conversions, sum(transactions) AS transactions, sum(revenue) AS revenue,
                 sum(sent) AS sent
            FROM old_rows GROUP BY 1, 2) o
   WHERE m.merchant_id = o.merchant_id AND m.day = o.day;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_daily_deleted AFTER DELETE ON analytics_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_daily_deleted();

/** The statement that adds a set of deltas to every rollup (as in migration 040, with the totals and the merchant's days). */

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
    tt AS (
      INSERT INTO analytics_totals AS r (merchant_id, campaign_id, impressions, opens, clicks, conversions,
                                         transactions, revenue, sent)
      SELECT merchant_id, campaign_id, sum(impressions), sum(opens), sum(clicks), sum(conversions),
             sum(transactions), sum(revenue), sum(sent)
        FROM g GROUP BY 1, 2 ORDER BY 2
      ON CONFLICT (campaign_id) DO UPDATE SET
        impressions = r.impressions + excluded.impressions, opens = r.opens + excluded.opens,
        clicks = r.clicks + excluded.clicks, conversions = r.conversions + excluded.conversions,
        transactions = r.transactions + excluded.transactions, revenue = r.revenue + excluded.revenue,
        sent = r.sent + excluded.sent
    ),
    md AS (
      INSERT INTO analytics_merchant_daily AS r (merchant_id, day, impressions, opens, clicks, conversions,
                                                 transactions, revenue, sent)
      SELECT merchant_id, (hour AT TIME ZONE 'UTC')::date, sum(impressions), sum(opens), sum(clicks),
             sum(conversions), sum(transactions), sum(revenue), sum(sent)
        FROM g GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (merchant_id, day) DO UPDATE SET
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

/**
 * Recomputes a merchant's rollups from the raw rows: the repair path (after a bulk load with the
 * triggers off, or a customer's attributes corrected) and the reference the tests compare to.
 * Same rows as the triggers' delta statement (analytics_rollup_sql) keeps, aggregated set-wise (the method of migration 060).
 */
CREATE OR REPLACE FUNCTION analytics_rebuild(merchant uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM analytics_hourly WHERE merchant_id = merchant;
  DELETE FROM analytics_daily WHERE merchant_id = merchant;
  DELETE FROM analytics_totals WHERE merchant_id = merchant;
  DELETE FROM analytics_merchant_daily WHERE merchant_id = merchant;
  DELETE FROM analytics_segments_daily WHERE merchant_id = merchant;
  DELETE FROM analytics_variant_units WHERE campaign_id IN (SELECT id FROM campaigns WHERE merchant_id = merchant);
  DELETE FROM analytics_exposures WHERE campaign_id IN (SELECT id FROM campaigns WHERE merchant_id = merchant);
  INSERT INTO analytics_exposures (campaign_id, customer_id, variant, converted)
  SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion')
    FROM events WHERE merchant_id = merchant AND variant IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO analytics_variant_units (campaign_id, variant, exposed, converted)
  SELECT x.campaign_id, x.variant, count(*), count(*) FILTER (WHERE x.converted)
    FROM analytics_exposures x JOIN campaigns c ON c.id = x.campaign_id
   WHERE c.merchant_id = merchant GROUP BY 1, 2 ORDER BY 1, 2;

  INSERT INTO analytics_hourly (merchant_id, campaign_id, variant, hour, impressions, opens, clicks,
                                conversions, transactions, revenue, sent)
  SELECT merchant, campaign_id, variant, hour, sum(impressions), sum(opens), sum(clicks), sum(conversions),
         sum(transactions), sum(revenue), sum(sent)
    FROM (
      SELECT campaign_id, coalesce(variant, '') AS variant, date_bin('1 hour', occurred_at, timestamptz '2000-01-01 00:00+00') AS hour,
             count(*) FILTER (WHERE type = 'impression') AS impressions, count(*) FILTER (WHERE type = 'open') AS opens,
             count(*) FILTER (WHERE type = 'click') AS clicks, count(*) FILTER (WHERE type = 'conversion') AS conversions,
             0 AS transactions, 0::numeric AS revenue, 0 AS sent
        FROM events WHERE merchant_id = merchant GROUP BY 1, 2, 3
      UNION ALL
      SELECT campaign_id, coalesce(variant, ''), date_bin('1 hour', occurred_at, timestamptz '2000-01-01 00:00+00'), 0, 0, 0, 0, count(*), sum(amount), 0
        FROM transactions WHERE merchant_id = merchant AND campaign_id IS NOT NULL GROUP BY 1, 2, 3
      UNION ALL
      SELECT campaign_id, coalesce(variant, ''), date_bin('1 hour', coalesce(sent_at, created_at), timestamptz '2000-01-01 00:00+00'),
             0, 0, 0, 0, 0, 0, count(*)
        FROM notifications WHERE merchant_id = merchant AND kind = 'campaign' AND status IN ('sent', 'delivered')
       GROUP BY 1, 2, 3
    ) d
   GROUP BY campaign_id, variant, hour ORDER BY campaign_id, variant, hour;

  INSERT INTO analytics_daily (merchant_id, campaign_id, day, impressions, opens, clicks, conversions,
                               transactions, revenue, sent)
  SELECT merchant, campaign_id, (hour AT TIME ZONE 'UTC')::date, sum(impressions), sum(opens), sum(clicks),
         sum(conversions), sum(transactions), sum(revenue), sum(sent)
    FROM analytics_hourly WHERE merchant_id = merchant GROUP BY 2, 3 ORDER BY 2, 3;

  INSERT INTO analytics_totals (merchant_id, campaign_id, impressions, opens, clicks, conversions, transactions,
                                revenue, sent)
  SELECT merchant, campaign_id, sum(impressions), sum(opens), sum(clicks), sum(conversions), sum(transactions),
         sum(revenue), sum(sent)
    FROM analytics_daily WHERE merchant_id = merchant GROUP BY 2 ORDER BY 2;

  INSERT INTO analytics_merchant_daily (merchant_id, day, impressions, opens, clicks, conversions, transactions,
                                       revenue, sent)
  SELECT merchant, day, sum(impressions), sum(opens), sum(clicks), sum(conversions), sum(transactions),
         sum(revenue), sum(sent)
    FROM analytics_daily WHERE merchant_id = merchant GROUP BY 2 ORDER BY 2;

  -- grouped by the customers' attributes first (few combinations beside the rows), then one row per
  -- dimension of those groups
  INSERT INTO analytics_segments_daily (merchant_id, campaign_id, dimension, value, day, impressions, opens,
                                        clicks, conversions, transactions, revenue, sent)
  SELECT merchant, g.campaign_id, v.dimension, v.value, (g.day AT TIME ZONE 'UTC')::date, sum(g.impressions),
         sum(g.opens), sum(g.clicks), sum(g.conversions), sum(g.transactions), sum(g.revenue), sum(g.sent)
    FROM (
      SELECT e.campaign_id, date_bin('1 day', e.occurred_at, timestamptz '2000-01-01 00:00+00') AS day,
             coalesce(cu.city, 'unknown') AS city, coalesce(cu.age_band, 'unknown') AS age_band,
             coalesce(cu.device, 'unknown') AS device, coalesce(cu.tier, 'unknown') AS tier,
             count(*) FILTER (WHERE e.type = 'impression') AS impressions, count(*) FILTER (WHERE e.type = 'open') AS opens,
             count(*) FILTER (WHERE e.type = 'click') AS clicks, count(*) FILTER (WHERE e.type = 'conversion') AS conversions,
             0 AS transactions, 0::numeric AS revenue, 0 AS sent
        FROM events e LEFT JOIN customers cu ON cu.id = e.customer_id
       WHERE e.merchant_id = merchant GROUP BY 1, 2, 3, 4, 5, 6
      UNION ALL
      SELECT t.campaign_id, date_bin('1 day', t.occurred_at, timestamptz '2000-01-01 00:00+00'),
             coalesce(cu.city, 'unknown'), coalesce(cu.age_band, 'unknown'), coalesce(cu.device, 'unknown'),
             coalesce(cu.tier, 'unknown'), 0, 0, 0, 0, count(*), sum(t.amount), 0
        FROM transactions t LEFT JOIN customers cu ON cu.id = t.customer_id
       WHERE t.merchant_id = merchant AND t.campaign_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
      UNION ALL
      SELECT n.campaign_id, date_bin('1 day', coalesce(n.sent_at, n.created_at), timestamptz '2000-01-01 00:00+00'),
             coalesce(cu.city, 'unknown'), coalesce(cu.age_band, 'unknown'), coalesce(cu.device, 'unknown'),
             coalesce(cu.tier, 'unknown'), 0, 0, 0, 0, 0, 0, count(*)
        FROM notifications n LEFT JOIN customers cu ON cu.id = n.customer_id
       WHERE n.merchant_id = merchant AND n.kind = 'campaign' AND n.status IN ('sent', 'delivered')
       GROUP BY 1, 2, 3, 4, 5, 6
    ) g
    CROSS JOIN LATERAL (VALUES ('city', g.city), ('ageBand', g.age_band), ('device', g.device), ('tier', g.tier))
      AS v(dimension, value)
   GROUP BY g.campaign_id, v.dimension, v.value, g.day
   ORDER BY g.campaign_id, v.dimension, v.value, g.day;
END $$;
