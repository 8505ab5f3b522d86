-- The events' rollup trigger upserts the experiment-unit counters (analytics_variant_units, a row
-- per campaign and variant that nearly every batch updates) last instead of first. Rows a batch
-- updates stay locked until it commits, so a concurrent batch waits from the first shared row it
-- meets; with the counters first, that wait covered the whole rollup statement (customer lookups,
-- grouping and upserts). Now the customer lookups and grouping happen before any shared row is
-- locked. All batches still lock the shared rows in the same order (segments, hours, days, totals,
-- units), each table in key order.
--
-- The events' rollup trigger adds the experiment units seen without a conversion (nearly all) by
-- INSERT … ON CONFLICT DO NOTHING, without the read-only probe of analytics_exposures before it:
-- the probe was one more index descent per unit of the batch, and DO NOTHING, unlike DO UPDATE,
-- locks no existing row. Units converting keep the probe and the upsert. Same counts (the rollup
-- property test compares them with a full aggregate, concurrent batches included).
CREATE OR REPLACE FUNCTION analytics_events_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  units jsonb;
BEGIN
  -- A unit seen without a conversion is inserted unless known: ON CONFLICT DO NOTHING neither
  -- probes first nor locks the row it meets. A unit converting needs the upsert, which locks (so
  -- writes) every row it meets: a read-only probe drops the units already converted before it.
  -- A unit a concurrent batch is adding is invisible to the probe and reaches the insert, which
  -- waits for it and counts it once.
  WITH ev AS (
    SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion') AS converted
      FROM new_rows WHERE variant IS NOT NULL GROUP BY 1, 2, 3
  ),
  seen AS (
    INSERT INTO analytics_exposures AS x (campaign_id, customer_id, variant, converted)
    SELECT campaign_id, customer_id, variant, false FROM ev WHERE NOT converted ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, customer_id, variant) DO NOTHING
    RETURNING x.campaign_id, x.variant, false AS converted, true AS inserted
  ),
  todo AS (
    SELECT ev.* FROM ev
     WHERE ev.converted
       AND NOT EXISTS (SELECT 1 FROM analytics_exposures x
                        WHERE x.campaign_id = ev.campaign_id AND x.customer_id = ev.customer_id
                          AND x.variant = ev.variant AND x.converted)
  ),
  conv AS (
    INSERT INTO analytics_exposures AS x (campaign_id, customer_id, variant, converted)
    SELECT campaign_id, customer_id, variant, true FROM todo ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, customer_id, variant) DO UPDATE SET converted = true
      WHERE NOT x.converted
    RETURNING x.campaign_id, x.variant, x.converted, (xmax = 0) AS inserted
  ),
  up AS (SELECT * FROM seen UNION ALL SELECT * FROM conv)
  SELECT jsonb_agg(u) INTO units FROM (
    SELECT campaign_id, variant, count(*) FILTER (WHERE inserted) AS exposed, count(*) FILTER (WHERE converted) AS converted
      FROM up GROUP BY 1, 2
  ) u;

  EXECUTE analytics_rollup_sql($q$
    SELECT merchant_id, campaign_id, coalesce(variant, '') AS variant, customer_id, occurred_at AS at,
           (type = 'impression')::int AS impressions, (type = 'open')::int AS opens, (type = 'click')::int AS clicks,
           (type = 'conversion')::int AS conversions, 0 AS transactions, 0::numeric AS revenue, 0 AS sent
      FROM new_rows
  $q$);

  IF units IS NOT NULL THEN
    INSERT INTO analytics_variant_units AS u (campaign_id, variant, exposed, converted)
    SELECT campaign_id, variant, exposed, converted
      FROM jsonb_to_recordset(units) AS x(campaign_id uuid, variant text, exposed bigint, converted bigint)
     ORDER BY 1, 2
    ON CONFLICT (campaign_id, variant) DO UPDATE SET
      exposed = u.exposed + excluded.exposed, converted = u.converted + excluded.converted;
  END IF;
  RETURN NULL;
END $$;
