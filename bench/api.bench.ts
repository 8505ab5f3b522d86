// npm run bench:api — the API's throughput and latency on the embedded database with demo data.
// The server runs in its own process (as in production); autocannon drives it from this one.
// Every route is compared with a baseline measured in the same run: GET /api/health/db, which
// does `SELECT 1` through the same pool, so the ratios say what each route costs beyond a round trip.
// Each figure is the median of alternating rounds (a burst of noise on a shared machine hits every
// route alike). The writes go to a merchant of their own, so the reads' data stay the same.
//   npm run bench:api -- [--duration 5] [--rounds 3] [--connections 50] [--customers 5000]
//                        [--only TEXT] [--cpu-prof DIR]
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { median } from '../src/ops/stats.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    customers: { type: 'string', default: '5000' },
    // writes the server's V8 CPU profile (open it in Chrome DevTools) to this directory
    'cpu-prof': { type: 'string' },
    // only the routes whose name contains this text (the baseline always runs)
    only: { type: 'string' },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const CLI = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)),
    );
  });
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-'));
chmodSync(dataDir, 0o755);
const port = await freePort();
const env = {
  ...process.env,
  DATA_DIR: dataDir,
  PORT: String(port),
  EMBEDDED_PG_PORT: String(await freePort()),
  MAILBOX_PORT: String(await freePort()),
  LOG_LEVEL: 'warn',
  DB_POOL_MAX: '20',
};
const serverEnv = values['cpu-prof']
  ? { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(values['cpu-prof'])}` }
  : env;
const base = `http://127.0.0.1:${port}`;
let server: ChildProcess | undefined;

try {
  console.error(`▸ loading demo data (${values.customers} customers)`);
  await run(['seed-demo', '--customers', values.customers], env);
  console.error('▸ starting the server');
  server = spawn(process.execPath, [CLI, 'start'], {
    env: serverEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const post = (url: string, body: unknown) =>
    fetch(`${base}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ token: string }>);
  const bearer = (token: string) => ({
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
  });
  const headers = bearer(
    (await post('/api/auth/login', { email: 'demo@swipesavvy.local', password: 'swipesavvy-demo' })).token,
  );
  // The writes go to a merchant of their own: the campaigns they create would otherwise pile up in
  // the demo merchant's list and portfolio between the alternating rounds.
  const writer = { email: 'bench-writer@example.test', password: 'bench writer password' };
  await post('/api/users/signup', { ...writer, name: 'Writer' });
  const writerHeaders = bearer((await post('/api/auth/login', writer)).token);
  const list = await fetch(`${base}/api/campaigns?limit=10`, { headers }).then(
    (r) => r.json() as Promise<{ items: { id: string }[] }>,
  );
  const campaignId = list.items[0]!.id;

  const routes: {
    name: string;
    method: 'GET' | 'POST';
    path: string;
    body?: string;
    read: boolean;
    headers?: Record<string, string>;
  }[] = [
    { name: 'baseline: SELECT 1 (GET /api/health/db)', method: 'GET', path: '/api/health/db', read: true },
    { name: 'GET /api/health', method: 'GET', path: '/api/health', read: true },
    { name: 'GET /api/campaigns/{id}', method: 'GET', path: `/api/campaigns/${campaignId}`, read: true },
    { name: 'GET /api/campaigns?limit=10', method: 'GET', path: '/api/campaigns?limit=10', read: true },
    { name: 'GET /api/analytics/portfolio', method: 'GET', path: '/api/analytics/portfolio', read: true },
    {
      name: 'POST /api/campaigns',
      method: 'POST',
      path: '/api/campaigns',
      body: JSON.stringify({
        name: 'Bench',
        channel: 'email',
        budget: 100,
        variants: [{ name: 'A', weight: 1 }],
      }),
      read: false,
      headers: writerHeaders,
    },
  ];

  type Run = { rps: number; p50: number; p99: number; errors: number };
  const measure = async (route: (typeof routes)[number], seconds: number) => {
    const r = await autocannon({
      url: `${base}${route.path}`,
      method: route.method,
      headers: route.headers ?? headers,
      body: route.body,
      connections,
      duration: seconds,
    });
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
  };
  const selected = routes.filter((r, i) => i === 0 || !values.only || r.name.includes(values.only));
  const runs = new Map<string, Run[]>(selected.map((r) => [r.name, []]));
  // Rounds alternate the routes, so a burst of noise on this shared machine hits all of them alike;
  // each figure is the median over the rounds.
  for (let round = 1; round <= rounds; round++) {
    for (const route of selected) {
      process.stderr.write(
        `▸ round ${round}/${rounds}: ${route.name} (${duration} s, ${connections} connections) … `,
      );
      // a short unmeasured run first: JIT, pool connections and PostgreSQL's caches warm up
      if (round === 1) await measure(route, 1);
      const r = await measure(route, duration);
      runs.get(route.name)!.push(r);
      process.stderr.write(`${Math.round(r.rps)} req/s\n`);
    }
  }
  const med = (xs: number[]) => median(xs);
  const results = selected.map((route) => {
    const rs = runs.get(route.name)!;
    return {
      name: route.name,
      read: route.read,
      rps: med(rs.map((r) => r.rps)),
      p50: med(rs.map((r) => r.p50)),
      p99: med(rs.map((r) => r.p99)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    };
  });

  const baseline = results[0]!.rps;
  console.log(
    `\nSwipeSavvy API benchmark — ${connections} connections, ${duration} s per route, median of ${rounds} alternating rounds, demo data`,
  );
  console.log(
    '\nthroughput (closed loop: every connection sends its next request as soon as the last is answered)',
  );
  console.log(
    `${'route'.padEnd(44)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'× baseline'.padStart(12)}${'errors'.padStart(8)}`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(44)}${Math.round(r.rps).toString().padStart(9)}${r.p50.toFixed(1).padStart(9)}${r.p99.toFixed(1).padStart(9)}${(r.rps / baseline).toFixed(2).padStart(12)}${String(r.errors).padStart(8)}`,
    );
  }
  const worst = (xs: { p99: number }[]) => Math.max(...xs.map((r) => r.p99));
  const saturated = worst(results.filter((r) => r.read));
  const single = results.find((r) => r.name === 'GET /api/campaigns/{id}');
  console.log('\nTargets:');
  console.log(
    `  reads p99 ≤ 20 ms: worst ${saturated.toFixed(1)} ms ${saturated <= 20 ? '✓' : '✗'} (the SELECT 1 baseline's own p99: ${results[0]!.p99.toFixed(1)} ms)`,
  );
  if (single) {
    console.log(
      `  single-row read ≥ 0.6 × baseline: GET /api/campaigns/{id} ${(single.rps / baseline).toFixed(2)} ${single.rps / baseline >= 0.6 ? '✓' : '✗'}`,
    );
  }
} finally {
  if (server && server.exitCode === null) {
    server.kill('SIGINT');
    await new Promise((r) => server!.once('exit', r));
  }
  rmSync(dataDir, { recursive: true, force: true });
}
