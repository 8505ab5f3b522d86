import type { Queryable } from '../../platform/db.ts';
import type { Cursor } from '../../platform/pagination.ts';
import type { Segment } from '../customers/customers.repo.ts';
import type { Channel } from '../notifications/notifications.channels.ts';
import type {
  CampaignStatus,
  CreateCampaignBody,
  UpdateCampaignBody,
  VariantInput,
} from './campaigns.schema.ts';

/** A new campaign; the API creates draft, scheduled or running ones, the demo data any status. */
export type NewCampaign = Omit<CreateCampaignBody, 'status'> & { status?: CampaignStatus };

export type CampaignRow = {
  id: string;
  merchantId: string;
  name: string;
  description: string;
  channel: Channel;
  status: CampaignStatus;
  segment: Segment;
  budget: number;
  unitCost: number;
  rewardRate: number;
  holdoutPct: number;
  attributionWindowDays: number;
  startsAt: Date | null;
  endsAt: Date | null;
  variants: { name: string; weight: number; content: Record<string, string> }[];
  createdAt: Date;
  updatedAt: Date;
};

// variants: kept from campaign_variants by its triggers (migration 070), so no subquery per campaign
export const campaignColumns = `c.id, c.merchant_id AS "merchantId", c.name, c.description, c.channel, c.status, c.segment,
  c.budget, c.unit_cost AS "unitCost", c.reward_rate AS "rewardRate", c.holdout_pct AS "holdoutPct",
  c.attribution_window_days AS "attributionWindowDays", c.starts_at AS "startsAt", c.ends_at AS "endsAt",
  c.variants, c.created_at AS "createdAt", c.updated_at AS "updatedAt"`;

// Columns a PUT may set, from the body's camelCase names: the only names that reach the SQL.
const updatable: Record<string, string> = {
  name: 'name',
  description: 'description',
  channel: 'channel',
  status: 'status',
  segment: 'segment',
  budget: 'budget',
  unitCost: 'unit_cost',
  rewardRate: 'reward_rate',
  holdoutPct: 'holdout_pct',
  attributionWindowDays: 'attribution_window_days',
  startsAt: 'starts_at',
  endsAt: 'ends_at',
};

export async function insertCampaign(
  db: Queryable,
  merchantId: string,
  userId: string | null,
  c: NewCampaign,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO campaigns (merchant_id, name, description, channel, status, segment, budget, unit_cost, reward_rate,
                            holdout_pct, attribution_window_days, starts_at, ends_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [
      merchantId,
      c.name,
      c.description ?? '',
      c.channel,
      c.status ?? 'draft',
      c.segment ?? {},
      c.budget,
      c.unitCost ?? 0,
      c.rewardRate ?? 0,
      c.holdoutPct ?? 0,
      c.attributionWindowDays ?? 7,
      c.startsAt ?? null,
      c.endsAt ?? null,
      userId,
    ],
  );
  return rows[0]!.id;
}

export async function replaceVariants(
  db: Queryable,
  campaignId: string,
  variants: VariantInput[],
): Promise<void> {
  await db.query('DELETE FROM campaign_variants WHERE campaign_id = $1', [campaignId]);
  await db.query(
    `INSERT INTO campaign_variants (campaign_id, name, weight, content, position)
     SELECT $1, v.name, v.weight, v.content, v.position
       FROM jsonb_to_recordset($2::jsonb) AS v(name text, weight integer, content jsonb, position integer)`,
    [
      campaignId,
      JSON.stringify(variants.map((v, position) => ({ ...v, content: v.content ?? {}, position }))),
    ],
  );
}

export async function findCampaign(
  db: Queryable,
  merchantId: string,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>({
    name: options.forUpdate ? 'campaign-for-update' : 'campaign',
    text: `SELECT ${campaignColumns} FROM campaigns c WHERE c.id = $1 AND c.merchant_id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
    values: [id, merchantId],
  });
  return rows[0];
}

export async function listCampaigns(
  db: Queryable,
  merchantId: string,
  f: { limit: number; cursor?: Cursor; status?: CampaignStatus; channel?: Channel; q?: string },
): Promise<CampaignRow[]> {
  const params: unknown[] = [merchantId];
  const where = ['c.merchant_id = $1'];
  if (f.status) {
    params.push(f.status);
    where.push(`c.status = $${params.length}`);
  }
  if (f.channel) {
    params.push(f.channel);
    where.push(`c.channel = $${params.length}`);
  }
  if (f.q) {
    params.push(`%${f.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    where.push(`c.name ILIKE $${params.length}`);
  }
  if (f.cursor) {
    params.push(f.cursor.createdAt, f.cursor.id);
    where.push(`(c.created_at, c.id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(f.limit + 1);
  // one named statement per combination of filters (at most 16): each planned once per connection
  const name = `campaigns-list-${[f.status, f.channel, f.q, f.cursor].map((x) => (x ? 1 : 0)).join('')}`;
  const { rows } = await db.query<CampaignRow>({
    name,
    text: `SELECT ${campaignColumns} FROM campaigns c WHERE ${where.join(' AND ')}
      ORDER BY c.created_at DESC, c.id DESC LIMIT $${params.length}`,
    values: params,
  });
  return rows;
}

export async function updateCampaign(
  db: Queryable,
  merchantId: string,
  id: string,
  patch: Omit<UpdateCampaignBody, 'variants'>,
): Promise<void> {
  const sets: string[] = ['updated_at = now()'];
  const params: unknown[] = [id, merchantId];
  for (const [key, value] of Object.entries(patch)) {
    const column = updatable[key];
    if (!column || value === undefined) continue;
    params.push(value);
    sets.push(`${column} = $${params.length}`);
  }
  await db.query(`UPDATE campaigns SET ${sets.join(', ')} WHERE id = $1 AND merchant_id = $2`, params);
}

export async function findCampaignForSend(db: Queryable, merchantId: string, id: string) {
  const { rows } = await db.query<{
    status: CampaignStatus;
    channel: Channel;
    segment: Segment;
    holdoutPct: number;
  }>(
    `SELECT status, channel, segment, holdout_pct AS "holdoutPct" FROM campaigns WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}
