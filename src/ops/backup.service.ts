import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { runIntegrityCheck } from '../modules/integrity/integrity.service.ts';
import type { Config } from '../platform/config.ts';
import { createPool, withDatabase as databaseUrlFor } from '../platform/db.ts';
import { loadMigrations, type Migration, pendingMigrations } from '../platform/migrate.ts';
import {
  applicationTables,
  appliedMigrationRows,
  beginSnapshot,
  copyIn,
  copyOut,
  countRows,
  createScratchDatabase,
  DERIVED_TABLES,
  dropDeferred,
  dropScratchDatabase,
  insertBackup,
  loadDeferred,
  markDeleted,
  recordVerification,
  recreateDeferred,
  resetApplicationSchema,
  sequenceValues,
  serverInfo,
  setSequence,
  setUserTriggers,
  storedColumns,
  type TableRef,
} from './backup.repo.ts';

const run = promisify(execFile);

export const MANIFEST = 'manifest.json';
const FORMAT = 'swipesavvy-backup/1';
const ARCHIVE_NAME = /^swipesavvy-\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** A backup or restore that cannot proceed; the CLI prints the message and exits 1. */
export class BackupError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}

export type TableEntry = { table: string; rows: number; file?: string };
export type FileEntry = { path: string; bytes: number; sha256: string };

export type Verification = {
  ok: boolean;
  verifiedAt: string;
  restoreMs: number;
  integrityMs: number;
  tables: { table: string; expected: number; actual: number }[];
  integrity: { ok: boolean; failed: string[] };
};

export type Manifest = {
  format: typeof FORMAT;
  method: 'pg_dump' | 'copy';
  createdAt: string;
  appVersion: string;
  database: string;
  serverVersionNum: number;
  tool: string;
  migrations: { version: number; name: string; checksum: string }[];
  tables: TableEntry[];
  sequences: { name: string; value: number | null }[];
  files: FileEntry[];
  durationMs: number;
  verification?: Verification;
};

export type Phase = <T>(name: string, work: () => Promise<T>) => Promise<T>;
const noPhase: Phase = (_name, work) => work();

type PgTools = { dump: string; restore: string; major: number };

/** The newest pg_dump on this machine (PATH, then Debian's versioned directories). */
export async function findPgTools(): Promise<PgTools | undefined> {
  const dirs = [
    ...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean),
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
  ];
  let best: PgTools | undefined;
  for (const dir of new Set(dirs)) {
    const dump = path.join(dir, 'pg_dump');
    const restore = path.join(dir, 'pg_restore');
    if (!existsSync(dump) || !existsSync(restore)) continue;
    const out = await run(dump, ['--version']).then(
      (r) => r.stdout,
      () => '',
    );
    const major = Number(/(\d+)(?:\.\d+)?/.exec(out)?.[1] ?? Number.NaN);
    if (Number.isInteger(major) && (!best || major > best.major)) best = { dump, restore, major };
  }
  return best;
}

/** pg_dump's custom format when a pg_dump at least as new as the server exists; else the COPY archive. */
export async function chooseMethod(
  wanted: Config['backupMethod'],
  serverVersionNum: number,
): Promise<{ method: 'pg_dump'; tools: PgTools } | { method: 'copy' }> {
  if (wanted === 'copy') return { method: 'copy' };
  const serverMajor = Math.floor(serverVersionNum / 10_000);
  const tools = await findPgTools();
  if (tools && tools.major >= serverMajor) return { method: 'pg_dump', tools };
  if (wanted === 'pg_dump') {
    throw new BackupError(
      'BACKUP_TOOL_MISSING',
      `BACKUP_METHOD=pg_dump, but ${tools ? `pg_dump ${tools.major} is older than the server (${serverMajor})` : 'no pg_dump is installed'}; install the client tools of PostgreSQL ${serverMajor} or use BACKUP_METHOD=auto`,
    );
  }
  return { method: 'copy' };
}

function libpqEnv(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  // the password goes through the environment, not the process list
  return { url: u.toString(), env: { ...process.env, PGPASSWORD: password } };
}

async function runTool(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new BackupError('BACKUP_TOOL_FAILED', `${path.basename(bin)} exited ${code}: ${stderr.trim()}`),
          ),
    );
  });
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

const tableName = (t: TableRef) => `${t.schema}.${t.name}`;
const tableRef = (name: string): TableRef => {
  const [schema, table] = name.split('.');
  return { schema: schema!, name: table! };
};

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export type BackupOptions = { url: string; config: Config; phase?: Phase; now?: Date };
export type BackupResult = {
  /** the `backups` row; undefined while its migration is pending */
  id: string | undefined;
  dir: string;
  manifest: Manifest;
  sizeBytes: number;
  removed: string[];
};

