import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../platform/db.ts';

export type MerchantRow = {
  id: string;
  name: string;
  category: string;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  tags: string[];
  description: string;
  createdAt: Date;
};

const columns = `id, name, category, city, latitude, longitude, tags, description, created_at AS "createdAt"`;

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export async function insertMerchant(
  db: Queryable,
  m: {
    name: string;
    category?: string;
    city?: string | null;
    latitude?: number | null;
    longitude?: number | null;
    tags?: string[];
    description?: string;
    listed?: boolean;
  },
): Promise<MerchantRow> {
  const { rows } = await db.query<MerchantRow>(
    `INSERT INTO merchants (name, category, city, latitude, longitude, tags, description, listed, webhook_secrets)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ARRAY[$9])
     RETURNING ${columns}`,
    [
      m.name,
      m.category ?? 'general',
      m.city ?? null,
      m.latitude ?? null,
      m.longitude ?? null,
      m.tags ?? [],
      m.description ?? '',
      m.listed ?? true,
      newWebhookSecret(),
    ],
  );
  return rows[0]!;
}

export type DirectoryFilter = {
  q?: string;
  category?: string;
  city?: string;
  limit: number;
  after?: { name: string; id: string };
};

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The merchant network directory: listed merchants, searched by text, category and city. */
export async function searchMerchants(db: Queryable, f: DirectoryFilter): Promise<MerchantRow[]> {
  const where = ['listed'];
  const params: unknown[] = [];
  if (f.q) {
    params.push(`%${escapeLike(f.q)}%`);
    const p = `$${params.length}`;
    where.push(`(name ILIKE ${p} OR description ILIKE ${p} OR category ILIKE ${p} OR city ILIKE ${p}
                 OR EXISTS (SELECT 1 FROM unnest(tags) t WHERE t ILIKE ${p}))`);
  }
  if (f.category) {
    params.push(f.category);
    where.push(`lower(category) = lower($${params.length})`);
  }
  if (f.city) {
    params.push(f.city);
    where.push(`lower(city) = lower($${params.length})`);
  }
  if (f.after) {
    params.push(f.after.name, f.after.id);
    where.push(`(name, id) > ($${params.length - 1}, $${params.length})`);
  }
  params.push(f.limit + 1);
  const { rows } = await db.query<MerchantRow>(
    `SELECT ${columns} FROM merchants WHERE ${where.join(' AND ')} ORDER BY name, id LIMIT $${params.length}`,
    params,
  );
  return rows;
}

export async function findListedMerchant(db: Queryable, id: string): Promise<MerchantRow | undefined> {
  const { rows } = await db.query<MerchantRow>(`SELECT ${columns} FROM merchants WHERE id = $1 AND listed`, [
    id,
  ]);
  return rows[0];
}

export async function facets(db: Queryable): Promise<{ categories: string[]; cities: string[] }> {
  const { rows } = await db.query<{ categories: string[] | null; cities: string[] | null }>(
    `SELECT array_agg(DISTINCT category ORDER BY category) AS categories,
            array_agg(DISTINCT city ORDER BY city) FILTER (WHERE city IS NOT NULL) AS cities
       FROM merchants WHERE listed`,
  );
  return { categories: rows[0]?.categories ?? [], cities: rows[0]?.cities ?? [] };
}

export async function webhookSecrets(db: Queryable, merchantId: string): Promise<string[]> {
  const { rows } = await db.query<{ webhookSecrets: string[] }>(
    'SELECT webhook_secrets AS "webhookSecrets" FROM merchants WHERE id = $1',
    [merchantId],
  );
  return rows[0]?.webhookSecrets ?? [];
}

const updatable: Record<string, string> = {
  name: 'name',
  category: 'category',
  city: 'city',
  latitude: 'latitude',
  longitude: 'longitude',
  tags: 'tags',
  description: 'description',
  listed: 'listed',
};

export async function findOwnMerchant(db: Queryable, id: string) {
  const { rows } = await db.query<MerchantRow & { listed: boolean }>(
    `SELECT ${columns}, listed FROM merchants WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function updateMerchant(db: Queryable, id: string, patch: Record<string, unknown>) {
  const sets: string[] = [];
  const params: unknown[] = [id];
  for (const [key, value] of Object.entries(patch)) {
    const column = updatable[key];
    if (!column || value === undefined) continue;
    params.push(value);
    sets.push(`${column} = $${params.length}`);
  }
  if (sets.length > 0) await db.query(`UPDATE merchants SET ${sets.join(', ')} WHERE id = $1`, params);
}
