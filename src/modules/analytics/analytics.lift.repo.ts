import type { Queryable } from '../../platform/db.ts';
import { audienceWhere, type Segment } from '../customers/customers.repo.ts';
import type { Channel } from '../notifications/notifications.channels.ts';

export type LiftRow = {
  treatedCustomers: number;
  treatedRevenue: number;
  treatedRevenueSq: number;
  holdoutCustomers: number;
  holdoutRevenue: number;
  holdoutRevenueSq: number;
  since: Date;
  until: Date;
  computedAt: Date;
};

/** Campaigns with a holdout whose baseline is missing or may have moved since it was computed. */
export async function campaignsNeedingLift(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT c.id FROM campaigns c LEFT JOIN analytics_lift l ON l.campaign_id = c.id
      WHERE c.holdout_pct > 0 AND c.status IN ('running', 'paused', 'completed')
        AND (l.campaign_id IS NULL OR c.status <> 'completed' OR l.until < coalesce(c.ends_at, c.updated_at))`,
  );
  return rows.map((r) => r.id);
}

type LiftCampaign = {
  id: string;
  merchantId: string;
  segment: Segment;
  channel: Channel;
  holdoutPct: number;
  startsAt: Date | null;
  endsAt: Date | null;
  createdAt: Date;
};

/**
 * Recomputes a campaign's baseline: its audience split by the holdout rule, and per arm the
 * customers' revenue at the merchant from the campaign's first send (or start) until its end.
 * Every audience member counts, with 0 revenue when it bought nothing.
 */
export async function computeLift(db: Queryable, c: LiftCampaign): Promise<void> {
  const { rows } = await db.query<{ since: Date }>(
    `SELECT coalesce((SELECT min(coalesce(started_at, created_at)) FROM notification_sends WHERE campaign_id = $1),
                     $2::timestamptz, $3::timestamptz) AS since`,
    [c.id, c.startsAt, c.createdAt],
  );
  const since = rows[0]!.since;
  const until = c.endsAt && c.endsAt.getTime() < Date.now() ? c.endsAt : new Date();
  const audience = audienceWhere(c.merchantId, c.segment, c.channel, 5);
  await db.query(
    `WITH rev AS (
       SELECT customer_id, sum(amount) AS r FROM transactions
        WHERE merchant_id = $2 AND occurred_at >= $3 AND occurred_at < $4 GROUP BY customer_id
     ),
     arms AS (
       SELECT swipesavvy_is_treated(c.id, $1::uuid, (SELECT holdout_pct FROM campaigns WHERE id = $1)) AS treated,
              count(*) AS n, coalesce(sum(rev.r), 0) AS s, coalesce(sum(rev.r * rev.r), 0) AS ss
         FROM customers c LEFT JOIN rev ON rev.customer_id = c.id
        WHERE ${audience.sql}
        GROUP BY 1
     )
     INSERT INTO analytics_lift (campaign_id, treated_customers, treated_revenue, treated_revenue_sq,
                                 holdout_customers, holdout_revenue, holdout_revenue_sq, since, until, computed_at)
     SELECT $1, coalesce(max(n) FILTER (WHERE treated), 0), coalesce(max(s) FILTER (WHERE treated), 0),
            coalesce(max(ss) FILTER (WHERE treated), 0), coalesce(max(n) FILTER (WHERE NOT treated), 0),
            coalesce(max(s) FILTER (WHERE NOT treated), 0), coalesce(max(ss) FILTER (WHERE NOT treated), 0),
            $3, $4, now()
       FROM arms
     ON CONFLICT (campaign_id) DO UPDATE SET
       treated_customers = excluded.treated_customers, treated_revenue = excluded.treated_revenue,
       treated_revenue_sq = excluded.treated_revenue_sq, holdout_customers = excluded.holdout_customers,
       holdout_revenue = excluded.holdout_revenue, holdout_revenue_sq = excluded.holdout_revenue_sq,
       since = excluded.since, until = excluded.until, computed_at = excluded.computed_at`,
    [c.id, c.merchantId, since, until, ...audience.params],
  );
}
