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

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock.
 * With `dryRun` every pending migration runs and is rolled back: it proves they apply.
 */
export async function migrate(
  pool: pg.Pool,
  options: { dryRun?: boolean; log?: (line: string) => void; migrations?: Migration[] } = {},
): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const pending = await pendingMigrations(client, options.migrations);
    const applied: Migration[] = [];
    if (options.dryRun) await client.query('BEGIN');
    for (const m of pending) {
      if (!options.dryRun) await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        if (!options.dryRun) await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`Migration ${m.version}_${m.name} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      options.log?.(`${options.dryRun ? 'checked' : 'applied'} ${m.version}_${m.name}`);
      applied.push(m);
    }
    if (options.dryRun) await client.query('ROLLBACK');
    return { applied, pending, dryRun: options.dryRun ?? false };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    client.release();
  }
}