/** A full backup of the database at `url` into a new archive directory under BACKUP_DIR. */
export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const phase = options.phase ?? noPhase;
  const t0 = performance.now();
  const created = options.now ?? new Date();
  const dir = path.join(
    options.config.backupDir,
    `swipesavvy-${stamp(created)}-${randomBytes(3).toString('hex')}`,
  );
  const pool = createPool(options.url, 2, 'swipesavvy-backup');
  try {
    const info = await serverInfo(pool);
    const chosen = await chooseMethod(options.config.backupMethod, info.versionNum);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const client = await pool.connect();
    const tables: TableEntry[] = [];
    const files: FileEntry[] = [];
    let migrations: Manifest['migrations'] = [];
    let sequences: Manifest['sequences'] = [];
    try {
      const snapshot = await beginSnapshot(client);
      migrations = await appliedMigrationRows(client);
      const refs = await applicationTables(client);
      sequences = await sequenceValues(client);
      if (chosen.method === 'pg_dump') {
        await phase('counting rows in the snapshot', async () => {
          for (const t of refs) tables.push({ table: tableName(t), rows: await countRows(client, t) });
        });
        const file = 'database.dump';
        const { url, env } = libpqEnv(options.url);
        await phase(`pg_dump ${chosen.tools.major} (custom format)`, () =>
          runTool(
            chosen.tools.dump,
            [
              '--format=custom',
              `--snapshot=${snapshot}`,
              '--no-owner',
              // the application's schema, as the COPY archive: pg-boss's jobs are transient, and
              // pg_restore --clean cannot drop its partitioned tables' inherited constraints
              '--schema=public',
              ...DERIVED_TABLES.map((t) => `--exclude-table-data=public.${t}`),
              `--file=${path.join(dir, file)}`,
              `--dbname=${url}`,
            ],
            env,
          ),
        );
        chmodSync(path.join(dir, file), 0o600);
        files.push({
          path: file,
          bytes: statSync(path.join(dir, file)).size,
          sha256: await sha256File(path.join(dir, file)),
        });
      } else {
        mkdirSync(path.join(dir, 'data'));
        for (const [i, t] of refs.entries()) {
          const file = `data/${tableName(t)}.tsv.gz`;
          await phase(`copy ${tableName(t)} (${i + 1}/${refs.length})`, async () => {
            let lines = 0;
            let bytes = 0;
            const hash = createHash('sha256');
            // COPY's text format escapes newlines inside values, so one line is one row
            const countLines = new Transform({
              transform(chunk: Buffer, _enc, done) {
                for (let k = chunk.indexOf(10); k !== -1; k = chunk.indexOf(10, k + 1)) lines++;
                done(null, chunk);
              },
            });
            const hashBytes = new Transform({
              transform(chunk: Buffer, _enc, done) {
                hash.update(chunk);
                bytes += chunk.length;
                done(null, chunk);
              },
            });
            const columns = await storedColumns(client, t);
            await pipeline(
              copyOut(client, t, columns),
              countLines,
              createGzip({ level: 1 }),
              hashBytes,
              createWriteStream(path.join(dir, file)),
            );
            tables.push({ table: tableName(t), rows: lines, file });
            files.push({ path: file, bytes, sha256: hash.digest('hex') });
          });
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      throw error;
    } finally {
      client.release();
    }
    const manifest: Manifest = {
      format: FORMAT,
      method: chosen.method,
      createdAt: created.toISOString(),
      appVersion: options.config.version,
      database: info.database,
      serverVersionNum: info.versionNum,
      tool: chosen.method === 'pg_dump' ? `pg_dump ${chosen.tools.major}` : 'COPY text format, gzip',
      migrations,
      tables,
      sequences,
      files,
      durationMs: Math.round(performance.now() - t0),
    };
    const manifestSha256 = writeManifest(dir, manifest);
    const sizeBytes = files.reduce((s, f) => s + f.bytes, 0);
    const id = await insertBackup(pool, {
      path: dir,
      method: chosen.method,
      sizeBytes,
      manifestSha256,
      rowCounts: Object.fromEntries(tables.map((t) => [t.table, t.rows])),
      durationMs: manifest.durationMs,
    });
    const removed = applyRetention(options.config.backupDir, options.config.backupKeep);
    await markDeleted(pool, removed);
    return { id, dir, manifest, sizeBytes, removed };
  } finally {
    await pool.end();
  }
}

function writeManifest(dir: string, manifest: Manifest): string {
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  writeFileSync(path.join(dir, MANIFEST), text, { mode: 0o600 });
  return createHash('sha256').update(text).digest('hex');
}

/** Keeps the newest `keep` archives in `backupDir`; returns the paths removed. */
export function applyRetention(backupDir: string, keep: number): string[] {
  if (!existsSync(backupDir)) return [];
  const archives = readdirSync(backupDir)
    .filter((n) => ARCHIVE_NAME.test(n))
    .sort()
    .reverse();
  const removed = archives.slice(keep).map((n) => path.join(backupDir, n));
  for (const dir of removed) rmSync(dir, { recursive: true, force: true });
  return removed;
}

/** Reads an archive (its directory or its manifest) and checks every file against its checksum. */
export async function openArchive(location: string): Promise<{ dir: string; manifest: Manifest }> {
  const dir = location.endsWith(MANIFEST) ? path.dirname(location) : location;
  const manifestFile = path.join(dir, MANIFEST);
  if (!existsSync(manifestFile)) {
    throw new BackupError('ARCHIVE_NOT_FOUND', `No backup archive at ${location} (expected ${manifestFile})`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch (error) {
    throw new BackupError('ARCHIVE_CORRUPT', `The manifest ${manifestFile} is not valid JSON`, {
      cause: error,
    });
  }
  if (manifest.format !== FORMAT || !Array.isArray(manifest.files) || !Array.isArray(manifest.tables)) {
    throw new BackupError('ARCHIVE_CORRUPT', `${manifestFile} is not a ${FORMAT} manifest`);
  }
  for (const f of manifest.files) {
    const file = path.join(dir, f.path);
    if (path.relative(dir, file).startsWith('..'))
      throw new BackupError('ARCHIVE_CORRUPT', `Bad path in manifest: ${f.path}`);
    if (!existsSync(file)) throw new BackupError('ARCHIVE_CORRUPT', `The archive misses ${f.path}`);
    const actual = await sha256File(file);
    if (actual !== f.sha256) {
      throw new BackupError(
        'ARCHIVE_CHECKSUM_MISMATCH',
        `Checksum mismatch for ${f.path}: the manifest says ${f.sha256.slice(0, 16)}…, the file is ${actual.slice(0, 16)}…; the archive is corrupt and was not restored`,
      );
    }
  }
  return { dir, manifest };
}

/** The migrations the archive's schema was built with, taken from this release; refuses unknown ones. */
function archiveMigrations(manifest: Manifest): Migration[] {
  const local = new Map(loadMigrations().map((m) => [m.version, m]));
  return manifest.migrations.map((m) => {
    const mine = local.get(m.version);
    if (!mine || mine.checksum !== m.checksum) {
      throw new BackupError(
        'ARCHIVE_SCHEMA_UNKNOWN',
        `The archive's schema includes migration ${m.version}_${m.name}, which this release ${mine ? 'has with different contents' : 'does not have'}; restore with the release that made the backup (${manifest.appVersion})`,
      );
    }
    return mine;
  });
}

export type RestoreResult = {
  method: Manifest['method'];
  restoreMs: number;
  tables: { table: string; expected: number; actual: number }[];
  integrity: { ok: boolean; failed: string[] };
  integrityMs: number;
};

/**
 * Restores an opened archive into the database at `url`, replacing its application schema.
 * The COPY archive loads in one transaction (all or nothing); pg_restore runs --single-transaction.
 */
export async function restoreInto(
  url: string,
  archive: { dir: string; manifest: Manifest },
  options: { phase?: Phase } = {},
): Promise<RestoreResult> {
  const phase = options.phase ?? noPhase;
  const { dir, manifest } = archive;
  const t0 = performance.now();
  const pool = createPool(url, 1, 'swipesavvy-restore');
  const client = await pool.connect();
  try {
    if (manifest.method === 'pg_dump') {
      const tools = await findPgTools();
      if (!tools)
        throw new BackupError(
          'BACKUP_TOOL_MISSING',
          'This archive is in pg_dump format and needs pg_restore, which is not installed',
        );
      const { url: plain, env } = libpqEnv(url);
      // pg_restore --clean cannot drop the inherited constraints of a partitioned table's
      // partitions, so the archive becomes a script that replaces schema public as a whole,
      // run by psql in one transaction: all or nothing, like the COPY archive.
      const psql = path.join(path.dirname(tools.restore), 'psql');
      if (!existsSync(psql)) {
        throw new BackupError(
          'BACKUP_TOOL_MISSING',
          `Restoring a pg_dump archive needs psql next to ${tools.restore}`,
        );
      }
      const script = path.join(dir, `.restore-${process.pid}.sql`);
      try {
        await phase(`pg_restore ${tools.major} (to a script)`, () =>
          runTool(
            tools.restore,
            ['--no-owner', `--file=${script}`, path.join(dir, manifest.files[0]!.path)],
            env,
          ),
        );
        const body = readFileSync(script, 'utf8').replace(/^CREATE SCHEMA public;$/m, '');
        writeFileSync(script, `DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n${body}`);
        await phase('load the archive (one transaction)', () =>
          runTool(
            psql,
            [
              '--no-psqlrc',
              '--quiet',
              '--single-transaction',
              '-v',
              'ON_ERROR_STOP=1',
              '-f',
              script,
              `--dbname=${plain}`,
            ],
            env,
          ),
        );
      } finally {
        rmSync(script, { force: true });
      }
    } else {
      const migrations = archiveMigrations(manifest);
      await client.query('BEGIN');
      try {
        await phase('schema from the migrations', async () => {
          await resetApplicationSchema(client);
          for (const m of migrations) await client.query(m.sql);
          // creates schema_migrations, whose rows come from the archive like every other table
          await pendingMigrations(client, migrations);
        });
        const deferred = await loadDeferred(client);
        await dropDeferred(client, deferred);
        // The archive holds every table as it was, rollups and derived columns included: the
        // migrations' triggers must not act on the rows loaded (the events' rollup trigger would
        // count them again into the rollups already loaded). As pg_restore's --disable-triggers,
        // but by the tables' owner, not a superuser; inside this transaction only.
        await setUserTriggers(
          client,
          manifest.tables.map((t) => tableRef(t.table)),
          false,
        );
        for (const [i, entry] of manifest.tables.entries()) {
          const name = entry.table;
          await phase(`load ${name} (${i + 1}/${manifest.tables.length}, ${entry.rows} rows)`, () =>
            pipeline(
              createReadStream(path.join(dir, entry.file!)),
              createGunzip(),
              copyIn(client, tableRef(name)),
            ),
          );
        }
        await phase(
          `indexes and foreign keys (${deferred.indexes.length} + ${deferred.foreignKeys.length})`,
          () => recreateDeferred(client, deferred),
        );
        await setUserTriggers(
          client,
          manifest.tables.map((t) => tableRef(t.table)),
          true,
        );
        for (const s of manifest.sequences) await setSequence(client, s.name, s.value);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
    const restoreMs = Math.round(performance.now() - t0);
    const tables: RestoreResult['tables'] = [];
    for (const t of manifest.tables) {
      tables.push({ table: t.table, expected: t.rows, actual: await countRows(client, tableRef(t.table)) });
    }
    const i0 = performance.now();
    const integrity = await phase('integrity check', () => runIntegrityCheck(client));
    return {
      method: manifest.method,
      restoreMs,
      tables,
      integrity: {
        ok: integrity.ok,
        failed: integrity.checks.filter((c) => c.violations > 0).map((c) => c.checkName),
      },
      integrityMs: Math.round(performance.now() - i0),
    };
  } finally {
    client.release();
    await pool.end();
  }
}

/** The timed restore drill: restores into a scratch database, compares, records, drops the scratch. */
export async function verifyBackup(
  url: string,
  location: string,
  options: { phase?: Phase; backupId?: string } = {},
): Promise<Verification> {
  const phase = options.phase ?? noPhase;
  const archive = await phase('checksums', () => openArchive(location));
  const scratch = `swipesavvy_verify_${randomBytes(5).toString('hex')}`;
  const pool = createPool(url, 2, 'swipesavvy-verify');
  try {
    await createScratchDatabase(pool, scratch);
    let result: RestoreResult;
    try {
      result = await restoreInto(databaseUrlFor(url, scratch), archive, { phase });
    } finally {
      await dropScratchDatabase(pool, scratch);
    }
    const verification: Verification = {
      ok: result.integrity.ok && result.tables.every((t) => t.expected === t.actual),
      verifiedAt: new Date().toISOString(),
      restoreMs: result.restoreMs,
      integrityMs: result.integrityMs,
      tables: result.tables,
      integrity: result.integrity,
    };
    const manifestSha256 = writeManifest(archive.dir, { ...archive.manifest, verification });
    if (options.backupId) {
      await recordVerification(pool, options.backupId, {
        ok: verification.ok,
        restoreMs: verification.restoreMs,
        detail: {
          tables: verification.tables,
          integrity: verification.integrity,
          integrityMs: verification.integrityMs,
        },
        manifestSha256,
      });
    }
    return verification;
  } finally {
    await pool.end();
  }
}
