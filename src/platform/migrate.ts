import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '..', '..', 'migrations');
// One lock id for the whole product, so two instances starting at once migrate one after the other.
const MIGRATION_LOCK_ID = 7_412_2025;

export type Migration = { version: number; name: string; sql: string; checksum: string };
export type MigrationResult = { applied: Migration[]; pending: Migration[]; dryRun: boolean };

export class MigrationError extends Error {}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d+)_([\w-]+)\.sql$/.exec(file);
      if (!match) throw new MigrationError(`Migration file name must be NNN_name.sql: ${file}`);
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

async function appliedMigrations(
  client: pg.ClientBase,
): Promise<Map<number, { name: string; checksum: string }>> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  return new Map(rows.map((r) => [r.version, r]));
}

/** The migrations not yet applied; refuses when an applied one was edited or is missing on disk. */
export async function pendingMigrations(client: pg.ClientBase, all = loadMigrations()): Promise<Migration[]> {
  const applied = await appliedMigrations(client);
  const known = new Set(all.map((m) => m.version));
  for (const [version, row] of applied) {
    if (!known.has(version)) {
      throw new MigrationError(`Migration ${version}_${row.name} is applied but its file is missing`);
    }
  }
  for (const m of all) {
    const row = applied.get(m.version);
    if (row && row.checksum !== m.checksum) {
      throw new MigrationError(
        `Migration ${m.version}_${m.name} was edited after it was applied (checksum ${m.checksum.slice(0, 12)} ≠ ${row.checksum.slice(0, 12)}); add a new migration instead`,
      );
    }
  }
  return all.filter((m) => !applied.has(m.version));
}

export type MigrateOptions = {
  dryRun?: boolean;
  log?: (line: string) => void;
  migrations?: Migration[];
  /**
   * How long a migration's statement may wait for a table lock (PostgreSQL's lock_timeout) before
   * its transaction gives up and is tried again; default 5 s. Without it, an ALTER waiting behind
   * a long transaction makes every later query of that table (ingestion, reads) queue behind the
   * ALTER, for as long as that transaction lasts.
   */
  lockTimeoutMs?: number;
  /** attempts for a migration whose locks were not granted in time (default 5), with 1, 2, 4… s between */
  lockAttempts?: number;
};

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock.
 * With `dryRun` every pending migration runs and is rolled back: it proves they apply.
 * A migration that cannot take its table locks within `lockTimeoutMs` is rolled back and tried
 * again; after `lockAttempts` it fails with nothing of it applied.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrationResult> {
  const lockTimeoutMs = options.lockTimeoutMs ?? 5_000;
  const attempts = options.lockAttempts ?? 5;
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const pending = await pendingMigrations(client, options.migrations);
    const applied: Migration[] = [];
    const apply = async (m: Migration) => {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
    };
    const begin = () =>
      client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    // attempts per migration (the dry run's one transaction counts as one)
    const tries = new Map<number, number>();
    for (;;) {
      // a dry run is one transaction for every pending migration, rolled back at the end
      let current: Migration | undefined;
      try {
        if (options.dryRun) {
          await begin();
          for (const m of pending) {
            current = m;
            await apply(m);
            applied.push(m);
          }
          await client.query('ROLLBACK');
          // said once the whole run got through: an attempt given up for a lock is not repeated in the log
          for (const m of applied) options.log?.(`checked ${m.version}_${m.name}`);
        } else {
          for (const m of pending.slice(applied.length)) {
            current = m;
            await begin();
            await apply(m);
            await client.query('COMMIT');
            options.log?.(`applied ${m.version}_${m.name}`);
            applied.push(m);
          }
        }
        return { applied, pending, dryRun: options.dryRun ?? false };
      } catch (error) {
        await client.query('ROLLBACK');
        if (options.dryRun) applied.length = 0;
        const name = current ? `${current.version}_${current.name}` : 'the pending migrations';
        const key = options.dryRun ? -1 : (current?.version ?? -1);
        const attempt = (tries.get(key) ?? 0) + 1;
        tries.set(key, attempt);
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE && attempt < attempts) {
          const waitMs = 1000 * 2 ** (attempt - 1);
          options.log?.(
            `${name}: a table lock was not granted within ${lockTimeoutMs} ms (attempt ${attempt} of ${attempts}); trying again in ${waitMs / 1000} s`,
          );
          await new Promise((r) => setTimeout(r, waitMs));
          continue;
        }
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE)
          throw new MigrationError(
            `Migration ${name} could not take its table locks: each of ${attempts} attempts waited ${lockTimeoutMs} ms and gave up (${(error as Error).message}). A long transaction holds a lock on a table it changes (see pg_stat_activity and pg_locks); nothing of this migration was applied${applied.length > 0 && !options.dryRun ? `, the ${applied.length} before it were` : ''}.`,
            { cause: error },
          );
        throw new MigrationError(`Migration ${name} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    client.release();
  }
}
