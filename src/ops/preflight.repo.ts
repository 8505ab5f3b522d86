import type pg from 'pg';
import type { Queryable } from '../platform/db.ts';

export async function databaseFacts(db: Queryable, longTransactionSeconds: number) {
  const { rows } = await db.query<{
    versionNum: number;
    version: string;
    now: Date;
    maxConnections: number;
    connections: number;
    encoding: string;
    sizeBytes: number;
    longTransactions: number;
    waitingLocks: number;
  }>(
    `SELECT current_setting('server_version_num')::int AS "versionNum",
            current_setting('server_version') AS version,
            clock_timestamp() AS now,
            current_setting('max_connections')::int AS "maxConnections",
            (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
            pg_encoding_to_char(encoding) AS encoding,
            pg_database_size(current_database()) AS "sizeBytes",
            (SELECT count(*)::int FROM pg_stat_activity
              WHERE xact_start < clock_timestamp() - make_interval(secs => $1) AND pid <> pg_backend_pid()) AS "longTransactions",
            (SELECT count(*)::int FROM pg_locks WHERE NOT granted) AS "waitingLocks"
       FROM pg_database WHERE datname = current_database()`,
    [longTransactionSeconds],
  );
  return rows[0]!;
}

/** Insert, update and delete a row of a real table, then roll back: proves write access without a trace. */
export async function rolledBackWrite(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO merchants (name, webhook_secrets, listed) VALUES ('preflight write check', ARRAY['x'], false) RETURNING id`,
    );
    await client.query(`UPDATE merchants SET description = 'checked' WHERE id = $1`, [rows[0]!.id]);
    await client.query('DELETE FROM merchants WHERE id = $1', [rows[0]!.id]);
  } finally {
    await client.query('ROLLBACK');
  }
}

export async function tableReadable(db: Queryable, qualifiedName: string): Promise<void> {
  await db.query(`SELECT 1 FROM ${qualifiedName} LIMIT 1`);
}

export async function replicationLag(db: Queryable): Promise<{ name: string; lagSeconds: number | null }[]> {
  const { rows } = await db.query<{ name: string; lagSeconds: number | null }>(
    `SELECT coalesce(application_name, client_addr::text, 'replica') AS name,
            extract(epoch FROM greatest(write_lag, flush_lag, replay_lag))::float8 AS "lagSeconds"
       FROM pg_stat_replication`,
  );
  return rows;
}

export async function queueFacts(db: Queryable) {
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass('pgboss.version') IS NOT NULL AS ok`);
  if (!exists.rows[0]!.ok) return undefined;
  const version = await db.query<{ version: number; cronOn: Date | null }>(
    'SELECT version, cron_on AS "cronOn" FROM pgboss.version LIMIT 1',
  );
  const queues = await db.query<{ name: string; queued: number }>(
    'SELECT name, queued_count AS queued FROM pgboss.queue ORDER BY name',
  );
  const schedules = await db.query<{ name: string; cron: string }>(
    'SELECT name, cron FROM pgboss.schedule ORDER BY name',
  );
  const instances = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.instance
      WHERE stopped_on IS NULL AND heartbeat_on > now() - make_interval(secs => heartbeat_seconds * 3)`,
  );
  const failed = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE state = 'failed' AND completed_on > now() - interval '1 hour'`,
  );
  return {
    version: version.rows[0]?.version,
    cronOn: version.rows[0]?.cronOn ?? null,
    queues: queues.rows,
    schedules: schedules.rows,
    liveInstances: instances.rows[0]!.n,
    failedLastHour: failed.rows[0]!.n,
  };
}
