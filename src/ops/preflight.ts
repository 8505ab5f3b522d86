import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runIntegrityCheck } from '../modules/integrity/integrity.service.ts';
import type { Config } from '../platform/config.ts';
import type { Db } from '../platform/db.ts';
import { createMailer } from '../platform/mail.ts';
import { loadMigrations, migrate, pendingMigrations } from '../platform/migrate.ts';
import { Queues } from '../platform/queue.ts';
import { applicationTables, qualified } from './backup.repo.ts';
import { analyzeMigration } from './migration-compat.ts';
import {
  databaseFacts,
  queueFacts,
  replicationLag,
  rolledBackWrite,
  tableReadable,
} from './preflight.repo.ts';
import { backupChecks, securityChecks, smokeChecks } from './preflight.security.ts';
import { CRITICAL_METRICS, PREFLIGHT, stateOf } from './thresholds.ts';

export const GROUPS = ['infrastructure', 'dependencies', 'database', 'security', 'backup', 'smoke'] as const;
export type Group = (typeof GROUPS)[number];
export type Status = 'pass' | 'warn' | 'fail';
export type CheckResult = {
  group: Group;
  name: string;
  status: Status;
  value: string;
  reason: string;
  ms: number;
};
export type Verdict = { status: Status; value: string | number; reason: string };

export type PreflightContext = {
  config: Config;
  url: string;
  db: Db;
  embedded: boolean;
  baseUrl: string;
  migrationsDir: string;
  releaseDir: string;
  /** multiplies the smoke tests' time budgets (a slow staging host) */
  smokeBudgetScale?: number;
};

export type PreflightReport = {
  status: 'ready' | 'not_ready';
  passed: number;
  warnings: number;
  failed: number;
  durationMs: number;
  checks: CheckResult[];
};

export type Check = (name: string, run: () => Promise<Verdict> | Verdict) => Promise<void>;

export const pass = (value: string | number, reason: string): Verdict => ({ status: 'pass', value, reason });
export const warn = (value: string | number, reason: string): Verdict => ({ status: 'warn', value, reason });
export const fail = (value: string | number, reason: string): Verdict => ({ status: 'fail', value, reason });

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;
const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
const metric = (key: string) => CRITICAL_METRICS.find((m) => m.key === key)!;

/** The nearest existing directory: a check of a directory not created yet measures where it will be. */
function existing(dir: string): string {
  let d = path.resolve(dir);
  while (!existsSync(d) && d !== path.dirname(d)) d = path.dirname(d);
  return d;
}

export function diskFree(dir: string): { free: number; total: number; inodesFree: number; inodes: number } {
  const s = statfsSync(existing(dir));
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize, inodesFree: s.ffree, inodes: s.files };
}

function freeDiskVerdict(dir: string): Verdict {
  const { free } = diskFree(dir);
  const where = existing(dir);
  if (free < PREFLIGHT.diskFreeFailBytes)
    return fail(gib(free), `free at ${where}, below ${gib(PREFLIGHT.diskFreeFailBytes)}`);
  if (free < PREFLIGHT.diskFreeWarnBytes)
    return warn(
      gib(free),
      `free at ${where}; the runbook asks for more than ${gib(PREFLIGHT.diskFreeWarnBytes)}`,
    );
  return pass(gib(free), `free at ${where}`);
}

function memAvailable(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return os.freemem();
}

