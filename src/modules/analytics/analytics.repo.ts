import type { Queryable } from '../../platform/db.ts';
import { PgErrors, pgErrorCode } from '../../platform/errors.ts';
import { type CampaignRow, campaignColumns } from '../campaigns/campaigns.repo.ts';
import type { LiftRow } from './analytics.lift.repo.ts';
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

export type Interval = 'hour' | 'day';
export type SeriesPoint = Counts & { at: Date };

/** The merchant's counts per day (UTC) from `since`, over all its campaigns. */
export async function portfolioSeries(
  db: Queryable,
  merchantId: string,
  since: Date,
): Promise<SeriesPoint[]> {
  const { rows } = await db.query<SeriesPoint>({
    name: 'portfolio-series',
    text: `SELECT day::timestamp AT TIME ZONE 'UTC' AS at, ${sums}
       FROM analytics_merchant_daily WHERE merchant_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
      GROUP BY day ORDER BY day`,
    values: [merchantId, since],
  });
  return rows;
}

export type VariantUnits = Counts & { variant: string; exposed: number; converted: number };

/** Per variant: unique customers exposed and converted, and the event counts. */
export async function variantUnits(db: Queryable, campaignId: string): Promise<VariantUnits[]> {
  const { rows } = await db.query<VariantUnits>({
    name: 'variant-units',
    text: `SELECT v.name AS variant, coalesce(u.exposed, 0)::bigint AS exposed, coalesce(u.converted, 0)::bigint AS converted,
            coalesce(h.impressions, 0)::bigint AS impressions, coalesce(h.opens, 0)::bigint AS opens,
            coalesce(h.clicks, 0)::bigint AS clicks, coalesce(h.conversions, 0)::bigint AS conversions,
            coalesce(h.transactions, 0)::bigint AS transactions, coalesce(h.revenue, 0)::numeric AS revenue,
            coalesce(h."messagesSent", 0)::bigint AS "messagesSent"
       FROM campaign_variants v
       LEFT JOIN analytics_variant_units u ON u.campaign_id = v.campaign_id AND u.variant = v.name
       LEFT JOIN (SELECT variant, ${sums} FROM analytics_hourly WHERE campaign_id = $1 GROUP BY variant) h
              ON h.variant = v.name
      WHERE v.campaign_id = $1 ORDER BY v.position`,
    values: [campaignId],
  });
  return rows;
}

// The reads behind the campaign analytics routes, each one named statement and one round trip:
// the campaign (scoped to the merchant) with what the route shows, from the rollups only
// (all-time counts from analytics_totals, one row per campaign; a merchant's days from
// analytics_merchant_daily, one row per day).

const countsJson = (from: string) => `(SELECT json_build_object('impressions', coalesce(sum(impressions), 0),
    'opens', coalesce(sum(opens), 0), 'clicks', coalesce(sum(clicks), 0), 'conversions', coalesce(sum(conversions), 0),
    'transactions', coalesce(sum(transactions), 0), 'revenue', coalesce(sum(revenue), 0), 'messagesSent', coalesce(sum(sent), 0))
   FROM ${from})`;

// A series point as the statement sends it: [epoch ms, impressions, opens, clicks, conversions,
// transactions, revenue, messages sent]. An array per point, not an object: PostgreSQL turns a
// record into JSON several times slower (a type lookup per column per row), and a timestamp into
// text slower still; 168 hourly points made that most of the read's database time.
type SeriesTuple = [number, number, number, number, number, number, number, number];

/** The points of `select` (columns `at` and the sums), in time order, as one JSON array of tuples. */
const seriesTuples = (select: string) =>
  `(SELECT coalesce(json_agg(json_build_array(date_part('epoch', s.at) * 1000, s.impressions, s.opens, s.clicks,
      s.conversions, s.transactions, s.revenue, s."messagesSent") ORDER BY s.at), '[]') FROM (${select}) s)`;

const toPoints = (tuples: SeriesTuple[]): SeriesPoint[] =>
  tuples.map(([at, impressions, opens, clicks, conversions, transactions, revenue, messagesSent]) => ({
    at: new Date(at),
    impressions,
    opens,
    clicks,
    conversions,
    transactions,
    revenue,
    messagesSent,
  }));
type LiftJson = Omit<LiftRow, 'since' | 'until' | 'computedAt'> & {
  since: string;
  until: string;
  computedAt: string;
};

