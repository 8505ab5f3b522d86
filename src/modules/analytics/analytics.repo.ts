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

const eventCounts = `count(*) FILTER (WHERE e.type = 'impression') AS impressions,
  count(*) FILTER (WHERE e.type = 'open') AS opens,
  count(*) FILTER (WHERE e.type = 'click') AS clicks,
  count(*) FILTER (WHERE e.type = 'conversion') AS conversions`;

/** Counts per campaign of the merchant (all campaigns, or the given ones), computed from stored rows. */
export async function campaignCounts(
  db: Queryable,
  merchantId: string,
  campaignIds?: string[],
): Promise<Map<string, Counts>> {
  const filter = campaignIds ? 'AND campaign_id = ANY($2::uuid[])' : '';
  const params = campaignIds ? [merchantId, campaignIds] : [merchantId];
  const { rows } = await db.query<Counts & { campaignId: string }>(
    `SELECT campaign_id AS "campaignId",
            sum(impressions)::bigint AS impressions, sum(opens)::bigint AS opens, sum(clicks)::bigint AS clicks,
            sum(conversions)::bigint AS conversions, sum(transactions)::bigint AS transactions,
            coalesce(sum(revenue), 0)::numeric AS revenue, sum(sent)::bigint AS "messagesSent"
       FROM (
         SELECT e.campaign_id, ${eventCounts}, 0 AS transactions, 0 AS revenue, 0 AS sent
           FROM events e WHERE e.merchant_id = $1 ${filter.replace('campaign_id', 'e.campaign_id')}
          GROUP BY e.campaign_id
         UNION ALL
         SELECT campaign_id, 0, 0, 0, 0, count(*), sum(amount), 0
           FROM transactions WHERE merchant_id = $1 AND campaign_id IS NOT NULL ${filter}
          GROUP BY campaign_id
         UNION ALL
         SELECT campaign_id, 0, 0, 0, 0, 0, 0, count(*)
           FROM notifications WHERE merchant_id = $1 AND kind = 'campaign' AND status IN ('sent', 'delivered') ${filter}
          GROUP BY campaign_id
       ) x
      GROUP BY campaign_id`,
    params,
  );
  return new Map(rows.map(({ campaignId, ...counts }) => [campaignId, counts]));
}

const segmentColumn: Record<SegmentKey, string> = {
  city: 'city',
  ageBand: 'age_band',
  device: 'device',
  tier: 'tier',
};

/** The same counts for one campaign, by a customer attribute (from the allowlist above). */
export async function segmentCounts(
  db: Queryable,
  merchantId: string,
  campaignId: string,
  by: SegmentKey,
): Promise<(Counts & { segment: string })[]> {
  const col = `coalesce(cu.${segmentColumn[by]}, 'unknown')`;
  const { rows } = await db.query<Counts & { segment: string }>(
    `SELECT segment,
            sum(impressions)::bigint AS impressions, sum(opens)::bigint AS opens, sum(clicks)::bigint AS clicks,
            sum(conversions)::bigint AS conversions, sum(transactions)::bigint AS transactions,
            coalesce(sum(revenue), 0)::numeric AS revenue, sum(sent)::bigint AS "messagesSent"
       FROM (
         SELECT ${col} AS segment, ${eventCounts}, 0 AS transactions, 0 AS revenue, 0 AS sent
           FROM events e JOIN customers cu ON cu.id = e.customer_id
          WHERE e.merchant_id = $1 AND e.campaign_id = $2 GROUP BY 1
         UNION ALL
         SELECT ${col}, 0, 0, 0, 0, count(*), sum(t.amount), 0
           FROM transactions t JOIN customers cu ON cu.id = t.customer_id
          WHERE t.merchant_id = $1 AND t.campaign_id = $2 GROUP BY 1
         UNION ALL
         SELECT ${col}, 0, 0, 0, 0, 0, 0, count(*)
           FROM notifications n JOIN customers cu ON cu.id = n.customer_id
          WHERE n.merchant_id = $1 AND n.campaign_id = $2 AND n.status IN ('sent', 'delivered') GROUP BY 1
       ) x
      GROUP BY segment ORDER BY segment`,
    [merchantId, campaignId],
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

export async function insertEvents(db: Queryable, merchantId: string, events: EventRow[]): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::timestamptz[])
     ON CONFLICT DO NOTHING`,
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
       INSERT INTO transactions (merchant_id, id, customer_id, amount, currency, occurred_at, campaign_id)
       SELECT $1, x.id, x.customer_id, round(x.amount, 2), x.currency, x.at,
              (SELECT e.campaign_id FROM events e JOIN campaigns c ON c.id = e.campaign_id
                WHERE e.merchant_id = $1 AND e.customer_id = x.customer_id AND e.occurred_at <= x.at
                  AND e.occurred_at > x.at - make_interval(days => c.attribution_window_days)
                ORDER BY e.occurred_at DESC LIMIT 1)
         FROM unnest($2::text[], $3::uuid[], $4::numeric[], $5::text[], $6::timestamptz[])
              AS x(id, customer_id, amount, currency, at)
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
