import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Queryable } from '../platform/db.ts';

export type TableRef = { schema: string; name: string };

const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
export const qualified = (t: TableRef) => `${ident(t.schema)}.${ident(t.name)}`;

/**
 * Tables whose rows are not backed up: derived (merchant_read_versions: the counters that
 * validate kept reads, migrations 071–073; the table a restore creates has a new file, which every
 * kept read takes for a new version).
 */
export const DERIVED_TABLES = ['merchant_read_versions'];

/** The application's tables (schema `public`), ordinary and partitioned, in name order. */
export async function applicationTables(db: Queryable): Promise<TableRef[]> {
  const { rows } = await db.query<TableRef>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND c.relname <> ALL ($1)
      ORDER BY c.relname`,
    [DERIVED_TABLES],
  );
  return rows;
}

export async function countRows(db: Queryable, table: TableRef): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${qualified(table)}`);
  return rows[0]!.n;
}

export async function sequenceValues(db: Queryable): Promise<{ name: string; value: number | null }[]> {
  const { rows } = await db.query<{ name: string; value: number | null }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value AS value
       FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`,
  );
  return rows;
}

export async function setSequence(db: Queryable, name: string, value: number | null): Promise<void> {
  if (value === null) await db.query('SELECT setval($1::regclass, 1, false)', [name]);
  else await db.query('SELECT setval($1::regclass, $2, true)', [name, value]);
}

export async function serverInfo(db: Queryable): Promise<{ versionNum: number; database: string }> {
  const { rows } = await db.query<{ v: string; d: string }>(
    `SELECT current_setting('server_version_num') AS v, current_database() AS d`,
  );
  return { versionNum: Number(rows[0]!.v), database: rows[0]!.d };
}

/** A consistent read-only snapshot for the whole backup; its id lets pg_dump share it. */
export async function beginSnapshot(client: pg.PoolClient): Promise<string> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
  return rows[0]!.id;
}

/** A table's stored columns in their order: what COPY FROM without a column list reads (not the generated ones). */
export async function storedColumns(db: Queryable, table: TableRef): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
      ORDER BY attnum`,
    [qualified(table)],
  );
  return rows.map((r) => r.name);
}

// A query rather than the table name: COPY TO refuses a partitioned table (events) but not a
// SELECT from it; the columns come out in the table's order, as COPY FROM reads them back (a
// generated column, which COPY FROM does not take, is left out: `columns` from storedColumns).
export const copyOut = (client: pg.PoolClient, table: TableRef, columns: string[]) =>
  client.query(copyTo(`COPY (SELECT ${columns.map(ident).join(', ')} FROM ${qualified(table)}) TO STDOUT`));

export const copyIn = (client: pg.PoolClient, table: TableRef) =>
  client.query(copyFrom(`COPY ${qualified(table)} FROM STDIN`));

/** Empties the application schema: the restore then rebuilds it from the migrations. */
export async function resetApplicationSchema(client: pg.PoolClient): Promise<void> {
  await client.query('DROP SCHEMA IF EXISTS public CASCADE');
  await client.query('CREATE SCHEMA public');
}

export async function createScratchDatabase(db: Queryable, name: string): Promise<void> {
  await db.query(`CREATE DATABASE ${ident(name)}`);
}

export async function dropScratchDatabase(db: Queryable, name: string): Promise<void> {
  await db.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
}

export type BackupRecord = {
  id: string;
  path: string;
  method: 'pg_dump' | 'copy';
  createdAt: Date;
  sizeBytes: number;
  manifestSha256: string;
  rowCounts: Record<string, number>;
  durationMs: number;
  verifiedAt: Date | null;
  verifyOk: boolean | null;
  restoreMs: number | null;
  verifyDetail: unknown;
};

const RECORD_COLUMNS = `id, path, method, created_at AS "createdAt", size_bytes AS "sizeBytes",
  manifest_sha256 AS "manifestSha256", row_counts AS "rowCounts", duration_ms AS "durationMs",
  verified_at AS "verifiedAt", verify_ok AS "verifyOk", restore_ms AS "restoreMs", verify_detail AS "verifyDetail"`;

