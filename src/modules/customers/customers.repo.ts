import type { Queryable } from '../../platform/db.ts';
import type { Cursor } from '../../platform/pagination.ts';
import type { Channel } from '../notifications/notifications.channels.ts';
import type { CustomerInput } from './customers.schema.ts';

export type CustomerRow = {
  id: string;
  externalId: string | null;
  email: string | null;
  webhookUrl: string | null;
  pushSubscription: unknown;
  attributes: { city: string | null; ageBand: string | null; device: string | null; tier: string | null };
  unsubscribedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

const columns = `id, external_id AS "externalId", email, webhook_url AS "webhookUrl",
  push_subscription AS "pushSubscription",
  json_build_object('city', city, 'ageBand', age_band, 'device', device, 'tier', tier) AS attributes,
  unsubscribed_at AS "unsubscribedAt", created_at AS "createdAt", updated_at AS "updatedAt"`;

function values(c: CustomerInput): unknown[] {
  return [
    c.externalId ?? null,
    c.email?.toLowerCase() ?? null,
    c.webhookUrl ?? null,
    c.pushSubscription ?? null,
    c.attributes?.city ?? null,
    c.attributes?.ageBand ?? null,
    c.attributes?.device ?? null,
    c.attributes?.tier ?? null,
  ];
}

export async function insertCustomer(
  db: Queryable,
  merchantId: string,
  c: CustomerInput,
): Promise<CustomerRow> {
  const { rows } = await db.query<CustomerRow>(
    `INSERT INTO customers (merchant_id, external_id, email, webhook_url, push_subscription, city, age_band, device, tier)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${columns}`,
    [merchantId, ...values(c)],
  );
  return rows[0]!;
}

/**
 * Inserts, or updates the customer with the same external id. Returns whether it was created
 * (xmax = 0 marks a row this statement inserted rather than updated).
 */
export async function upsertCustomer(db: Queryable, merchantId: string, c: CustomerInput): Promise<boolean> {
  const { rows } = await db.query<{ created: boolean }>(
    `INSERT INTO customers (merchant_id, external_id, email, webhook_url, push_subscription, city, age_band, device, tier)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (merchant_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
       email = coalesce(EXCLUDED.email, customers.email),
       webhook_url = coalesce(EXCLUDED.webhook_url, customers.webhook_url),
       push_subscription = coalesce(EXCLUDED.push_subscription, customers.push_subscription),
       push_invalid_at = CASE WHEN EXCLUDED.push_subscription IS NULL THEN customers.push_invalid_at END,
       city = coalesce(EXCLUDED.city, customers.city),
       age_band = coalesce(EXCLUDED.age_band, customers.age_band),
       device = coalesce(EXCLUDED.device, customers.device),
       tier = coalesce(EXCLUDED.tier, customers.tier),
       updated_at = now()
     RETURNING (xmax = 0) AS created`,
    [merchantId, ...values(c)],
  );
  return rows[0]!.created;
}

export async function findCustomer(
  db: Queryable,
  merchantId: string,
  id: string,
): Promise<CustomerRow | undefined> {
  const { rows } = await db.query<CustomerRow>(
    `SELECT ${columns} FROM customers WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}

export async function listCustomers(
  db: Queryable,
  merchantId: string,
  f: { limit: number; cursor?: Cursor; city?: string; tier?: string; q?: string },
): Promise<CustomerRow[]> {
  const params: unknown[] = [merchantId];
  const where = ['merchant_id = $1'];
  if (f.city) {
    params.push(f.city);
    where.push(`city = $${params.length}`);
  }
  if (f.tier) {
    params.push(f.tier);
    where.push(`tier = $${params.length}`);
  }
  if (f.q) {
    params.push(f.q.toLowerCase());
    where.push(`(email = $${params.length} OR external_id = $${params.length})`);
  }
  if (f.cursor) {
    params.push(f.cursor.createdAt, f.cursor.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(f.limit + 1);
  const { rows } = await db.query<CustomerRow>(
    `SELECT ${columns} FROM customers WHERE ${where.join(' AND ')}
      ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows;
}

export async function unsubscribe(
  db: Queryable,
  merchantId: string,
  id: string,
): Promise<CustomerRow | undefined> {
  const { rows } = await db.query<CustomerRow>(
    `UPDATE customers SET unsubscribed_at = coalesce(unsubscribed_at, now()), updated_at = now()
      WHERE id = $1 AND merchant_id = $2 RETURNING ${columns}`,
    [id, merchantId],
  );
  return rows[0];
}

export type Segment = { city?: string[]; ageBand?: string[]; device?: string[]; tier?: string[] };

const addressColumn: Record<Channel, string> = {
  email: 'c.email IS NOT NULL',
  webhook: 'c.webhook_url IS NOT NULL',
  push: 'c.push_subscription IS NOT NULL AND c.push_invalid_at IS NULL',
};

/**
 * The WHERE clause of a campaign's audience: the merchant's customers in the segment who can be
 * reached on the channel and have not unsubscribed. Parameters start at `$first`.
 */
export function audienceWhere(merchantId: string, segment: Segment, channel: Channel, first = 1) {
  const params: unknown[] = [merchantId];
  const where = [`c.merchant_id = $${first}`, 'c.unsubscribed_at IS NULL', addressColumn[channel]];
  for (const [key, column] of [
    ['city', 'city'],
    ['ageBand', 'age_band'],
    ['device', 'device'],
    ['tier', 'tier'],
  ] as const) {
    const values = segment[key];
    if (values && values.length > 0) {
      params.push(values);
      where.push(`c.${column} = ANY($${first + params.length - 1}::text[])`);
    }
  }
  return { sql: where.join(' AND '), params };
}

export async function countAudience(db: Queryable, merchantId: string, segment: Segment, channel: Channel) {
  const a = audienceWhere(merchantId, segment, channel);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*) AS n FROM customers c WHERE ${a.sql}`,
    a.params,
  );
  return rows[0]!.n;
}
