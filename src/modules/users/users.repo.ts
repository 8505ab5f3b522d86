import type { Queryable } from '../../platform/db.ts';
import type { Role } from '../auth/auth.plugin.ts';

export type UserRow = {
  id: string;
  email: string;
  name: string;
  role: Role;
  merchantId: string;
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
};

const columns = `id, email, name, role, merchant_id AS "merchantId", settings,
  created_at AS "createdAt", updated_at AS "updatedAt", last_login_at AS "lastLoginAt"`;

export async function insertUser(
  db: Queryable,
  u: { merchantId: string; email: string; passwordHash: string; name: string; role: Role },
): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (merchant_id, email, password_hash, name, role)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
    [u.merchantId, u.email, u.passwordHash, u.name, u.role],
  );
  return rows[0]!;
}

export async function findUserForLogin(
  db: Queryable,
  email: string,
): Promise<(UserRow & { passwordHash: string }) | undefined> {
  const { rows } = await db.query<UserRow & { passwordHash: string }>(
    `SELECT ${columns}, password_hash AS "passwordHash" FROM users WHERE email = $1`,
    [email],
  );
  return rows[0];
}

export async function recordLogin(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
}

export async function findUser(db: Queryable, merchantId: string, id: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${columns} FROM users WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}

export async function listUsers(db: Queryable, merchantId: string): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${columns} FROM users WHERE merchant_id = $1 ORDER BY created_at`,
    [merchantId],
  );
  return rows;
}

/** Merges the given keys into settings; a null value removes the key. */
export async function mergeSettings(
  db: Queryable,
  merchantId: string,
  id: string,
  patch: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const { rows } = await db.query<{ settings: Record<string, unknown> }>(
    `UPDATE users
        SET settings = (settings || $3::jsonb)
                       - ARRAY(SELECT key FROM jsonb_each($3::jsonb) WHERE value = 'null'::jsonb),
            updated_at = now()
      WHERE id = $1 AND merchant_id = $2 RETURNING settings`,
    [id, merchantId, JSON.stringify(patch)],
  );
  return rows[0]?.settings;
}

export async function setRole(
  db: Queryable,
  merchantId: string,
  id: string,
  role: Role,
): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET role = $3, updated_at = now() WHERE id = $1 AND merchant_id = $2 RETURNING ${columns}`,
    [id, merchantId, role],
  );
  return rows[0];
}

export async function countOwners(db: Queryable, merchantId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*) AS n FROM users WHERE merchant_id = $1 AND role = 'owner'`,
    [merchantId],
  );
  return rows[0]!.n;
}

/** Serialises role changes within a merchant, so two concurrent demotions cannot remove the last owner. */
export async function lockMerchant(db: Queryable, merchantId: string): Promise<void> {
  await db.query('SELECT 1 FROM merchants WHERE id = $1 FOR UPDATE', [merchantId]);
}
