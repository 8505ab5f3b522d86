// npm run bench:notify — a 100,000-recipient webhook campaign to a local sink in its own process.
// Prints the sink's own capacity (autocannon, same run), the pipeline's deliveries/s and their
// ratio, time to complete, memory peak, lost and duplicated (sink's count against the database),
// then the SIGKILL scenario's accounting. Bounded: every phase has a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { startNotificationWorkers } from '../src/modules/notifications/notifications.jobs.ts';
import { createNotifier } from '../src/modules/notifications/notifications.service.ts';
import { loadConfig } from '../src/platform/config.ts';
import { createPool } from '../src/platform/db.ts';
import { useEmbeddedDatabase } from '../src/platform/embedded-db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { startRuntime } from '../src/platform/runtime.ts';
import { freePort } from '../test/global-setup.ts';

const RECIPIENTS = Number(process.env['BENCH_RECIPIENTS'] ?? 100_000);
const CRASH_RECIPIENTS = Number(process.env['BENCH_CRASH_RECIPIENTS'] ?? 20_000);
const root = path.resolve(import.meta.dirname, '..');
const node = process.execPath;
const say = (line: string) => process.stdout.write(`${line}\n`);

async function within<T>(ms: number, what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(node, [path.join(root, 'bench/notify-sink.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (d) => resolve(String(d).trim())),
  );
  return { url: `http://127.0.0.1:${port}`, child };
}

const sinkStats = async (url: string) =>
  (await (await fetch(`${url}/stats`)).json()) as { distinct: number; total: number };

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-'));
chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user and must enter it
const external = process.env['BENCH_DATABASE_URL'];
const embedded = external ? undefined : await useEmbeddedDatabase({ dataDir, port: await freePort() });
const databaseUrl = external ?? embedded!.url;
const children: ChildProcess[] = [];
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

try {
  say(`database: ${external ? 'BENCH_DATABASE_URL' : 'embedded PostgreSQL (the product default settings)'}`);
  const admin = createPool(databaseUrl, 2);
  await migrate(admin);
  const sink = await startSink();
  children.push(sink.child);

  // 1. the sink's own capacity: the ceiling the pipeline is measured against
  const body = JSON.stringify({
    type: 'campaign',
    timestamp: new Date().toISOString(),
    data: { text: 'x'.repeat(60) },
  });
  let n = 0;
  const capacity = await autocannon({
    url: `${sink.url}/hook`,
    method: 'POST',
    connections: 64,
    duration: 5,
    body,
    headers: { 'content-type': 'application/json' },
    setupClient: (client) =>
      client.setHeaders({ 'content-type': 'application/json', 'webhook-id': `cap-${n++}` }),
  });
  const sinkRate = capacity.requests.average;
  say(`sink capacity (autocannon, 64 connections, 5 s): ${Math.round(sinkRate)} req/s`);
  await fetch(`${sink.url}/reset`, { method: 'POST' });

  // 2. a merchant, a campaign, and its audience
  const merchant = (
    await admin.query(
      `INSERT INTO merchants (name, webhook_secrets) VALUES ('Bench', ARRAY['whsec_' || encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64')]) RETURNING id`,
    )
  ).rows[0].id as string;
  const user = (
    await admin.query(
      `INSERT INTO users (merchant_id, email, password_hash, name, role) VALUES ($1, 'bench@example.test', 'x', 'Bench', 'owner') RETURNING id`,
      [merchant],
    )
  ).rows[0].id as string;
  async function campaignFor(name: string, count: number) {
    const id = (
      await admin.query(
        `INSERT INTO campaigns (merchant_id, name, channel, segment) VALUES ($1, $2, 'webhook', jsonb_build_object('city', jsonb_build_array($2::text))) RETURNING id`,
        [merchant, name],
      )
    ).rows[0].id as string;
    await admin.query(
      `INSERT INTO campaign_variants (campaign_id, name, weight, content, position) VALUES ($1, 'A', 1, '{"subject":"Offer","body":"Ten percent off"}', 0), ($1, 'B', 1, '{"subject":"Offer","body":"Free coffee"}', 1)`,
      [id],
    );
    await admin.query(
      `INSERT INTO customers (merchant_id, webhook_url, city) SELECT $1, $2 || '/c/' || i, $3 FROM generate_series(1, $4) i`,
      [merchant, sink.url, name, count],
    );
    return id;
  }
  const mainCampaign = await campaignFor('bench-main', RECIPIENTS);
  const crashCampaign = await campaignFor('bench-crash', CRASH_RECIPIENTS);
  await admin.query('ANALYZE');

  // 3. the pipeline, in this process: queue, workers, notifier
  const env = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JWT_SECRET: 'bench-secret-that-is-long-enough-for-hs256-0123456789',
    LOG_LEVEL: 'silent',
    MAILBOX_PORT: '0',
  } as const;
  const config = loadConfig({}, env);
  const runtime = await startRuntime(config, { migrate: false, mailbox: false });
  const notifier = createNotifier(runtime);
  await startNotificationWorkers(runtime.queue!, notifier, config.notify.jobConcurrency);
  const send = await notifier.createSend(merchant, user, mainCampaign);
  const started = performance.now();
  await notifier.startSend(merchant, send.id);
  let last = 0;
  const done = await within(300_000, 'the 100,000 campaign', async () => {
    const p = await notifier.progress(merchant, send.id);
    const delivered = p.counts?.delivered ?? 0;
    if (delivered - last >= RECIPIENTS / 10) {
      say(`  … ${delivered} delivered (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      last = delivered;
    }
    return p.status === 'completed' && p;
  });
  const seconds = (performance.now() - started) / 1000;
  const stats = await sinkStats(sink.url);
  const rate = done.counts!.delivered / seconds;
  await notifier.close();
  await runtime.close();

  say('');
  say(
    `pipeline: ${done.counts!.delivered} delivered in ${seconds.toFixed(2)} s = ${Math.round(rate)} deliveries/s`,
  );
  say(`ratio pipeline / sink capacity: ${(rate / sinkRate).toFixed(2)}`);
  say(`target ≥ 5000/s and < 30 s: ${rate >= 5000 && seconds < 30 ? 'met' : 'NOT met'}`);
  say(`memory peak (bench process, pipeline in-process): ${Math.round(peakRss / 1_048_576)} MiB RSS`);
  say(
    `accounting: database delivered ${done.counts!.delivered}, failed ${done.counts!.failed}; sink distinct webhook-ids ${stats.distinct}, requests ${stats.total}`,
  );
  say(
    `lost: ${RECIPIENTS - stats.distinct}   counted twice: ${done.counts!.total - RECIPIENTS}   re-sent: ${stats.total - stats.distinct}`,
  );
  await fetch(`${sink.url}/reset`, { method: 'POST' });

  // 4. SIGKILL: a `swipesavvy worker` process killed mid-batch, then a new one
  const worker = () => {
    const c = spawn(node, [path.join(root, 'src/cli/main.ts'), 'worker'], {
      env: { ...process.env, ...env, NOTIFY_LEASE_SECONDS: '10' },
      stdio: 'ignore',
    });
    children.push(c);
    return c;
  };
  const runtime2 = await startRuntime(config, { migrate: false, mailbox: false });
  const notifier2 = createNotifier(runtime2);
  const crashSend = await notifier2.createSend(merchant, user, crashCampaign);
  await notifier2.startSend(merchant, crashSend.id);
  const first = worker();
  await within(
    60_000,
    'first deliveries',
    async () => (await sinkStats(sink.url)).distinct >= CRASH_RECIPIENTS / 4,
  );
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const atKill = await sinkStats(sink.url);
  const held = (
    await admin.query(
      `SELECT count(*)::int AS n FROM notifications WHERE send_id = $1 AND status = 'sending' AND claim_token IS NOT NULL`,
      [crashSend.id],
    )
  ).rows[0].n;
  const restarted = performance.now();
  const second = worker();
  // bounded: at the deadline the state is printed as it stands rather than waited for
  const deadline = Date.now() + 240_000;
  let crashDone = await notifier2.progress(merchant, crashSend.id);
  while (crashDone.status !== 'completed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    crashDone = await notifier2.progress(merchant, crashSend.id);
  }
  if (crashDone.status !== 'completed')
    say(`SIGKILL scenario NOT complete after 240 s: ${JSON.stringify(crashDone.counts)}`);
  second.kill('SIGTERM');
  await new Promise((r) => second.once('exit', r));
  const crashStats = await sinkStats(sink.url);
  const mismatched = (
    await admin.query(
      `SELECT count(*)::int AS n FROM notifications n WHERE send_id = $1
          AND attempts <> (SELECT count(*) FROM notification_attempts a WHERE a.notification_id = n.id)`,
      [crashSend.id],
    )
  ).rows[0].n;
  await notifier2.close();
  await runtime2.close();
  say('');
  say(
    `SIGKILL: killed at ${atKill.distinct}/${CRASH_RECIPIENTS} received, ${held} claimed in flight; restart finished in ${((performance.now() - restarted) / 1000).toFixed(1)} s`,
  );
  say(
    `SIGKILL accounting: delivered ${crashDone.counts!.delivered}, failed ${crashDone.counts!.failed}, rows ${crashDone.counts!.total}; sink distinct ${crashStats.distinct}, re-sent with the same webhook-id ${crashStats.total - crashStats.distinct}; attempt-count mismatches ${mismatched}`,
  );
  say(
    `SIGKILL lost: ${CRASH_RECIPIENTS - crashStats.distinct}   counted twice: ${crashDone.counts!.total - CRASH_RECIPIENTS}`,
  );
  await admin.end();
} finally {
  clearInterval(sampler);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await embedded?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
