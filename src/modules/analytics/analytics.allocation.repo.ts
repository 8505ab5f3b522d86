import type { Queryable } from '../../platform/db.ts';

export type AllocationSettings = { enabled: boolean; floor: number; updatedAt: Date };
export type AllocationChange = {
  at: Date;
  weights: Record<string, number>;
  probabilityBest: Record<string, number>;
  units: Record<string, { exposed: number; converted: number }>;
};

export async function findSettings(
  db: Queryable,
  campaignId: string,
): Promise<AllocationSettings | undefined> {
  const { rows } = await db.query<AllocationSettings>(
    `SELECT enabled, floor, updated_at AS "updatedAt" FROM analytics_allocation_settings WHERE campaign_id = $1`,
    [campaignId],
  );
  return rows[0];
}

export async function saveSettings(db: Queryable, campaignId: string, enabled: boolean, floor: number) {
  await db.query(
    `INSERT INTO analytics_allocation_settings (campaign_id, enabled, floor) VALUES ($1, $2, $3)
     ON CONFLICT (campaign_id) DO UPDATE SET enabled = $2, floor = $3, updated_at = now()`,
    [campaignId, enabled, floor],
  );
}

export async function history(db: Queryable, campaignId: string, limit: number): Promise<AllocationChange[]> {
  const { rows } = await db.query<AllocationChange>(
    `SELECT at, weights, probability_best AS "probabilityBest", units FROM analytics_allocation_history
      WHERE campaign_id = $1 ORDER BY at DESC LIMIT $2`,
    [campaignId, limit],
  );
  return rows;
}

/** Running campaigns that opted in and have two variants or more. */
export async function adaptiveCampaigns(
  db: Queryable,
): Promise<{ id: string; merchantId: string; floor: number }[]> {
  const { rows } = await db.query<{ id: string; merchantId: string; floor: number }>(
    `SELECT c.id, c.merchant_id AS "merchantId", s.floor
       FROM analytics_allocation_settings s JOIN campaigns c ON c.id = s.campaign_id
      WHERE s.enabled AND c.status = 'running'
        AND (SELECT count(*) FROM campaign_variants v WHERE v.campaign_id = c.id) >= 2`,
  );
  return rows;
}

/** Sets the weights new sends use and records the change, in the caller's transaction. */
export async function applyWeights(db: Queryable, campaignId: string, change: Omit<AllocationChange, 'at'>) {
  await db.query(
    `UPDATE campaign_variants v SET weight = w.weight::integer
       FROM jsonb_each_text($2::jsonb) AS w(name, weight) WHERE v.campaign_id = $1 AND v.name = w.name
        AND v.weight <> w.weight::integer`,
    [campaignId, JSON.stringify(change.weights)],
  );
  await db.query(
    `INSERT INTO analytics_allocation_history (campaign_id, weights, probability_best, units)
     VALUES ($1, $2, $3, $4)`,
    [
      campaignId,
      JSON.stringify(change.weights),
      JSON.stringify(change.probabilityBest),
      JSON.stringify(change.units),
    ],
  );
}