export function portState(port: number): Promise<'free' | 'in use'> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('in use');
    });
    socket.once('error', () => resolve('free'));
    socket.once('timeout', () => {
      socket.destroy();
      resolve('free');
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: another service's JSON; each check reads the fields it needs
type Json = any;

export async function getJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

async function infrastructure(ctx: PreflightContext, check: Check) {
  const { config } = ctx;
  await check('disk.data-free', () => freeDiskVerdict(config.dataDir));
  await check('disk.data-usage', () => {
    const d = diskFree(config.dataDir);
    const used = 1 - d.free / d.total;
    return used > PREFLIGHT.diskUsageFail
      ? fail(pct(used), 'disk usage above the alert level')
      : pass(pct(used), 'disk usage');
  });
  await check('disk.data-inodes', () => {
    const d = diskFree(config.dataDir);
    const ratio = d.inodes === 0 ? 1 : d.inodesFree / d.inodes;
    return ratio < 1 - PREFLIGHT.diskUsageFail
      ? fail(pct(ratio), 'inodes free')
      : pass(pct(ratio), 'inodes free');
  });
  await check('disk.backup-free', () => freeDiskVerdict(config.backupDir));
  await check('disk.tmp-free', () => freeDiskVerdict(os.tmpdir()));
  await check('fs.data-writable', () => {
    mkdirSync(config.dataDir, { recursive: true });
    const probe = path.join(config.dataDir, `.preflight-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
    return pass('writable', config.dataDir);
  });
  await check('memory.available', () => {
    const free = memAvailable();
    const used = 1 - free / os.totalmem();
    const t = metric('memory_usage');
    return stateOf(t, used) === 'red'
      ? fail(gib(free), `available of ${gib(os.totalmem())}`)
      : pass(gib(free), `available of ${gib(os.totalmem())}`);
  });
  await check('memory.usage', () => {
    const used = 1 - memAvailable() / os.totalmem();
    if (used > PREFLIGHT.memoryUsageFail) return fail(pct(used), 'memory usage above the alert level');
    const state = stateOf(metric('memory_usage'), used);
    return state === 'green'
      ? pass(pct(used), 'memory in use')
      : warn(pct(used), 'memory in use above the target');
  });
  await check('cpu.cores', () => {
    const n = os.availableParallelism();
    return n < 2 ? warn(n, 'one core: the API, workers and database compete') : pass(n, 'cores available');
  });
  for (const [i, label] of [
    [0, '1m'],
    [1, '5m'],
  ] as const) {
    await check(`cpu.load-${label}`, () => {
      const perCore = os.loadavg()[i]! / os.availableParallelism();
      const v = perCore.toFixed(2);
      if (perCore > PREFLIGHT.loadPerCoreFail) return fail(v, 'load per core: the host is overloaded');
      if (perCore > PREFLIGHT.loadPerCoreWarn) return warn(v, 'load per core is high');
      return pass(v, 'load per core');
    });
  }
  await check('ports.api', async () => {
    if ((await portState(config.port)) === 'free') return pass(config.port, 'free');
    const health = await getJson(`http://127.0.0.1:${config.port}/api/health`).catch(() => undefined);
    if (health?.body?.status === 'healthy')
      return warn(config.port, `in use by SwipeSavvy ${health.body.version} (the running version)`);
    return fail(config.port, 'in use by another program');
  });
  await check('ports.mailbox', async () => {
    if (config.smtpUrl) return pass('SMTP_URL', 'external SMTP: no local mailbox port');
    if (config.mailboxPort === 0) return pass(0, 'a free port is chosen at start');
    return (await portState(config.mailboxPort)) === 'free'
      ? pass(config.mailboxPort, 'free')
      : warn(config.mailboxPort, 'in use (by a running SwipeSavvy mailbox, or another program)');
  });
  await check('ports.embedded-postgres', async () => {
    if (!ctx.embedded) return pass('DATABASE_URL', 'external database: no embedded server');
    return pass(config.embeddedPgPort, 'the embedded PostgreSQL answers on its port');
  });
  await check('clock.database-skew', async () => {
    const t0 = Date.now();
    const facts = await databaseFacts(ctx.db, PREFLIGHT.longTransactionSeconds);
    const skew = Math.abs(new Date(facts.now).getTime() - (t0 + Date.now()) / 2) / 1000;
    const v = `${skew.toFixed(3)} s`;
    if (skew > PREFLIGHT.clockSkewFailSeconds)
      return fail(v, 'this host and the database disagree on the time');
    if (skew > PREFLIGHT.clockSkewWarnSeconds)
      return warn(v, 'clock skew between this host and the database');
    return pass(v, 'clock skew between this host and the database');
  });
  await check('clock.timezone', () => {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return tz === 'UTC' || tz === 'Etc/UTC'
      ? pass(tz, 'timestamps are stored in UTC')
      : warn(tz, 'the host is not on UTC; logs will mix zones');
  });
  await check('runtime.node', () => {
    const major = Number(process.versions.node.split('.')[0]);
    return major >= 24
      ? pass(process.versions.node, 'Node.js 24 LTS or newer')
      : fail(process.versions.node, 'Node.js 24 is required');
  });
  await check('runtime.open-files', () => {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    const soft = m?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m?.[1] ?? 0);
    return soft < 4096
      ? warn(soft, 'a low file descriptor limit caps concurrent connections')
      : pass(m?.[1] ?? '?', 'open file limit');
  });
  await check('dns.localhost', async () => {
    const r = await lookup('localhost');
    return pass(r.address, 'localhost resolves');
  });
}

async function dependencies(ctx: PreflightContext, check: Check) {
  const { config } = ctx;
  await check('database.reachable', async () => {
    const t0 = performance.now();
    await ctx.db.query('SELECT 1');
    return pass(`${(performance.now() - t0).toFixed(1)} ms`, 'round trip');
  });
  await check('database.version', async () => {
    const f = await databaseFacts(ctx.db, PREFLIGHT.longTransactionSeconds);
    return f.versionNum >= 150_000
      ? pass(f.version, 'PostgreSQL 15 or newer')
      : fail(f.version, 'PostgreSQL 15 or newer is required');
  });
  await check('smtp', async () => {
    if (config.smtpUrl) {
      const mailer = createMailer(config.smtpUrl);
      try {
        await mailer.verify();
        return pass(new URL(config.smtpUrl).host, 'SMTP server accepts connections');
      } finally {
        mailer.close();
      }
    }
    if (config.mailboxPort !== 0 && (await portState(config.mailboxPort)) === 'in use')
      return pass(`127.0.0.1:${config.mailboxPort}`, 'the local mailbox is listening');
    return warn(
      'local mailbox',
      'no SMTP_URL: the built-in mailbox starts with the server (mail stays local)',
    );
  });
  await check('redis', async () => {
    if (!config.redisUrl) return pass('not configured', 'rate limits and caches are in-process');
    const u = new URL(config.redisUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host: u.hostname, port: Number(u.port || 6379), timeout: 3000 });
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().trim());
      });
      socket.once('error', reject);
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error('timed out'));
      });
    });
    return answer === '+PONG' || answer.startsWith('-NOAUTH')
      ? pass(u.host, answer === '+PONG' ? 'PONG' : 'answers (authentication required)')
      : fail(u.host, `unexpected answer ${answer.slice(0, 40)}`);
  });
  const queue = await queueFacts(ctx.db).catch(() => undefined);
  await check('queue.schema', () =>
    queue
      ? pass(`pg-boss schema v${queue.version}`, 'job queue installed')
      : fail('missing', 'the pg-boss schema is not installed: start the server once'),
  );
  await check('queue.queues', () => {
    if (!queue) return fail('missing', 'no job queue');
    const names = queue.queues.map((q) => q.name);
    const missing = Object.values(Queues)
      .map((q) => q.name)
      .filter((n) => !names.includes(n));
    return missing.length === 0
      ? pass(names.join(', '), 'every queue the workers use exists')
      : fail(missing.join(', '), 'queues missing');
  });
  await check('queue.backlog', () => {
    if (!queue) return fail('missing', 'no job queue');
    const queued = queue.queues.reduce((s, q) => s + q.queued, 0);
    const state = stateOf(metric('notification_queue'), queued);
    return state === 'red'
      ? fail(queued, 'jobs waiting')
      : state === 'yellow'
        ? warn(queued, 'jobs waiting')
        : pass(queued, 'jobs waiting');
  });
  await check('queue.failed-last-hour', () => {
    if (!queue) return fail('missing', 'no job queue');
    return queue.failedLastHour > 0
      ? warn(queue.failedLastHour, 'jobs failed for good in the last hour')
      : pass(0, 'no job failed in the last hour');
  });
  await check('queue.workers', () => {
    if (!queue) return fail('missing', 'no job queue');
    return queue.liveInstances > 0
      ? pass(queue.liveInstances, 'queue instances with a live heartbeat')
      : warn(0, 'no running instance: jobs wait until the server starts');
  });
  await check('scheduler.registered', () => {
    if (!queue) return fail('missing', 'no job queue');
    const cron = queue.cronOn
      ? `cron last ran ${Math.round((Date.now() - new Date(queue.cronOn).getTime()) / 1000)} s ago`
      : 'cron has not run yet';
    const list = queue.schedules.map((s) => `${s.name} (${s.cron})`).join(', ') || 'none';
    return pass(`${queue.schedules.length} schedule(s)`, `${list}; ${cron}`);
  });
  const health = await getJson(`${ctx.baseUrl}/api/health`).catch((e: Error) => e);
  await check('api.health', () =>
    health instanceof Error
      ? fail(ctx.baseUrl, `not reachable: ${health.message}`)
      : health.body?.status === 'healthy'
        ? pass(`v${health.body.version}`, `GET ${ctx.baseUrl}/api/health`)
        : fail(health.status, 'unexpected health answer'),
  );
  await check('api.status', async () => {
    const s = await getJson(`${ctx.baseUrl}/api/status`);
    const services = (s.body?.services ?? {}) as Record<string, string>;
    const bad = Object.entries(services).filter(([, v]) => v !== 'running' && v !== 'external');
    return bad.length === 0 && Object.keys(services).length > 0
      ? pass(Object.keys(services).join(', '), 'every service running')
      : fail(bad.map(([k, v]) => `${k}=${v}`).join(', ') || s.status, 'services not running');
  });
}

