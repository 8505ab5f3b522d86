// npm run bench:analytics [-- --events N --transactions N --campaigns N --customers N --ingest N --requests N]
//
// Generates the data set in SQL (default 10 million events and 1 million transactions for
// 100 campaigns), then measures in the same run:
//  (a) ingestion through POST /api/events (batches of 10,000, 2 in flight) in events/s, as a ratio
//      to a raw COPY of the same rows into the same table (same indexes, same statement-level rollup
//      trigger, so the rollups are counted in both). The API's figure is its whole path: HTTP,
//      JSON, per-item validation, the merchant lock and reference check, deduplication by event id
//      (event_ids) and the rollups; COPY's is the table load and the rollups only. After both, the
//      rollups are checked against a count of the raw rows (they are kept synchronously). Each run
//      starts from a checkpoint, the worst moment for random keys (every page's first change after
//      one is logged whole): the WAL and full-page images of each run are printed with the rates;
//  (b) p50/p99 of the metrics, segments, portfolio and experiment reads, against GET /api/health
//      and the raw-event aggregate the rollups replace, both measured here too. The reads start
//      once the ingestion runs' vacuum and checkpoint are done (timed), each after a warm-up, in
//      rounds whose order rotates, 4 requests in flight.
// The data set is generated inside PostgreSQL (generate_series, chunks of a million on two
// connections) with the rollup triggers off and the customer index built afterwards, then the
// rollups are rebuilt once, and the tables vacuumed and checkpointed, as after a backfill. Event
// ids are v4 UUIDs (what clients send), in the data set and in both ingestion runs. The embedded
// server runs with the product's own settings (embeddedSettings; synchronous commit on).
// Bounded: every phase has a fixed count; the data set lives in a throwaway embedded PostgreSQL
// (or DATABASE_URL, into which it writes a merchant of its own).
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { from as copyFrom } from 'pg-copy-streams';
import { Pool as HttpPool } from 'undici';
import { buildApp } from '../src/app.ts';
import { hashPassword } from '../src/modules/auth/password.ts';
import { insertMerchant } from '../src/modules/merchants/merchants.repo.ts';
import { insertUser } from '../src/modules/users/users.repo.ts';
import { loadConfig } from '../src/platform/config.ts';
import { createPool } from '../src/platform/db.ts';
import { type EmbeddedDatabase, useEmbeddedDatabase } from '../src/platform/embedded-db.ts';
import { createMailer } from '../src/platform/mail.ts';
import { createMetrics } from '../src/platform/metrics.ts';
import { migrate } from '../src/platform/migrate.ts';
import { freePort } from '../test/global-setup.ts';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    transactions: { type: 'string', default: '1000000' },
    campaigns: { type: 'string', default: '100' },
    customers: { type: 'string', default: '200000' },
    ingest: { type: 'string', default: '300000' },
    requests: { type: 'string', default: '400' },
  },
});
const N = {
  events: Number(flags.events),
  transactions: Number(flags.transactions),
  campaigns: Number(flags.campaigns),
  customers: Number(flags.customers),
  ingest: Number(flags.ingest),
  requests: Number(flags.requests),
};
const BATCH = 10_000;
const IN_FLIGHT = 2;
const CHUNK = 1_000_000;
const GENERATORS = 2;
/** requests of each read before measuring, and the rounds the measured ones are split into */
const WARMUP = 200;
const READ_ROUNDS = 4;

