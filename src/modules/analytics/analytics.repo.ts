import type { Queryable } from '../../platform/db.ts';
import type { SegmentKey } from './analytics.schema.ts';

export type Counts = {
  impressions: number;
  opens: number;
  clicks: number;
  conversions: number;
  transactions: number;
  revenue: number;
  messagesSent: number;
};

const sums = `sum(impressions)::bigint AS impressions, sum(opens)::bigint AS opens, sum(clicks)::bigint AS clicks,
  sum(conversions)::bigint AS conversions, sum(transactions)::bigint AS transactions,
  coalesce(sum(revenue), 0)::numeric AS revenue, sum(sent)::bigint AS "messagesSent"`;

/** Counts per campaign of the merchant (all campaigns, or the given ones), from the daily rollup. */
export async function campaignCounts(
  db: Queryable,
  merchantId: string,
  campaignIds?: string[],
): Promise<Map<string, Counts>> {
  const filter = campaignIds ? 'AND campaign_id = ANY($2::uuid[])' : '';
  const params = campaignIds ? [merchantId, campaignIds] : [merchantId];
  const { rows } = await db.query<Counts & { campaignId: string }>({
    name: campaignIds ? 'campaign-counts-some' : 'campaign-counts-all',
    text: `SELECT campaign_id AS "campaignId", ${sums}
       FROM analytics_daily WHERE merchant_id = $1 ${filter}
      GROUP BY campaign_id`,
    values: params,
  });
  return new Map(rows.map(({ campaignId, ...counts }) => [campaignId, counts]));
}

export type Interval = 'hour' | 'day';
export type SeriesPoint = Counts & { at: Date };

/** A campaign's counts per hour or day (UTC) from `since`, from the hourly rollup. */
export async function campaignSeries(
  db: Queryable,
  campaignId: string,
  interval: Interval,
  since: Date,
): Promise<SeriesPoint[]> {
  const { rows } = await db.query<SeriesPoint>({
    name: 'campaign-series',
    text: `SELECT date_trunc($2, hour, 'UTC') AS at, ${sums}
       FROM analytics_hourly WHERE campaign_id = $1 AND hour >= $3
      GROUP BY 1 ORDER BY 1`,
    values: [campaignId, interval, since],
  });
  return rows;
}

/** The merchant's counts per day (UTC) from `since`, over all its campaigns. */
export async function portfolioSeries(
  db: Queryable,
  merchantId: string,
  since: Date,
): Promise<SeriesPoint[]> {
  const { rows } = await db.query<SeriesPoint>({
    name: 'portfolio-series',
    text: `SELECT day::timestamp AT TIME ZONE 'UTC' AS at, ${sums}
       FROM analytics_daily WHERE merchant_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
      GROUP BY day ORDER BY day`,
    values: [merchantId, since],
  });
  return rows;
}

// The API's segment names are the rollup's dimension names; only these reach the SQL, as a parameter.
export async function segmentCounts(
  db: Queryable,
  campaignId: string,
  by: SegmentKey,
): Promise<(Counts & { segment: string })[]> {
  const { rows } = await db.query<Counts & { segment: string }>(
    `SELECT value AS segment, ${sums}
       FROM analytics_segments_daily WHERE campaign_id = $1 AND dimension = $2
      GROUP BY value ORDER BY value`,
    [campaignId, by],
  );
  return rows;
}

export type VariantUnits = Counts & { variant: string; exposed: number; converted: number };

/** Per variant: unique customers exposed and converted, and the event counts. */
export async function variantUnits(db: Queryable, campaignId: string): Promise<VariantUnits[]> {
  const { rows } = await db.query<VariantUnits>(
    `SELECT v.name AS variant, coalesce(u.exposed, 0)::bigint AS exposed, coalesce(u.converted, 0)::bigint AS converted,
            coalesce(h.impressions, 0)::bigint AS impressions, coalesce(h.opens, 0)::bigint AS opens,
            coalesce(h.clicks, 0)::bigint AS clicks, coalesce(h.conversions, 0)::bigint AS conversions,
            coalesce(h.transactions, 0)::bigint AS transactions, coalesce(h.revenue, 0)::numeric AS revenue,
            coalesce(h."messagesSent", 0)::bigint AS "messagesSent"
       FROM campaign_variants v
       LEFT JOIN analytics_variant_units u ON u.campaign_id = v.campaign_id AND u.variant = v.name
       LEFT JOIN (SELECT variant, ${sums} FROM analytics_hourly WHERE campaign_id = $1 GROUP BY variant) h
              ON h.variant = v.name
      WHERE v.campaign_id = $1 ORDER BY v.position`,
    [campaignId],
  );
  return rows;
}