/** A campaign with its all-time counts: the read behind GET /api/campaigns/{id}. */
export async function campaignWithCounts(
  db: Queryable,
  merchantId: string,
  campaignId: string,
): Promise<(CampaignRow & { counts: Counts }) | undefined> {
  const { rows } = await db.query<CampaignRow & { counts: Counts }>({
    name: 'campaign-with-counts',
    text: `SELECT ${campaignColumns}, ${countsJson('analytics_totals t WHERE t.campaign_id = c.id')} AS counts
             FROM campaigns c WHERE c.id = $1 AND c.merchant_id = $2`,
    values: [campaignId, merchantId],
  });
  return rows[0];
}

// One statement per interval, not one with a branch per interval chosen by a parameter: with the
// branch, PostgreSQL's plan of the parameter's value prunes the other one, so it always looked
// cheaper than the generic plan and every execution was planned again (a custom plan each time,
// planning about as long as executing for the hourly series). Each statement alone gets its
// generic plan after five executions and is not planned again.
const campaignMetricsSql = (series: string) => `SELECT ${campaignColumns},
       ${countsJson('analytics_totals t WHERE t.campaign_id = c.id')} AS counts,
       ${seriesTuples(series)} AS series,
       (SELECT json_build_object('treatedCustomers', treated_customers, 'treatedRevenue', treated_revenue,
                 'treatedRevenueSq', treated_revenue_sq, 'holdoutCustomers', holdout_customers,
                 'holdoutRevenue', holdout_revenue, 'holdoutRevenueSq', holdout_revenue_sq,
                 'since', since, 'until', until, 'computedAt', computed_at)
          FROM analytics_lift l WHERE l.campaign_id = c.id) AS lift
       FROM campaigns c WHERE c.id = $1 AND c.merchant_id = $2`;
// hours from the hourly rollup; days from the daily one (a row per day, not 24 per variant)
const campaignMetricsText: Record<Interval, string> = {
  // `(SELECT $3)`: a bound no plan can estimate from the value, so the generic plan is costed like
  // the custom one (with `>= $3` the custom plan estimated fewer rows and always won)
  hour: campaignMetricsSql(`SELECT hour AS at, ${sums} FROM analytics_hourly h
          WHERE h.campaign_id = c.id AND h.hour >= (SELECT $3::timestamptz) GROUP BY 1`),
  day: campaignMetricsSql(`SELECT day::timestamp AT TIME ZONE 'UTC' AS at, ${sums} FROM analytics_daily d
          WHERE d.campaign_id = c.id AND d.day >= ($3::timestamptz AT TIME ZONE 'UTC')::date GROUP BY 1`),
};

/**
 * A campaign with its all-time counts, its series per hour from `since` or per UTC day from the
 * day of `since`, and its holdout baseline.
 */
export async function campaignMetrics(
  db: Queryable,
  merchantId: string,
  campaignId: string,
  interval: Interval,
  since: Date,
): Promise<(CampaignRow & { counts: Counts; series: SeriesPoint[]; lift: LiftRow | undefined }) | undefined> {
  const { rows } = await db.query<
    CampaignRow & { counts: Counts; series: SeriesTuple[]; lift: LiftJson | null }
  >({
    name: `campaign-metrics-${interval}`,
    text: campaignMetricsText[interval],
    values: [campaignId, merchantId, since],
  });
  const row = rows[0];
  if (!row) return undefined;
  const { lift, series, ...rest } = row;
  return {
    ...rest,
    series: toPoints(series),
    lift: lift
      ? {
          ...lift,
          since: new Date(lift.since),
          until: new Date(lift.until),
          computedAt: new Date(lift.computedAt),
        }
      : undefined,
  };
}

/** A campaign with its counts by one segment dimension. */
export async function campaignSegments(
  db: Queryable,
  merchantId: string,
  campaignId: string,
  by: SegmentKey,
): Promise<(CampaignRow & { segments: (Counts & { segment: string })[] }) | undefined> {
  const { rows } = await db.query<CampaignRow & { segments: (Counts & { segment: string })[] }>({
    name: 'campaign-segments',
    text: `SELECT ${campaignColumns},
       (SELECT coalesce(json_agg(s ORDER BY s.segment), '[]') FROM (
          SELECT value AS segment, ${sums} FROM analytics_segments_daily sd
           WHERE sd.campaign_id = c.id AND sd.dimension = $3 GROUP BY value) s) AS segments
       FROM campaigns c WHERE c.id = $1 AND c.merchant_id = $2`,
    values: [campaignId, merchantId, by],
  });
  return rows[0];
}