/** Records a backup; undefined while the backups table's migration is still pending (the manifest then is the record). */
export async function insertBackup(
  db: Queryable,
  b: Pick<BackupRecord, 'path' | 'method' | 'sizeBytes' | 'manifestSha256' | 'rowCounts' | 'durationMs'>,
): Promise<string | undefined> {
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass('public.backups') IS NOT NULL AS ok`);
  if (!exists.rows[0]!.ok) return undefined;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO backups (path, method, size_bytes, manifest_sha256, row_counts, duration_ms)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [b.path, b.method, b.sizeBytes, b.manifestSha256, JSON.stringify(b.rowCounts), b.durationMs],
  );
  return rows[0]!.id;
}

export async function recordVerification(
  db: Queryable,
  id: string,
  v: { ok: boolean; restoreMs: number; detail: unknown; manifestSha256: string },
): Promise<void> {
  await db.query(
    `UPDATE backups SET verified_at = now(), verify_ok = $2, restore_ms = $3, verify_detail = $4,
            manifest_sha256 = $5 WHERE id = $1`,
    [id, v.ok, v.restoreMs, JSON.stringify(v.detail), v.manifestSha256],
  );
}

export async function markDeleted(db: Queryable, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  const exists = await db.query<{ ok: boolean }>(`SELECT to_regclass('public.backups') IS NOT NULL AS ok`);
  if (!exists.rows[0]!.ok) return;
  await db.query('UPDATE backups SET deleted_at = now() WHERE path = ANY($1) AND deleted_at IS NULL', [
    paths,
  ]);
}

export async function latestBackup(
  db: Queryable,
  options: { verified?: boolean } = {},
): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<BackupRecord>(
    `SELECT ${RECORD_COLUMNS} FROM backups
      WHERE deleted_at IS NULL AND ($1::boolean IS NULL OR verify_ok IS TRUE)
      ORDER BY created_at DESC LIMIT 1`,
    [options.verified ? true : null],
  );
  return rows[0];
}

export async function listBackups(db: Queryable, limit: number): Promise<BackupRecord[]> {
  const { rows } = await db.query<BackupRecord>(
    `SELECT ${RECORD_COLUMNS} FROM backups WHERE deleted_at IS NULL ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function appliedMigrationRows(
  db: Queryable,
): Promise<{ version: number; name: string; checksum: string }[]> {
  const { rows } = await db.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  return rows;
}

export type LoadDeferred = {
  foreignKeys: { table: string; name: string; def: string }[];
  indexes: { name: string; def: string }[];
};

/**
 * Foreign keys and secondary indexes of the application schema. A restore drops them, loads the
 * rows, and creates them again — as pg_restore does: one bulk validation and one index build
 * instead of a trigger and an index insert per row.
 */
export async function loadDeferred(db: Queryable): Promise<LoadDeferred> {
  const fks = await db.query<{ table: string; name: string; def: string }>(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
        -- a partitioned table's constraint only: its partitions' copies come and go with it
        AND conparentid = 0
      ORDER BY 1, 2`,
  );
  const indexes = await db.query<{ name: string; def: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT c.relispartition
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY 1`,
  );
  return { foreignKeys: fks.rows, indexes: indexes.rows };
}

const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

export async function dropDeferred(db: Queryable, d: LoadDeferred): Promise<void> {
  for (const fk of d.foreignKeys)
    await db.query(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  for (const ix of d.indexes) await db.query(`DROP INDEX ${ix.name}`);
}

/** Turns the tables' own triggers (not the constraints') off or back on, as the tables' owner. */
export async function setUserTriggers(db: Queryable, tables: TableRef[], enabled: boolean): Promise<void> {
  for (const t of tables)
    await db.query(`ALTER TABLE ${qualified(t)} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
}

export async function recreateDeferred(db: Queryable, d: LoadDeferred): Promise<void> {
  for (const ix of d.indexes) await db.query(ix.def);
  for (const fk of d.foreignKeys) {
    await db.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.def}`);
  }
}