export type EventRow = {
  id: string;
  type: string;
  campaignId: string;
  variant: string | null;
  customerId: string;
  at: string;
};

/** Which of the given campaigns, variants and customers belong to the merchant. */
export async function ownedReferences(
  db: Queryable,
  merchantId: string,
  campaignIds: string[],
  customerIds: string[],
) {
  const [campaigns, customers] = await Promise.all([
    db.query<{ id: string; variants: string[] }>(
      `SELECT c.id, coalesce(array_agg(v.name) FILTER (WHERE v.name IS NOT NULL), '{}') AS variants
         FROM campaigns c LEFT JOIN campaign_variants v ON v.campaign_id = c.id
        WHERE c.merchant_id = $1 AND c.id = ANY($2::uuid[]) GROUP BY c.id`,
      [merchantId, campaignIds],
    ),
    db.query<{ id: string }>('SELECT id FROM customers WHERE merchant_id = $1 AND id = ANY($2::uuid[])', [
      merchantId,
      customerIds,
    ]),
  ]);
  return {
    variants: new Map(campaigns.rows.map((r) => [r.id, new Set(r.variants)])),
    customers: new Set(customers.rows.map((r) => r.id)),
  };
}

/**
 * Stores the events whose ids the merchant has not sent before (event_ids guards ids across
 * partitions); the rollup trigger counts them in the same statement. `events` must not repeat an id.
 */
export async function insertEvents(db: Queryable, merchantId: string, events: EventRow[]): Promise<number> {
  const { rowCount } = await db.query(
    `WITH x AS (
       SELECT * FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::timestamptz[])
         AS x(id, type, campaign_id, variant, customer_id, occurred_at)
     ),
     fresh AS (
       INSERT INTO event_ids (merchant_id, id) SELECT $1, id FROM x ON CONFLICT DO NOTHING RETURNING id
     )
     INSERT INTO events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at)
     SELECT $1, x.id, x.type, x.campaign_id, x.variant, x.customer_id, x.occurred_at FROM x JOIN fresh USING (id)`,
    [
      merchantId,
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.campaignId),
      events.map((e) => e.variant),
      events.map((e) => e.customerId),
      events.map((e) => e.at),
    ],
  );
  return rowCount ?? 0;
}

export type TransactionRow = { id: string; customerId: string; amount: number; currency: string; at: string };

/**
 * Stores transactions, each attributed to the campaign whose touch reached the customer last
 * before it, within that campaign's attribution window.
 */
export async function insertTransactions(
  db: Queryable,
  merchantId: string,
  txs: TransactionRow[],
): Promise<{ inserted: number; attributed: number }> {
  const { rows } = await db.query<{ inserted: number; attributed: number }>(
    `WITH ins AS (
       INSERT INTO transactions (merchant_id, id, customer_id, amount, currency, occurred_at, campaign_id, variant)
       SELECT $1, x.id, x.customer_id, round(x.amount, 2), x.currency, x.at, touch.campaign_id,
              CASE WHEN touch.campaign_id IS NOT NULL THEN coalesce(touch.variant,
                (SELECT min(variant) FROM analytics_exposures ex
                  WHERE ex.campaign_id = touch.campaign_id AND ex.customer_id = x.customer_id)) END
         FROM unnest($2::text[], $3::uuid[], $4::numeric[], $5::text[], $6::timestamptz[])
              AS x(id, customer_id, amount, currency, at)
         LEFT JOIN LATERAL (
           -- 90 days is the longest window a campaign may have: it lets the planner skip older partitions
           SELECT e.campaign_id, e.variant FROM events e JOIN campaigns c ON c.id = e.campaign_id
            WHERE e.merchant_id = $1 AND e.customer_id = x.customer_id AND e.occurred_at <= x.at
              AND e.occurred_at > x.at - interval '90 days'
              AND e.occurred_at > x.at - make_interval(days => c.attribution_window_days)
            ORDER BY e.occurred_at DESC LIMIT 1
         ) touch ON true
       ON CONFLICT DO NOTHING
       RETURNING campaign_id
     )
     SELECT count(*) AS inserted, count(campaign_id) AS attributed FROM ins`,
    [
      merchantId,
      txs.map((t) => t.id),
      txs.map((t) => t.customerId),
      txs.map((t) => t.amount),
      txs.map((t) => t.currency),
      txs.map((t) => t.at),
    ],
  );
  return rows[0]!;
}

/** Creates the monthly event partitions from this month to `months` ahead; returns their names. */
export async function ensurePartitions(db: Queryable, months: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('SELECT swipesavvy_event_partitions_ahead($1) AS name', [
    months,
  ]);
  return rows.map((r) => r.name);
}