/** A campaign with its variants' units and counts, and whether it allocates adaptively. */
export async function campaignExperiment(
  db: Queryable,
  merchantId: string,
  campaignId: string,
): Promise<(CampaignRow & { units: VariantUnits[]; adaptive: boolean }) | undefined> {
  const { rows } = await db.query<CampaignRow & { units: VariantUnits[]; adaptive: boolean }>({
    name: 'campaign-experiment',
    text: `SELECT ${campaignColumns},
       (SELECT coalesce(json_agg(json_build_object('variant', v.name, 'exposed', coalesce(u.exposed, 0),
                 'converted', coalesce(u.converted, 0), 'impressions', coalesce(h.impressions, 0),
                 'opens', coalesce(h.opens, 0), 'clicks', coalesce(h.clicks, 0),
                 'conversions', coalesce(h.conversions, 0), 'transactions', coalesce(h.transactions, 0),
                 'revenue', coalesce(h.revenue, 0), 'messagesSent', coalesce(h."messagesSent", 0)) ORDER BY v.position), '[]')
          FROM campaign_variants v
          LEFT JOIN analytics_variant_units u ON u.campaign_id = v.campaign_id AND u.variant = v.name
          LEFT JOIN (SELECT variant, ${sums} FROM analytics_hourly WHERE campaign_id = $1 GROUP BY variant) h
                 ON h.variant = v.name
         WHERE v.campaign_id = c.id) AS units,
       coalesce((SELECT enabled FROM analytics_allocation_settings a WHERE a.campaign_id = c.id), false) AS adaptive
       FROM campaigns c WHERE c.id = $1 AND c.merchant_id = $2`,
    values: [campaignId, merchantId],
  });
  return rows[0];
}

type PortfolioCampaign = Counts & {
  id: string;
  name: string;
  status: string;
  unitCost: number;
  rewardRate: number;
};

/**
 * Every campaign of the merchant (newest first) with its all-time counts, and the merchant's
 * counts per UTC day from the day of `since`: the portfolio in one statement.
 */
export async function portfolio(
  db: Queryable,
  merchantId: string,
  since: Date,
): Promise<{ campaigns: PortfolioCampaign[]; trend: SeriesPoint[] }> {
  const { rows } = await db.query<{ campaigns: PortfolioCampaign[]; trend: SeriesTuple[] }>({
    name: 'portfolio',
    text: `SELECT
       (SELECT coalesce(json_agg(x ORDER BY x."createdAt" DESC, x.id DESC), '[]') FROM (
          SELECT c.id, c.name, c.status, c.unit_cost AS "unitCost", c.reward_rate AS "rewardRate",
                 c.created_at AS "createdAt", coalesce(sum(d.impressions), 0) AS impressions,
                 coalesce(sum(d.opens), 0) AS opens, coalesce(sum(d.clicks), 0) AS clicks,
                 coalesce(sum(d.conversions), 0) AS conversions, coalesce(sum(d.transactions), 0) AS transactions,
                 coalesce(sum(d.revenue), 0) AS revenue, coalesce(sum(d.sent), 0) AS "messagesSent"
            FROM campaigns c LEFT JOIN analytics_totals d ON d.campaign_id = c.id
           WHERE c.merchant_id = $1 GROUP BY c.id) x) AS campaigns,
       ${seriesTuples(`
          SELECT day::timestamp AT TIME ZONE 'UTC' AS at, ${sums}
            FROM analytics_merchant_daily WHERE merchant_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
           GROUP BY day`)} AS trend`,
    values: [merchantId, since],
  });
  const row = rows[0]!;
  return { campaigns: row.campaigns, trend: toPoints(row.trend) };
}

