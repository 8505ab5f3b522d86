import type { Queryable } from '../../platform/db.ts';

export async function recentDeliveryRate(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ delivered: number; final: number }>(
    `SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE status IN ('delivered', 'failed', 'bounced'))::int AS final
       FROM notifications WHERE created_at > now() - interval '1 hour'`,
  );
  const r = rows[0]!;
  return r.final === 0 ? null : r.delivered / r.final;
}

export async function replicaLags(db: Queryable): Promise<{ replica: string; seconds: number }[]> {
  const { rows } = await db.query<{ replica: string; seconds: number }>(
    `SELECT coalesce(application_name, client_addr::text, 'replica') AS replica,
            coalesce(extract(epoch FROM greatest(write_lag, flush_lag, replay_lag)), 0)::float8 AS seconds
       FROM pg_stat_replication`,
  );
  return rows;
}

/** The deploy engineer's `deployments` table, when its migration is applied; [] before. */
export async function recentDeployments(db: Queryable, limit: number): Promise<Record<string, unknown>[]> {
  const exists = await db.query<{ ok: boolean }>(
    `SELECT to_regclass('public.deployments') IS NOT NULL AS ok`,
  );
  if (!exists.rows[0]!.ok) return [];
  const { rows } = await db.query<{ row: Record<string, unknown> }>(
    'SELECT to_jsonb(d) AS row FROM deployments d ORDER BY 1 DESC LIMIT $1',
    [limit],
  );
  return rows.map((r) => r.row);
}

export async function userEmail(db: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [userId]);
  return rows[0]?.email;
}
