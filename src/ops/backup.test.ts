import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runCli } from '../../test/cli.ts';
import { testDatabase } from '../../test/helpers.ts';
import { MANIFEST, type Manifest } from './backup.service.ts';

describe('backup and restore (CLI)', async () => {
  const url = await testDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-backup-test-'));
  const env = {
    DATABASE_URL: url,
    BACKUP_DIR: path.join(dir, 'backups'),
    DATA_DIR: path.join(dir, 'data'),
    MAILBOX_PORT: '0',
  };
  const db = new pg.Pool({ connectionString: url, max: 2 });
  // restore ends the other sessions on its target database, and the test database is dropped
  // WITH (FORCE) when the file ends: this pool's idle connections may be cut either way
  db.on('error', () => {});
  const count = async (table: string) =>
    (await db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
  // what the rollups hold: a restore must bring them back as they were, not add the loaded
  // events and notifications to them a second time
  const rollups = async () =>
    (
      await db.query(
        `SELECT (SELECT row(sum(impressions), sum(clicks), sum(conversions), sum(revenue), sum(sent))::text FROM analytics_daily) AS daily,
                (SELECT row(sum(impressions), sum(clicks), sum(conversions), sum(revenue), sum(sent))::text FROM analytics_totals) AS totals,
                (SELECT row(sum(impressions), sum(clicks), sum(sent))::text FROM analytics_hourly) AS hourly`,
      )
    ).rows[0];

  before(async () => {
    const seeded = await runCli(['seed-demo', '--customers', '60'], env);
    assert.equal(seeded.code, 0, seeded.stderr);
  });
  after(async () => {
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  });

  let archive: string;
  let events: number;
  let rollupsAtBackup: Record<string, string>;

  it('backup --verify makes an archive with checksums and row counts, and records a timed restore drill', async () => {
    events = await count('events');
    assert.ok(events > 0);
    rollupsAtBackup = await rollups();
    const r = await runCli(['backup', '--verify', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    archive = out.dir;
    const server = (await db.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v;
    // pg_dump's format where the machine's pg_dump can read this server, the COPY archive otherwise
    assert.equal(out.method, Math.floor(server / 10_000) <= 15 ? 'pg_dump' : 'copy');
    const manifest = JSON.parse(readFileSync(path.join(archive, MANIFEST), 'utf8')) as Manifest;
    assert.equal(manifest.tables.find((t) => t.table === 'public.events')?.rows, events);
    for (const f of manifest.files) assert.match(f.sha256, /^[0-9a-f]{64}$/);
    assert.equal(manifest.verification?.ok, true);
    assert.ok(manifest.verification.tables.every((t) => t.expected === t.actual));
    assert.equal(manifest.verification.integrity.ok, true);
    const rec = (
      await db.query('SELECT verify_ok, restore_ms, row_counts FROM backups WHERE path = $1', [archive])
    ).rows[0];
    assert.equal(rec.verify_ok, true);
    assert.equal(typeof rec.restore_ms, 'number');
    assert.equal(rec.row_counts['public.events'], events);
    assert.match(r.stderr, /verified: restore drill took \d+ ms/);
  });

  it('the COPY archive (the embedded default without system tools) verifies too', async () => {
    const r = await runCli(['backup', '--verify', '--json'], { ...env, BACKUP_METHOD: 'copy' });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.method, 'copy');
    assert.equal(out.verification.ok, true);
    assert.ok(readdirSync(path.join(out.dir, 'data')).includes('public.events.tsv.gz'));
  });

  it('restore --yes brings back deleted rows from each format', async () => {
    const copyArchive = (
      await db.query(`SELECT path FROM backups WHERE method = 'copy' ORDER BY created_at DESC LIMIT 1`)
    ).rows[0].path as string;
    for (const source of [archive, copyArchive]) {
      await db.query('DELETE FROM events');
      assert.equal(await count('events'), 0);
      const r = await runCli(['restore', source, '--yes'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /restored in \d+ ms; row counts match; integrity check passed/);
      assert.equal(await count('events'), events);
      assert.deepEqual(await rollups(), rollupsAtBackup, source);
    }
  });

  it('restore asks for confirmation: without --yes and without a terminal nothing is touched', async () => {
    await db.query('DELETE FROM transactions');
    const r = await runCli(['restore', archive], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /confirm with --yes/);
    assert.equal(await count('transactions'), 0);
  });

  it('refuses a corrupt archive: clear error, exit 1, the database untouched', async () => {
    const copy = JSON.parse((await runCli(['backup', '--json'], { ...env, BACKUP_METHOD: 'copy' })).stdout)
      .dir as string;
    const victim = path.join(copy, 'data', 'public.users.tsv.gz');
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(victim, bytes);
    const users = await count('users');
    const r = await runCli(['restore', copy, '--yes'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ARCHIVE_CHECKSUM_MISMATCH: Checksum mismatch for data\/public\.users\.tsv\.gz/);
    assert.equal(await count('users'), users);
    assert.equal(await count('transactions'), 0, 'still the state before the refused restore');
  });

  it('a missing archive, a stray argument or an unknown flag is a clear error', async () => {
    const missing = await runCli(['restore', path.join(dir, 'nope'), '--yes'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ARCHIVE_NOT_FOUND/);
    const flag = await runCli(['backup', '--verfy'], env);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--verfy'/);
    const stray = await runCli(['backup', 'extra'], env);
    assert.equal(stray.code, 2);
  });

  it('keeps the last BACKUP_KEEP archives', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['backup'], { ...env, BACKUP_KEEP: '2', BACKUP_METHOD: 'copy' });
      assert.equal(r.code, 0, r.stderr);
    }
    const left = readdirSync(env['BACKUP_DIR']!).filter((n) => n.startsWith('swipesavvy-'));
    assert.equal(left.length, 2);
    const live = (await db.query('SELECT count(*)::int AS n FROM backups WHERE deleted_at IS NULL')).rows[0]
      .n;
    assert.equal(live, 2);
  });
});