async function database(ctx: PreflightContext, check: Check) {
  await check('database.connect', async () => {
    const t0 = performance.now();
    const client = await ctx.db.connect();
    client.release();
    return pass(`${(performance.now() - t0).toFixed(1)} ms`, 'a connection from the pool');
  });
  await check('database.write', async () => {
    const client = await ctx.db.connect();
    try {
      await rolledBackWrite(client);
    } finally {
      client.release();
    }
    return pass('insert, update, delete', 'inside a transaction that was rolled back');
  });
  const migrations = loadMigrations(ctx.migrationsDir);
  let pending: typeof migrations = [];
  await check('migrations.checksums', async () => {
    const client = await ctx.db.connect();
    try {
      pending = await pendingMigrations(client, migrations);
    } finally {
      client.release();
    }
    return pass(
      `${migrations.length - pending.length} applied`,
      'no applied migration was edited or removed',
    );
  });
  await check('migrations.pending', () =>
    pass(
      pending.length === 0 ? 'none' : pending.map((m) => `${m.version}_${m.name}`).join(', '),
      pending.length === 0 ? 'the schema is up to date' : 'applied by the deploy',
    ),
  );
  await check('migrations.dry-run', async () => {
    if (pending.length === 0) return pass('nothing to apply', 'no pending migration');
    const r = await migrate(ctx.db, { dryRun: true, migrations });
    return pass(`${r.applied.length} applied and rolled back`, 'every pending migration applies');
  });
  if (pending.length === 0)
    await check('migrations.compatibility', () =>
      pass('none pending', 'nothing can break the running version'),
    );
  for (const m of pending) {
    await check(`migrations.compatibility.${m.version}_${m.name}`, () => {
      const r = analyzeMigration(m.sql);
      if (r.findings.length === 0)
        return pass('expand only', 'the running version keeps working against the new schema');
      const list = r.findings
        .map((f) => `line ${f.line}: ${f.kind} (${f.statement.slice(0, 60)}) — ${f.why}`)
        .join('; ');
      return r.contract
        ? warn(
            `${r.findings.length} destructive statement(s)`,
            `marked as a contract step: apply only once the old version is retired; ${list}`,
          )
        : fail(
            `${r.findings.length} destructive statement(s)`,
            `not backward compatible, rollback would break: ${list}; split it into expand and contract`,
          );
    });
  }
  const integrity = await runIntegrityCheck(ctx.db).catch((e: Error) => e);
  if (integrity instanceof Error) await check('integrity', () => fail('error', integrity.message));
  else
    for (const c of integrity.checks)
      await check(`integrity.${c.checkName}`, () =>
        c.violations === 0 ? pass(0, c.description) : fail(`${c.violations} violation(s)`, c.description),
      );
  for (const t of await applicationTables(ctx.db)) {
    await check(`tables.${t.name}`, async () => {
      await tableReadable(ctx.db, qualified(t));
      return pass('readable', 'exists and answers');
    });
  }
  await check('replication.lag', async () => {
    const replicas = await replicationLag(ctx.db);
    if (replicas.length === 0) return pass('no replicas', 'no streaming replica is attached');
    const worst = Math.max(...replicas.map((r) => r.lagSeconds ?? 0));
    const state = stateOf(metric('replication_lag'), worst);
    const v = `${worst.toFixed(2)} s (${replicas.length} replica(s))`;
    return state === 'green'
      ? pass(v, 'replica lag')
      : state === 'yellow'
        ? warn(v, 'replica lag')
        : fail(v, 'replica lag');
  });
  const facts = await databaseFacts(ctx.db, PREFLIGHT.longTransactionSeconds);
  await check('pool.headroom', () => {
    const free = facts.maxConnections - facts.connections;
    const need = PREFLIGHT.poolInstances * ctx.config.dbPoolMax;
    const v = `${free} free of ${facts.maxConnections}`;
    if (free >= need)
      return pass(
        v,
        `room for ${PREFLIGHT.poolInstances} pools of ${ctx.config.dbPoolMax} (old and new version)`,
      );
    if (free >= ctx.config.dbPoolMax)
      return warn(v, `room for one pool of ${ctx.config.dbPoolMax} only: old and new cannot both be full`);
    return fail(v, `not even one pool of ${ctx.config.dbPoolMax} fits`);
  });
  await check('pool.usage', () => {
    const ratio = facts.connections / facts.maxConnections;
    const state = stateOf(metric('db_pool_usage'), ratio);
    return state === 'red'
      ? fail(pct(ratio), 'server connections in use')
      : state === 'yellow'
        ? warn(pct(ratio), 'server connections in use')
        : pass(pct(ratio), 'server connections in use');
  });
  await check('database.long-transactions', () =>
    facts.longTransactions > 0
      ? warn(
          facts.longTransactions,
          `transactions open > ${PREFLIGHT.longTransactionSeconds} s block migrations`,
        )
      : pass(0, 'no long-running transaction'),
  );
  await check('database.lock-waits', () =>
    facts.waitingLocks > 0
      ? warn(facts.waitingLocks, 'sessions waiting on locks')
      : pass(0, 'no session waits on a lock'),
  );
  await check('database.encoding', () =>
    facts.encoding === 'UTF8' ? pass('UTF8', 'encoding') : fail(facts.encoding, 'UTF8 is required'),
  );
  await check('database.size', () => pass(gib(facts.sizeBytes), 'database size'));
}

