// npm run bench:deploy — the deploy toolkit's figures on the embedded default, with real processes:
//   1. router overhead: p99 through the built-in router against p99 direct to the same instance,
//      both under the same fixed request rate, alternating rounds, medians (target ≤ 1 ms added);
//   2. failed requests during promote and rollback under a steady 300 requests/s (target 0), and
//      the rollback time from the decision to 100 % on the stable version (target ≤ 5 s);
//   3. a whole `golive` with 30-second canary and watch windows.
// Bounded: about four minutes. Everything started here is stopped by pid at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, quantile } from '../src/ops/stats.ts';
import { steadyLoad } from '../test/load.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    'round-seconds': { type: 'string', default: '5' },
    window: { type: 'string', default: '30s' },
    /** the smoke tests' and latency limits' scale for the golive (a shared, slow machine) */
    'budget-scale': { type: 'string', default: '1' },
  },
});
const rate = Number(values.rate);
const rounds = Number(values.rounds);
const roundMs = Number(values['round-seconds']) * 1000;
const CLI = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, ms: performance.now() - t0 }));
  });
}

async function until(url: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer`);
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-deploy-'));
chmodSync(dataDir, 0o755);
const [appPort, routerPort, controlPort] = [await freePort(), await freePort(), await freePort()];
const env = {
  ...process.env,
  DATA_DIR: dataDir,
  EMBEDDED_PG_PORT: String(await freePort()),
  MAILBOX_PORT: '0',
  LOG_LEVEL: 'warn',
  ROUTER_CONTROL_URL: `http://127.0.0.1:${controlPort}`,
};
const direct = `http://127.0.0.1:${appPort}`;
const routed = `http://127.0.0.1:${routerPort}`;
const children: ChildProcess[] = [];
const fmt = (n: number) => n.toFixed(2);
const approvals = ['infrastructure', 'database', 'backend', 'frontend', 'security', 'operations'].flatMap(
  (r) => ['--approve', `${r}=bench`],
);

try {
  console.error('▸ starting v1 (embedded PostgreSQL) and the built-in router');
  children.push(
    spawn(process.execPath, [CLI, 'start'], {
      env: { ...env, PORT: String(appPort), APP_VERSION: 'v1' },
      stdio: 'ignore',
    }),
  );
  await until(`${direct}/api/health/db`);
  children.push(
    spawn(
      process.execPath,
      [
        CLI,
        'router',
        '--port',
        String(routerPort),
        '--control-port',
        String(controlPort),
        '--backend',
        `v1=${direct}`,
      ],
      { env, stdio: 'ignore' },
    ),
  );
  await until(`${routed}/api/health`);

  console.error(
    `▸ router overhead: ${rounds} rounds × ${roundMs / 1000}s direct and routed at ${rate} req/s`,
  );
  const p99 = { direct: [] as number[], routed: [] as number[] };
  const p50 = { direct: [] as number[], routed: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    for (const [name, url] of [
      ['direct', direct],
      ['routed', routed],
    ] as const) {
      const load = steadyLoad(url, { rate, path: '/api/health' });
      await new Promise((r) => setTimeout(r, roundMs));
      const s = await load.stop();
      p99[name].push(quantile(s.latencies, 0.99));
      p50[name].push(quantile(s.latencies, 0.5));
    }
  }

  console.error('▸ deploy v2 (canary 50 %, no window), then promote and roll back under load');
  const canary = await cli(
    ['deploy', '--version', 'v2', '--from', 'HEAD', '--traffic', '50', '--window', '0'],
    env,
  );
  if (canary.code !== 0) throw new Error('deploy v2 failed');
  const load = steadyLoad(routed, { rate, path: '/api/health' });
  await new Promise((r) => setTimeout(r, 2000));
  const promoted = await cli(['deploy', '--mode', 'full'], env);
  await new Promise((r) => setTimeout(r, 2000));
  const rolled = await cli(['rollback', '--json'], env);
  await new Promise((r) => setTimeout(r, 1000));
  const stats = await load.stop();
  if (promoted.code !== 0 || rolled.code !== 0) throw new Error('promote or rollback failed');
  const rollback = JSON.parse(rolled.stdout) as { rollbackMs: number; drainMs: number };

  console.error(`▸ golive v3 with ${values.window} canary and watch windows at ${rate} req/s, 5 % canary`);
  const goliveLoad = steadyLoad(routed, { rate, path: '/api/health' });
  const golive = await cli(
    [
      'golive',
      '--version',
      'v3',
      '--from',
      path.join(dataDir, 'releases', 'v2'),
      '--skip',
      'preflight,backup',
      ...approvals,
      '--traffic',
      '5',
      '--canary-window',
      values.window!,
      '--watch',
      values.window!,
      '--budget-scale',
      values['budget-scale']!,
      '--json',
    ],
    env,
  );
  const goliveStats = await goliveLoad.stop();
  const report = golive.stdout
    ? (JSON.parse(golive.stdout) as { decision: string; timeline: { phase: string; ms: number }[] })
    : undefined;

  const added = median(p99.routed) - median(p99.direct);
  console.log('\nbench:deploy — figures (medians of alternating rounds; same run, same machine)');
  console.log(
    `router p99      direct ${fmt(median(p99.direct))} ms   routed ${fmt(median(p99.routed))} ms   added ${fmt(added)} ms (target ≤ 1 ms)   ratio ${fmt(median(p99.routed) / median(p99.direct))}×`,
  );
  console.log(
    `router p50      direct ${fmt(median(p50.direct))} ms   routed ${fmt(median(p50.routed))} ms   added ${fmt(median(p50.routed) - median(p50.direct))} ms`,
  );
  console.log(
    `promote+rollback under ${rate} req/s: ${stats.failed} failed of ${stats.sent} requests (target 0; ${stats.retried} GET retried on a closed keep-alive socket); served by ${JSON.stringify(stats.byVersion)}`,
  );
  console.log(
    `rollback        decision → 100 % stable ${rollback.rollbackMs} ms (target ≤ 5000 ms); drained and stopped after ${rollback.drainMs} ms; CLI wall time ${Math.round(rolled.ms)} ms`,
  );
  console.log(
    `golive          ${report?.decision ?? 'no report'} in ${(golive.ms / 1000).toFixed(1)} s with ${values.window} windows; ${goliveStats.failed} failed of ${goliveStats.sent} requests`,
  );
  if (report)
    console.log(
      `                ${report.timeline.map((t) => `${t.phase} ${(t.ms / 1000).toFixed(1)}s`).join(' · ')}`,
    );
} finally {
  const stateFile = path.join(dataDir, 'deploy', 'state.json');
  try {
    const { readFileSync } = await import('node:fs');
    for (const i of JSON.parse(readFileSync(stateFile, 'utf8')).instances as { pid: number }[]) {
      try {
        process.kill(i.pid, 'SIGTERM');
      } catch {}
    }
  } catch {}
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of children.reverse()) {
    c.kill('SIGTERM');
    await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)));
  }
  rmSync(dataDir, { recursive: true, force: true });
}