const started = performance.now();
const clock = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s`;
const log = (line: string) => console.log(`[${clock()}] ${line}`);
async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const result = await work();
  log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return result;
}
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

let embedded: EmbeddedDatabase | undefined;
let dataDir: string | undefined;
const external = process.env['DATABASE_URL'];
let url: string;
if (external) url = external;
else {
  dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  embedded = await phase('embedded PostgreSQL started', () =>
    useEmbeddedDatabase({
      dataDir: dataDir!,
      port,
      // the product's own sizing (embeddedSettings), durability included
    }),
  );
  url = embedded.url;
}

const db = createPool(url, 12, 'swipesavvy-bench');
const config = loadConfig(
  {},
  {
    DATABASE_URL: url,
    PORT: '0',
    MAILBOX_PORT: String(await freePort()),
    JWT_SECRET: 'bench-secret-that-is-long-enough-for-hs256-0123456789',
    LOG_LEVEL: 'silent',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    WORKERS: 'false',
  },
);
try {
  await phase('migrations', () => migrate(db));
  const app = await buildApp({
    config,
    db,
    queue: undefined,
    mailer: createMailer(`smtp://127.0.0.1:${config.mailboxPort}`),
    jwtSecret: config.jwtSecret!,
    mailbox: false,
    metrics: createMetrics(),
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const http = new HttpPool(base, { connections: 8 });
  const email = `bench-${Date.now()}@bench.test`;
  const password = 'bench password 123';
  // the owner is made directly: signup queues a welcome email, and this run has no queue
  const merchant = await insertMerchant(db, { name: 'Bench Merchant' });
  const merchantId = merchant.id;
  await insertUser(db, {
    merchantId,
    email,
    passwordHash: await hashPassword(password),
    name: 'Bench',
    role: 'owner',
  });
  const login = await http.request({
    method: 'POST',
    path: '/api/auth/login',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const token = ((await login.body.json()) as { token: string }).token;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  log(
    `data set: ${N.events.toLocaleString()} events, ${N.transactions.toLocaleString()} transactions, ` +
      `${N.campaigns} campaigns, ${N.customers.toLocaleString()} customers`,
  );
  await phase('customers and campaigns', async () => {
    await db.query(
      `INSERT INTO customers (merchant_id, email, city, age_band, device, tier)
       SELECT $1, 'b' || i || '@bench.test', (ARRAY['Lisbon', 'Porto', 'Madrid', 'Barcelona', 'Berlin'])[1 + i % 5],
              (ARRAY['18-24', '25-34', '35-44', '45-54', '55+'])[1 + (i / 5) % 5],
              (ARRAY['ios', 'android', 'web'])[1 + (i / 25) % 3],
              (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + (i / 75) % 4]
         FROM generate_series(0, $2 - 1) i`,
      [merchantId, N.customers],
    );
    await db.query(
      `INSERT INTO campaigns (merchant_id, name, channel, status, budget, unit_cost, reward_rate, holdout_pct, created_at)
       SELECT $1, 'Bench campaign ' || i, 'email', 'running', 1000, 0.002, 0.05, 10, now() - interval '31 days'
         FROM generate_series(0, $2 - 1) i`,
      [merchantId, N.campaigns],
    );
    await db.query(
      `INSERT INTO campaign_variants (campaign_id, name, weight, position)
       SELECT id, v.name, 1, v.pos FROM campaigns, (VALUES ('A', 0), ('B', 1)) v(name, pos) WHERE merchant_id = $1`,
      [merchantId],
    );
    await db.query('DROP TABLE IF EXISTS bench_c, bench_k');
    await db.query(
      `CREATE UNLOGGED TABLE bench_c AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS n, id FROM customers WHERE merchant_id = $1`,
      [merchantId],
    );
    await db.query(
      `CREATE UNLOGGED TABLE bench_k AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS n, id FROM campaigns WHERE merchant_id = $1`,
      [merchantId],
    );
    await db.query('ALTER TABLE bench_c ADD PRIMARY KEY (n); ALTER TABLE bench_k ADD PRIMARY KEY (n)');
    // the months the data spans get their partitions, as the scheduled job does ahead of time
    await db.query(
      `SELECT swipesavvy_event_partition(m) FROM generate_series(now() - interval '32 days', now(), interval '1 day') m`,
    );
  });

  // Bulk load with the rollup triggers off and the customer index built once afterwards, then one
  // rollup rebuild: how a backfill is done. The table ends with the same indexes as ever.
  await db.query('ALTER TABLE events DISABLE TRIGGER events_rollup');
  await db.query('ALTER TABLE transactions DISABLE TRIGGER transactions_rollup');
  const { rows: customerIndex } = await db.query<{ def: string }>(
    `SELECT pg_get_indexdef('events_customer'::regclass) AS def`,
  );
  await db.query('DROP INDEX events_customer');
  // chunks on GENERATORS connections at once; event ids are v4 UUIDs, as real clients send
  await inParallel(Math.ceil(N.events / CHUNK), async (chunk) => {
    const from = chunk * CHUNK;
    const to = Math.min(N.events, from + CHUNK);
    await phase(`events ${from.toLocaleString()}–${to.toLocaleString()}`, async () => {
      // customer k gets variant A or B by parity; B converts a little more in every other campaign
      await db.query(
        `WITH g AS (SELECT g, gen_random_uuid()::text AS id FROM generate_series($2::int, $3::int - 1) g),
         ids AS (INSERT INTO event_ids (merchant_id, id) SELECT $1, id FROM g)
         INSERT INTO events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at)
         SELECT $1, g.id,
                CASE WHEN g % 100 < 62 THEN 'impression' WHEN g % 100 < 80 THEN 'open' WHEN g % 100 < 95 THEN 'click'
                     WHEN g % 100 < 98 OR (c.n % 2 = 0 AND k.n % 2 = 1) THEN 'conversion' ELSE 'click' END,
                k.id, CASE WHEN c.n % 2 = 0 THEN 'A' ELSE 'B' END, c.id,
                now() - ((g::bigint * 104729) % (30 * 86400)) * interval '1 second'
           FROM g
           JOIN bench_k k ON k.n = g % $4
           JOIN bench_c c ON c.n = (g::bigint * 7919 / $4) % $5`,
        [merchantId, from, to, N.campaigns, N.customers],
      );
    });
  });
  await phase('events_customer index built', () =>
    db.query(customerIndex[0]!.def.replace(' ON ONLY ', ' ON ')),
  );
  await phase(`transactions (attributed as ingestion does) ${N.transactions.toLocaleString()}`, async () => {
    await inParallel(Math.ceil(N.transactions / (CHUNK / 4)), async (chunk) => {
      const from = chunk * (CHUNK / 4);
      const to = Math.min(N.transactions, from + CHUNK / 4);
      await db.query(
        `INSERT INTO transactions (merchant_id, id, customer_id, amount, currency, occurred_at, campaign_id, variant)
         SELECT $1, 't' || g, c.id, round((3 + (g % 4000) / 100.0)::numeric, 2), 'EUR', x.at, touch.campaign_id,
                CASE WHEN touch.campaign_id IS NOT NULL THEN touch.variant END
           FROM generate_series($2::int, $3::int - 1) g
           JOIN bench_c c ON c.n = (g::bigint * 15485863) % $4
           CROSS JOIN LATERAL (SELECT now() - ((g::bigint * 7877) % (30 * 86400)) * interval '1 second' AS at) x
           LEFT JOIN LATERAL (
             SELECT e.campaign_id, e.variant FROM events e JOIN campaigns k ON k.id = e.campaign_id
              WHERE e.merchant_id = $1 AND e.customer_id = c.id AND e.occurred_at <= x.at
                AND e.occurred_at > x.at - interval '90 days'
                AND e.occurred_at > x.at - make_interval(days => k.attribution_window_days)
              ORDER BY e.occurred_at DESC LIMIT 1) touch ON true`,
        [merchantId, from, to, N.customers],
      );
    });
  });
  await db.query('ALTER TABLE events ENABLE TRIGGER events_rollup');
  await db.query('ALTER TABLE transactions ENABLE TRIGGER transactions_rollup');
  await phase('rollups rebuilt from the raw rows', () =>
    db.query('SELECT analytics_rebuild($1)', [merchantId]),
  );
  // what autovacuum does to a loaded table anyway (visibility map, hint bits, statistics), and the
  // load's dirty pages written out, so neither lands inside the measurements
  await phase('VACUUM (ANALYZE), CHECKPOINT', async () => {
    await db.query('VACUUM (ANALYZE)');
    await db.query('CHECKPOINT');
  });

  const { rows: campaignRows } = await db.query<{ id: string }>('SELECT id FROM bench_k ORDER BY n');
  const campaignIds = campaignRows.map((r) => r.id);
  const { rows: customerRows } = await db.query<{ id: string; n: number }>(
    'SELECT n, id FROM bench_c ORDER BY n',
  );
  const customerIds = customerRows.map((r) => r.id);

  // (a) ingestion: the same rows through the API and through COPY
  const types = ['impression', 'impression', 'impression', 'open', 'click', 'conversion'];
  // each run its own customers for the same campaigns (`shift`), so both add experiment units
  // (COPY used to find the API run's units stored and skip their inserts)
  const rowsFor = (shift: number) =>
    Array.from({ length: N.ingest }, (_, i) => {
      const c = (i * 7919 + shift) % customerIds.length;
      return {
        id: randomUUID(),
        type: types[i % types.length]!,
        campaignId: campaignIds[i % campaignIds.length]!,
        variant: c % 2 === 0 ? 'A' : 'B',
        customerId: customerIds[c]!,
        at: new Date(Date.now() - 60_000 - (i % 3600) * 1000).toISOString(),
      };
    });
  let apiRows = rowsFor(0);
  let bodies: string[] = [];
  for (let i = 0; i < apiRows.length; i += BATCH)
    bodies.push(JSON.stringify({ events: apiRows.slice(i, i + BATCH) }));
  let accepted = 0;
  // the WAL each run writes, and how much of it is full-page images: the first change to a page
  // after a checkpoint logs the whole page, and random keys (event ids, customers) touch a new page
  // with nearly every row, so right after the checkpoint above that is most of the WAL
  const wal = async () =>
    (
      await db.query<{ bytes: string; fpi: string }>(
        'SELECT wal_bytes::text AS bytes, wal_fpi::text AS fpi FROM pg_stat_wal',
      )
    ).rows[0]!;
  const walDelta = (a: { bytes: string; fpi: string }, b: { bytes: string; fpi: string }) =>
    `${((Number(b.bytes) - Number(a.bytes)) / 2 ** 20).toFixed(0)} MB of WAL, ${(Number(b.fpi) - Number(a.fpi)).toLocaleString()} full-page images`;
  const batchMs: number[] = [];
  const apiWal0 = await wal();
  const apiSeconds = await timed(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const t = performance.now();
          const res = await http.request({ method: 'POST', path: '/api/events', headers, body });
          const json = (await res.body.json()) as { accepted: number };
          batchMs.push(performance.now() - t);
          if (res.statusCode !== 200)
            throw new Error(`ingest answered ${res.statusCode}: ${JSON.stringify(json)}`);
          accepted += json.accepted;
        }
      }),
    );
  });
  if (accepted !== N.ingest) throw new Error(`only ${accepted} of ${N.ingest} events accepted`);
  const apiWal = walDelta(apiWal0, await wal());
  let copyRows = rowsFor(Math.floor(customerIds.length / 2) + 1);
  // COPY starts from a checkpoint too, as the API run did: else it finds the pages the API run
  // already logged whole and writes a fraction of the WAL for the same rows
  await db.query('CHECKPOINT');
  const copyWal0 = await wal();
  const copySeconds = await timed(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        const client = await db.connect();
        try {
          while (next * BATCH < copyRows.length) {
            const slice = copyRows.slice(next * BATCH, ++next * BATCH);
            const tsv = slice
              .map((e) => [merchantId, e.id, e.type, e.campaignId, e.variant, e.customerId, e.at].join('\t'))
              .join('\n');
            await pipeline(
              [`${tsv}\n`],
              client.query(
                copyFrom(
                  'COPY events (merchant_id, id, type, campaign_id, variant, customer_id, occurred_at) FROM STDIN',
                ),
              ),
            );
          }
        } finally {
          client.release();
        }
      }),
    );
  });
  const copyWal = walDelta(copyWal0, await wal());
  const apiRate = N.ingest / apiSeconds;
  const copyRate = N.ingest / copySeconds;
  // the rollups are kept in the ingesting statement: they already count every row stored
  const { rows: fresh } = await db.query<{ raw: number; rolled: number }>(
    `SELECT (SELECT count(*) FROM events WHERE merchant_id = $1)::bigint AS raw,
            (SELECT sum(impressions + opens + clicks + conversions) FROM analytics_daily WHERE merchant_id = $1)::bigint AS rolled`,
    [merchantId],
  );
  if (fresh[0]!.raw !== fresh[0]!.rolled)
    throw new Error(`rollups count ${fresh[0]!.rolled} events, the table holds ${fresh[0]!.raw}`);

  // (b) reads. The app runs in this process: the ingestion runs' 600,000 generated events and
  // their request bodies are dropped and collected first, or the app's first read phase would pay
  // for marking them (a major GC of this process's heap, 50–400 ms, fell into the hourly reads)
  apiRows = [];
  bodies = [];
  copyRows = [];
  (globalThis as { gc?: () => void }).gc?.();
  // The two ingestion runs left 600,000 new rows and about 2 GB of WAL behind them: autovacuum
  // then visits the tables they grew and the checkpointer writes their pages out, for a minute or
  // more, on the same two cores. The reads are measured once that is done, as after the data set's
  // generation above (the read figures are for reads at this size, not for reads beside a
  // maintenance burst), and the time it takes is printed.
  const settleSeconds = await timed(async () => {
    await db.query('VACUUM (ANALYZE)');
    await db.query('CHECKPOINT');
  });
  const pick = () => campaignIds[Math.floor(Math.random() * campaignIds.length)]!;
  const reads: [string, () => string][] = [
    ['GET /api/health (baseline)', () => '/api/health'],
    ['metrics ?interval=hour', () => `/api/analytics/campaign/${pick()}/metrics?interval=hour`],
    ['metrics ?interval=day', () => `/api/analytics/campaign/${pick()}/metrics?interval=day`],
    ['segments ?by=city', () => `/api/analytics/campaign/${pick()}/segments?by=city`],
    ['segments ?by=tier', () => `/api/analytics/campaign/${pick()}/segments?by=tier`],
    ['portfolio ?rank=roi', () => '/api/analytics/portfolio?rank=roi'],
    ['experiment', () => `/api/analytics/campaign/${pick()}/experiment`],
  ];
  /** `count` requests of one read, 4 in flight; their latencies, ms */
  const load = async ([name, path]: [string, () => string], count: number): Promise<number[]> => {
    const times: number[] = [];
    let left = count;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (left-- > 0) {
          const t = performance.now();
          const res = await http.request({ method: 'GET', path: path(), headers });
          await res.body.dump();
          if (res.statusCode !== 200) throw new Error(`${name} answered ${res.statusCode}`);
          times.push(performance.now() - t);
        }
      }),
    );
    return times;
  };
  // Warm-up, not measured: each read's code compiled by the JIT and its statement planned on each
  // of the pool's connections (PostgreSQL settles on a prepared statement's generic plan after five
  // executions on a connection: with 12 connections, some 70 executions of each at least).
  for (const read of reads) await load(read, WARMUP);
  // Measured in rounds, every read once per round in an order that rotates: a slow moment of the
  // shared machine falls on all of them instead of on whichever read happened to run then.
  const times = new Map<string, number[]>(reads.map(([name]) => [name, []]));
  const perRound = Math.ceil(N.requests / READ_ROUNDS);
  for (let round = 0; round < READ_ROUNDS; round++)
    for (let k = 0; k < reads.length; k++) {
      const read = reads[(k + round) % reads.length]!;
      times.get(read[0])!.push(...(await load(read, perRound)));
    }
  const latencies: [string, number, number][] = reads.map(([name]) => {
    const sorted = times.get(name)!.sort((a, b) => a - b);
    return [name, quantile(sorted, 0.5), quantile(sorted, 0.99)];
  });
  // what a read cost before the rollups: one campaign's counts aggregated from its raw events
  const rawTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await db.query(
      `SELECT count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'click'),
              count(*) FILTER (WHERE type = 'conversion') FROM events WHERE merchant_id = $1 AND campaign_id = $2`,
      [merchantId, pick()],
    );
    rawTimes.push(performance.now() - t);
  }

  console.log('\n== ingestion ==');
  console.log(
    `POST /api/events   ${N.ingest.toLocaleString()} events in ${apiSeconds.toFixed(2)} s = ${Math.round(apiRate).toLocaleString()} events/s (target ≥ 50,000)`,
  );
  console.log(
    `raw COPY           ${N.ingest.toLocaleString()} events in ${copySeconds.toFixed(2)} s = ${Math.round(copyRate).toLocaleString()} events/s`,
  );
  console.log(`API / COPY ratio   ${(apiRate / copyRate).toFixed(2)} (target ≥ 0.30)`);
  const third = Math.max(1, Math.floor(batchMs.length / 3));
  console.log(
    `  batches of ${BATCH.toLocaleString()}, ${IN_FLIGHT} in flight: median ${median(batchMs.slice(0, third)).toFixed(0)} ms in the first third, ${median(batchMs.slice(-third)).toFixed(0)} ms in the last`,
  );
  console.log(`  WAL, each run from a checkpoint: API ${apiWal}; COPY ${copyWal}`);
  console.log(
    '  API: HTTP + JSON + validation + merchant lock and reference check + event_ids dedup + insert + rollups;',
  );
  console.log(
    '  COPY: insert + rollups (same table, indexes and statement trigger); rollups = raw count: yes',
  );
  console.log(
    `\n== reads at ${N.events.toLocaleString()} events (${N.requests} requests each, 4 in flight, in ${READ_ROUNDS} rotating rounds after ${WARMUP} unmeasured; VACUUM (ANALYZE) and CHECKPOINT after the ingestion runs took ${settleSeconds.toFixed(1)} s) ==`,
  );
  console.log('endpoint                       p50 ms   p99 ms   p99 vs 20 ms target');
  for (const [name, p50, p99] of latencies) {
    console.log(
      `${name.padEnd(30)} ${p50.toFixed(2).padStart(6)}   ${p99.toFixed(2).padStart(6)}   ${p99 <= 20 ? 'ok' : 'MISSED'}`,
    );
  }
  const health = latencies[0]!;
  console.log(
    `\nmedian read p50 / health p50: ${(median(latencies.slice(1).map((l) => l[1])) / health[1]).toFixed(1)}×`,
  );
  console.log(
    `raw-event aggregate of one campaign (what the rollups replace), median of 5: ${median(rawTimes).toFixed(1)} ms`,
  );
  console.log(`total run time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await http.close();
  await app.close();
} finally {
  await db.end();
  if (embedded) await embedded.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

/** Runs work(0 … count - 1), GENERATORS at a time. */
async function inParallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(GENERATORS, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function timed(work: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await work();
  return (performance.now() - t) / 1000;
}