/** Runs the checks of the selected groups, one after the other, reporting each as it completes. */
export async function runPreflight(
  ctx: PreflightContext,
  options: { groups?: readonly Group[]; onCheck?: (c: CheckResult) => void } = {},
): Promise<PreflightReport> {
  const t0 = performance.now();
  const checks: CheckResult[] = [];
  const groups = options.groups ?? GROUPS;
  const runners: Record<Group, (ctx: PreflightContext, check: Check) => Promise<void>> = {
    infrastructure,
    dependencies,
    database,
    security: securityChecks,
    backup: backupChecks,
    smoke: smokeChecks,
  };
  for (const group of GROUPS) {
    if (!groups.includes(group)) continue;
    const check: Check = async (name, run) => {
      const s = performance.now();
      let verdict: Verdict;
      try {
        verdict = await run();
      } catch (error) {
        verdict = fail('error', (error as Error).message);
      }
      const result: CheckResult = {
        group,
        name,
        ...verdict,
        value: String(verdict.value),
        ms: Math.round(performance.now() - s),
      };
      checks.push(result);
      options.onCheck?.(result);
    };
    try {
      await runners[group](ctx, check);
    } catch (error) {
      await check(`${group}.error`, () => fail('error', (error as Error).message));
    }
  }
  const count = (s: Status) => checks.filter((c) => c.status === s).length;
  return {
    status: count('fail') === 0 ? 'ready' : 'not_ready',
    passed: count('pass'),
    warnings: count('warn'),
    failed: count('fail'),
    durationMs: Math.round(performance.now() - t0),
    checks,
  };
}
