// Backup + verified restore of a database holding ROWS notifications and events (half each).
// Figures: medians of RUNS, as rows/s, and as ratios against a baseline measured in the same run:
// the bare COPY of every row out of the server (the floor of any logical backup) and a bare
// server-side copy of the two big tables (the floor of loading them again).
//
//   npm run bench:backup [-- --rows 1000000 --runs 3]
// Uses DATABASE_URL's server when set (pg_dump where it can read it), else a throwaway embedded
// PostgreSQL (the COPY archive, as on a fresh machine).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { to as copyTo } from 'pg-copy-streams';
import { createBackup, verifyBackup } from '../src/ops/backup.service.ts';
import { loadConfig } from '../src/platform/config.ts';
import { createPool, withDatabase } from '../src/platform/db.ts';
import { type EmbeddedDatabase, useEmbeddedDatabase } from '../src/platform/embedded-db.ts';
import { migrate } from '../src/platform/migrate.ts';

const { values } = parseArgs({ options: { rows: { type: 'string' }, runs: { type: 'string' } } });
const ROWS = Number(values.rows ?? 1_000_000);
const RUNS = Number(values.runs ?? 3);
if (!(ROWS >= 1000) || !(RUNS >= 1 && RUNS <= 10)) throw new Error('--rows ≥ 1000, --runs 1..10');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (work: () => Promise<unknown>) => {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
};
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

const work = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-backup-'));
chmodSync(work, 0o755);
const config = loadConfig(process.env, {
  BACKUP_DIR: path.join(work, 'backups'),
  BACKUP_KEEP: String(RUNS + 1),
});
let embedded: EmbeddedDatabase | undefined;
let adminUrl = config.databaseUrl;
if (!adminUrl) {
  embedded = await useEmbeddedDatabase({ dataDir: path.join(work, 'data'), port: await freePort() });
  adminUrl = embedded.url;
}
const name = `swipesavvy_bench_${randomBytes(4).toString('hex')}`;
const admin = createPool(adminUrl, 1);
await admin.query(`CREATE DATABASE ${name}`);
const url = withDatabase(adminUrl, name);
const db = createPool(url, 2);
try {
  await migrate(db);
  const half = Math.floor(ROWS / 2);
  const genMs = await time(async () => {
    await db.query(`
      WITH m AS (INSERT INTO merchants (name, webhook_secrets) VALUES ('Bench', ARRAY['s']) RETURNING id),
           c AS (INSERT INTO campaigns (merchant_id, name, channel) SELECT id, 'Bench', 'email' FROM m RETURNING id, merchant_id)
      INSERT INTO customers (merchant_id, email) SELECT c.merchant_id, 'c' || g || '@example.test' FROM c, generate_series(1, 1000) g`);
    await db.query(
      `INSERT INTO campaign_variants (campaign_id, name, weight, position) SELECT id, 'A', 1, 0 FROM campaigns`,
    );
    await db.query(
      `INSERT INTO notifications (merchant_id, kind, channel, recipient, payload, status, created_at)
       SELECT m.id, 'test', 'email', 'r' || g || '@example.test', jsonb_build_object('n', g), 'queued', now() - (g || ' seconds')::interval
         FROM merchants m, generate_series(1, $1) g`,
      [half],
    );
    await db.query(
      `INSERT INTO events (merchant_id, id, type, campaign_id, customer_id, occurred_at)
       SELECT c.merchant_id, 'e' || g, (ARRAY['impression','open','click','conversion'])[1 + g % 4], c.id,
              cs.ids[1 + g % array_length(cs.ids, 1)], now() - (g || ' seconds')::interval
         FROM campaigns c, (SELECT array_agg(id) AS ids FROM customers) cs, generate_series(1, $1) g`,
      [ROWS - half],
    );
    await db.query('ANALYZE');
  });
  console.log(
    `generated ${ROWS} rows (${half} notifications, ${ROWS - half} events) in ${(genMs / 1000).toFixed(1)} s`,
  );

  const baselineOut: number[] = [];
  const baselineIn: number[] = [];
  const backup: number[] = [];
  const restore: number[] = [];
  let method = '';
  for (let run = 0; run < RUNS; run++) {
    baselineOut.push(
      await time(async () => {
        const client = await db.connect();
        try {
          for (const t of ['notifications', 'events']) {
            await pipeline(
              // the form the backup itself uses: COPY TO refuses a partitioned table (events)
              client.query(copyTo(`COPY (SELECT * FROM ${t}) TO STDOUT`)),
              new Writable({ write: (_c, _e, done) => done() }),
            );
          }
        } finally {
          client.release();
        }
      }),
    );
    baselineIn.push(
      await time(async () => {
        await db.query('CREATE TABLE bench_n AS TABLE notifications; CREATE TABLE bench_e AS TABLE events');
      }),
    );
    await db.query('DROP TABLE bench_n, bench_e');
    let result: Awaited<ReturnType<typeof createBackup>> | undefined;
    backup.push(await time(async () => (result = await createBackup({ url, config }))));
    method = result!.manifest.tool;
    const v = await verifyBackup(url, result!.dir, { backupId: result!.id });
    if (!v.ok) throw new Error(`verification failed: ${JSON.stringify(v)}`);
    restore.push(v.restoreMs);
  }
  const rate = (ms: number) => `${Math.round(ROWS / (ms / 1000)).toLocaleString('en')} rows/s`;
  const b = median(backup);
  const r = median(restore);
  const bo = median(baselineOut);
  const bi = median(baselineIn);
  console.log(`method: ${method}; ${RUNS} run(s), medians`);
  console.log(`baseline COPY out of every row   ${(bo / 1000).toFixed(2)} s  ${rate(bo)}`);
  console.log(
    `backup                           ${(b / 1000).toFixed(2)} s  ${rate(b)}  (${(b / bo).toFixed(2)}× the baseline)`,
  );
  console.log(`baseline server-side table copy  ${(bi / 1000).toFixed(2)} s  ${rate(bi)}`);
  console.log(
    `verified restore (drill)         ${(r / 1000).toFixed(2)} s  ${rate(r)}  (${(r / bi).toFixed(2)}× the baseline)`,
  );
  console.log(`backup + verified restore        ${((b + r) / 1000).toFixed(2)} s`);
} finally {
  await db.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  rmSync(work, { recursive: true, force: true });
}
