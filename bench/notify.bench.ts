// npm run bench:notify — a 100,000-recipient webhook campaign to a local sink in its own process.
// Prints the sink's own capacity (autocannon, same run), the pipeline's deliveries/s and their
// ratio, time to complete, memory peak, lost and duplicated (sink's count against the database),
// then the SIGKILL scenario's accounting. Bounded: every phase has a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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

/** CPU seconds of a process (Linux /proc), with its reaped children when `reaped` (the postmaster's backends). */
function cpuSeconds(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of the PostgreSQL server: the postmaster, its live processes and those that ended. */
function serverCpuSeconds(postmaster: number): number {
  let total = cpuSeconds(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuSeconds(Number(entry));
    } catch {}
  }
  return total;
}

const sinkStats = async (url: string) =>
  (await (await fetch(`${url}/stats`)).json()) as { distinct: number; total: number };

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-'));
chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user and must enter it
const external = process.env['BENCH_DATABASE_URL'];
// BENCH_PG_STATS=1: the server loads pg_stat_statements (nested statements too, i.e. triggers) and
// the top statements of the 100,000 campaign are printed: where PostgreSQL's time goes
const pgStats = process.env['BENCH_PG_STATS'] === '1';
const embedded = external
  ? undefined
  : await useEmbeddedDatabase({
      dataDir,
      port: await freePort(),
      ...(pgStats
        ? {
            settings: {
              shared_preload_libraries: 'pg_stat_statements',
              'pg_stat_statements.track': 'all',
              'pg_stat_statements.track_planning': 'on',
            },
          }
        : {}),
    });
const databaseUrl = external ?? embedded!.url;
const children: ChildProcess[] = [];
let peakRss = 0;
// memoryUsage.rss() reads one number; memoryUsage() walks the heap spaces, which showed in profiles
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);

try {
  say(`database: ${external ? 'BENCH_DATABASE_URL' : 'embedded PostgreSQL (the product default settings)'}`);
  const admin = createPool(databaseUrl, 2);
  await migrate(admin);
  if (pgStats && !external) await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
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
  // CPU of each party over the campaign: where the 2 cores go, which wall time on a shared machine hides
  const postmaster = embedded
    ? Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0])
    : 0;
  const cpuBefore = {
    pipeline: process.cpuUsage(),
    sink: cpuSeconds(sink.child.pid!),
    db: postmaster ? serverCpuSeconds(postmaster) : 0,
  };
  if (pgStats && !external) await admin.query('SELECT pg_stat_statements_reset()');
  const started = performance.now();
  await notifier.startSend(merchant, send.id);
  let last = 0;
  // polled cheaply (the send's status, the sink's counter); the counts are read once at the end
  await within(300_000, 'the 100,000 campaign', async () => {
    const { rows } = await admin.query('SELECT status FROM notification_sends WHERE id = $1', [send.id]);
    const received = (await sinkStats(sink.url)).distinct;
    if (received - last >= RECIPIENTS / 10) {
      say(`  … ${received} received by the sink (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      last = received;
    }
    return rows[0]?.status === 'completed';
  });
  const seconds = (performance.now() - started) / 1000;
  const pipelineCpu = process.cpuUsage(cpuBefore.pipeline);
  const cpu = {
    pipeline: (pipelineCpu.user + pipelineCpu.system) / 1e6,
    sink: cpuSeconds(sink.child.pid!) - cpuBefore.sink,
    db: postmaster ? serverCpuSeconds(postmaster) - cpuBefore.db : 0,
  };
  const top =
    pgStats && !external
      ? (
          await admin.query<{ ms: number; plan: number; calls: number; query: string }>(
            `SELECT round(total_exec_time)::int AS ms, round(total_plan_time)::int AS plan, calls::int,
                    regexp_replace(left(query, 110), '\\s+', ' ', 'g') AS query
               FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
          )
        ).rows
      : [];
  const done = await notifier.progress(merchant, send.id);
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
  const per1000 = (s: number) => ((s * 1000 * 1000) / done.counts!.delivered).toFixed(0);
  const cpuTotal = cpu.pipeline + cpu.sink + cpu.db;
  say(
    `CPU per 1,000 deliveries: pipeline ${per1000(cpu.pipeline)} ms, PostgreSQL ${postmaster ? `${per1000(cpu.db)} ms` : 'n/a (external)'}, sink ${per1000(cpu.sink)} ms` +
      (postmaster
        ? ` = ${per1000(cpuTotal)} ms: ~${Math.round((availableParallelism() * done.counts!.delivered) / cpuTotal)} deliveries/s would fill ${availableParallelism()} idle cores`
        : ''),
  );
  if (top.length > 0) {
    say('PostgreSQL, top statements (exec ms, plan ms, calls; nested ones included):');
    for (const t of top)
      say(
        `  ${String(t.ms).padStart(7)} ${String(t.plan).padStart(6)} ${String(t.calls).padStart(7)}  ${t.query}`,
      );
  }
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
