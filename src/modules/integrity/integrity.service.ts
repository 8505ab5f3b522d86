import type { Queryable } from '../../platform/db.ts';

export type IntegrityRow = { checkName: string; violations: number; description: string };

/** Runs the integrity check function of migration 002: one row per invariant. */
export async function runIntegrityCheck(db: Queryable): Promise<{ ok: boolean; checks: IntegrityRow[] }> {
  const { rows } = await db.query<IntegrityRow>(
    `SELECT check_name AS "checkName", violations, description FROM swipesavvy_integrity_check()`,
  );
  return { ok: rows.every((r) => r.violations === 0), checks: rows };
}

export type DatabaseStats = {
  merchants: number;
  users: number;
  customers: number;
  campaigns: Record<string, number>;
  notifications: Record<string, number>;
  events: number;
  transactions: number;
  mailboxMessages: number;
  databaseBytes: number;
  queuedJobs: number | null;
};

async function counts(db: Queryable, sql: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ key: string; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [r.key, r.n]));
}

export async function databaseStats(db: Queryable): Promise<DatabaseStats> {
  const { rows } = await db.query<Omit<DatabaseStats, 'campaigns' | 'notifications' | 'queuedJobs'>>(
    `SELECT (SELECT count(*) FROM merchants) AS merchants,
            (SELECT count(*) FROM users) AS users,
            (SELECT count(*) FROM customers) AS customers,
            (SELECT count(*) FROM events) AS events,
            (SELECT count(*) FROM transactions) AS transactions,
            (SELECT count(*) FROM mailbox_messages) AS "mailboxMessages",
            pg_database_size(current_database()) AS "databaseBytes"`,
  );
  const queued = await db
    .query<{ n: number }>(`SELECT count(*) AS n FROM pgboss.job WHERE state IN ('created', 'retry')`)
    .then((r) => r.rows[0]!.n)
    .catch(() => null);
  return {
    ...rows[0]!,
    campaigns: await counts(db, 'SELECT status AS key, count(*) AS n FROM campaigns GROUP BY 1 ORDER BY 1'),
    notifications: await counts(
      db,
      'SELECT status AS key, count(*) AS n FROM notifications GROUP BY 1 ORDER BY 1',
    ),
    queuedJobs: queued,
  };
}

export async function countUsers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM users');
  return rows[0]!.n;
}

/** Removes a merchant and everything it owns (the smoke runner's throwaway merchant). */
export async function deleteMerchant(db: Queryable, merchantId: string): Promise<void> {
  await db.query('DELETE FROM merchants WHERE id = $1', [merchantId]);
}