export type EventRow = {
  id: string;
  type: string;
  campaignId: string;
  variant?: string | null;
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
 * What a batch's references are: each named campaign of the merchant with its variants, and the
 * named customers that are not the merchant's (usually none, so little comes back). Ids travel as
 * comma-separated text (validated uuids), which is cheaper to send than a 10,000-element array.
 */
export async function eventReferences(
  db: Queryable,
  merchantId: string,
  campaignIds: string[],
  customerIds: string[],
): Promise<{ variants: Map<string, Set<string>>; missingCustomers: Set<string> }> {
  const { rows } = await db.query<{ variants: [string, string | null][]; missing: string[] }>({
    name: 'events-references',
    text: `SELECT
       (SELECT coalesce(json_agg(json_build_array(c.id, v.name)), '[]')
          FROM campaigns c LEFT JOIN campaign_variants v ON v.campaign_id = c.id
         WHERE c.merchant_id = $1 AND c.id = ANY (string_to_array($2, ',')::uuid[])) AS variants,
       (SELECT coalesce(json_agg(m.id), '[]') FROM (
          SELECT unnest(string_to_array($3, ',')::uuid[])
          EXCEPT SELECT id FROM customers WHERE merchant_id = $1 AND id = ANY (string_to_array($3, ',')::uuid[])
        ) m(id)) AS missing`,
    values: [merchantId, campaignIds.join(','), customerIds.join(',')],
  });
  const variants = new Map<string, Set<string>>();
  for (const [campaignId, name] of rows[0]!.variants) {
    const names = variants.get(campaignId) ?? new Set<string>();
    variants.set(campaignId, names);
    if (name !== null) names.add(name);
  }
  return { variants, missingCustomers: new Set(rows[0]!.missing) };
}

const eventsFromJson = `SELECT * FROM json_to_recordset($2::json -> 'events')
  AS x(id text, type text, "campaignId" uuid, variant text, "customerId" uuid, at timestamptz)`;

/**
 * Stores the events whose ids the merchant has not sent before (event_ids guards ids across
 * partitions); the rollup trigger counts them in the same statement. `json` is `{"events": [...]}`
 * with items of EventRow's keys (variant may be absent), no id twice. Runs in the caller's
 * transaction. First as if every id were new, the common case (resends are rare): event_ids' key
 * checks each id in the descent that inserts it, instead of a probe of the index and then an
 * insert. A batch with an id already stored fails on that key and is rolled back to the savepoint,
 * then stored without the known ids. Two batches storing the same new id at once: the second
 * fails on event_ids' key (23505) there too and is retried by the caller, when it finds the id stored.
 */
export async function insertEvents(db: Queryable, merchantId: string, json: string): Promise<number> {
  await db.query('SAVEPOINT events_insert');
  try {
    const { rows } = await db.query<{ accepted: number }>({
      name: 'events-insert-new',
      text: `WITH x AS (${eventsFromJson}),
       ids AS (
         INSERT INTO event_ids (merchant_id, id) SELECT $1, id FROM x
       ),
       stored AS (
         INSERT INTO events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at)
         SELECT $1, id, type, "campaignId", variant, "customerId", at FROM x
       )
       SELECT count(*)::int AS accepted FROM x`,
      values: [merchantId, json],
    });
    await db.query('RELEASE SAVEPOINT events_insert');
    return rows[0]!.accepted;
  } catch (error) {
    if (pgErrorCode(error) !== PgErrors.uniqueViolation) throw error;
    await db.query('ROLLBACK TO SAVEPOINT events_insert');
  }
  const { rows } = await db.query<{ accepted: number }>({
    name: 'events-insert',
    text: `WITH x AS (${eventsFromJson}),
     fresh AS (
       SELECT * FROM x WHERE NOT EXISTS (SELECT 1 FROM event_ids e WHERE e.key = swipesavvy_event_key($1, x.id))
     ),
     ids AS (
       INSERT INTO event_ids (merchant_id, id) SELECT $1, id FROM fresh
     ),
     stored AS (
       INSERT INTO events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at)
       SELECT $1, id, type, "campaignId", variant, "customerId", at FROM fresh
     )
     SELECT count(*)::int AS accepted FROM fresh`,
    values: [merchantId, json],
  });
  return rows[0]!.accepted;
}

/**
 * Holds the merchant row FOR KEY SHARE until the transaction ends: deleting the merchant, or its
 * customers or campaigns (whose triggers take the row FOR UPDATE before removing their events),
 * waits for the batch. false when the merchant is gone.
 */
export async function lockMerchantForIngest(db: Queryable, merchantId: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'merchant-ingest-lock',
    text: 'SELECT 1 FROM merchants WHERE id = $1 FOR KEY SHARE',
    values: [merchantId],
  });
  return rowCount === 1;
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
