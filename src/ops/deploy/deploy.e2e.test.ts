import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import {
  answers,
  deployEnvironment,
  freePort,
  type RouterState,
  runCli,
  signoffs,
  startProcess,
  webhookSink,
} from '../../../test/deploy-harness.ts';
import { testDatabase } from '../../../test/helpers.ts';
import { steadyLoad } from '../../../test/load.ts';

// End to end with real processes: a stable v1 instance, the built-in router, releases from this
// repository's HEAD, the CLI as child processes, a steady load through the router.

const databaseUrl = await testDatabase();
const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
// the test database is dropped WITH (FORCE) when the file ends, maybe before this pool closes
db.on('error', () => {});
after(() => db.end());
const deployment = await deployEnvironment(databaseUrl);
const { dataDir, stableUrl } = deployment;
const sink = await webhookSink();
after(() => sink.close());
const [port, controlPort] = [await freePort(), await freePort()];
const routerUrl = `http://127.0.0.1:${port}`;
const controlUrl = `http://127.0.0.1:${controlPort}`;
const env = { ...deployment.env, ROUTER_CONTROL_URL: controlUrl, ANNOUNCE_WEBHOOK_URLS: sink.url };
const router = await startProcess(
  ['router', '--port', String(port), '--control-port', String(controlPort), '--backend', `v1=${stableUrl}`],
  env,
  () => answers(`${routerUrl}/api/health`),
);

const state = async (): Promise<RouterState> =>
  (await fetch(`${controlUrl}/state`)).json() as Promise<RouterState>;
const weights = async () => Object.fromEntries((await state()).backends.map((b) => [b.version, b.weight]));

test('the router runs as the started process, with its larger young generation', async () => {
  const s = await state();
  assert.equal(s.pid, router.pid);
  assert.ok(s.newSpaceMb >= 16, `new space ${s.newSpaceMb} MB`);
});

test('bad input is refused with a clear error and the stable version untouched', {
  timeout: 300_000,
}, async () => {
  const occupied = createServer();
  await new Promise<void>((r) => occupied.listen(0, '127.0.0.1', r));
  const busyPort = (occupied.address() as { port: number }).port;
  const blackhole = createServer(() => {}); // accepts connections, never answers: a database that hangs
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const hangPort = (blackhole.address() as { port: number }).port;
  try {
    const [unknown, busy, noRouter, noGo, noPreflight] = await Promise.all([
      runCli(['deploy', '--version', 'nosuch', '--window', '0'], env),
      runCli(
        ['deploy', '--version', 'v2', '--from', 'HEAD', '--port', String(busyPort), '--window', '0'],
        env,
      ),
      runCli(['deploy', '--version', 'v2', '--from', 'HEAD'], {
        ...env,
        ROUTER_CONTROL_URL: `http://127.0.0.1:${await freePort()}`,
      }),
      runCli(
        ['golive', '--version', 'v9', '--skip', 'preflight,backup', '--approve', 'infrastructure=ann'],
        env,
      ),
      runCli(['golive', '--version', 'v9', ...signoffs()], env),
    ]);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /unknown version nosuch/);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, new RegExp(`port ${busyPort} is in use`));
    assert.equal(noRouter.code, 1, noRouter.stderr);
    assert.match(noRouter.stderr, /cannot reach the traffic router/);
    assert.equal(noGo.code, 1, noGo.stderr);
    assert.match(
      noGo.stderr,
      /NO-GO: missing sign-off from database, backend, frontend, security, operations/,
    );
    assert.equal(noPreflight.code, 1, noPreflight.stderr);
    // preflight runs for real and fails here (no verified backup exists yet): a failed gate is a no-go
    assert.match(noPreflight.stderr, /NO-GO ❌ preflight: .*Status: NOT READY — nothing was deployed/);

    // the release from HEAD now exists (prepared before the port was refused); one that never gets ready
    const neverReady = await runCli(
      [
        'deploy',
        '--version',
        'v2hang',
        '--from',
        path.join(dataDir, 'releases', 'v2'),
        '--release-env',
        `DATABASE_URL=postgres://x@127.0.0.1:${hangPort}/x`,
        '--ready-timeout',
        '4s',
      ],
      env,
    );
    assert.equal(neverReady.code, 1, neverReady.stderr);
    assert.match(neverReady.stderr, /v2hang never became ready on port \d+ within 4s/);
  } finally {
    occupied.close();
    blackhole.close();
  }
  assert.deepEqual(await weights(), { v1: 100 });
  assert.ok(await answers(`${stableUrl}/api/health`));
  const statePath = path.join(dataDir, 'deploy', 'state.json');
  if (existsSync(statePath)) assert.deepEqual(JSON.parse(readFileSync(statePath, 'utf8')).instances, []);
});

test('a healthy v2 goes live end to end with no failed request', { timeout: 480_000 }, async () => {
  const load = steadyLoad(routerUrl, { rate: 60, path: '/api/health', maxMs: 220_000 });
  const r = await runCli(
    [
      'golive',
      '--version',
      'v2',
      '--from',
      'HEAD',
      // preflight's host checks (load per core, smoke budgets) judge this shared CI machine, not
      // the release; it is tested on its own. The verified backup runs for real.
      '--skip',
      'preflight',
      ...signoffs(),
      '--traffic',
      '30',
      '--canary-window',
      '6s',
      '--watch',
      '3s',
      '--budget-scale',
      '50',
      '--json',
    ],
    env,
  );
  const stats = await load.stop();
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.decision, 'live');
  assert.deepEqual(
    report.timeline.map((t: { phase: string; status: string }) => `${t.phase}:${t.status}`),
    [
      'preflight:skipped',
      'backup:pass',
      'go/no-go:pass',
      'canary:pass',
      'analysis:pass',
      'full:pass',
      'smoke:pass',
      'stabilisation:pass',
      'finalize:pass',
      'announcement:pass',
    ],
  );
  assert.equal(report.verdict.decision, 'pass');
  assert.ok(report.verdict.requests.canary >= 50);
  assert.equal(report.smoke.passed, 20);
  assert.equal(stats.failed, 0, `failed requests during the go-live: ${stats.failures.join('; ')}`);
  assert.ok(stats.byVersion['v2']! > 0 && stats.byVersion['v1']! > 0);
  assert.deepEqual(await weights(), { v2: 100 });
  assert.deepEqual(
    sink.posts.map((p) => p['subject']),
    ['SwipeSavvy v2 is live', 'SwipeSavvy is Now Live!'],
  );
  assert.match(
    readFileSync(report.reportPaths.markdown, 'utf8'),
    /Decision:\*\* LIVE[\s\S]*\| security \| security-lead \|/,
  );
  const { rows } = await db.query(
    "SELECT decision, signoffs FROM deployments WHERE kind = 'golive' AND version = 'v2'",
  );
  assert.equal(rows[0].decision, 'live');
  assert.equal(rows[0].signoffs.length, 6);
});

test('a v2 that fails requests is rolled back by the analysis', { timeout: 480_000 }, async () => {
  const before = await weights();
  const load = steadyLoad(routerUrl, { rate: 60, path: '/api/status', maxMs: 220_000 });
  const r = await runCli(
    [
      'golive',
      '--version',
      'v3',
      '--from',
      path.join(dataDir, 'releases', 'v2'),
      '--release-env',
      'FAULT_INJECTION=error=0.3',
      '--skip',
      'preflight,backup',
      ...signoffs(),
      '--traffic',
      '30',
      '--canary-window',
      '6s',
      '--budget-scale',
      '50',
      '--json',
    ],
    env,
  );
  await load.stop();
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.decision, 'rolled-back');
  assert.equal(report.verdict.decision, 'fail');
  const failed = report.verdict.metrics
    .filter((m: { status: string }) => m.status === 'fail')
    .map((m: { key: string }) => m.key);
  assert.ok(
    failed.includes('error_rate') &&
      failed.includes('error_rate_fisher') &&
      failed.includes('new_error_codes'),
    failed.join(),
  );
  assert.ok(report.rollback.rollbackMs < 5000);
  assert.deepEqual(await weights(), before);
  assert.deepEqual(sink.posts.at(-1)!['subject'], "Scheduled Maintenance - We're Back!");
  const { rows } = await db.query(
    "SELECT rollback_ms FROM deployments WHERE kind = 'rollback' ORDER BY id DESC LIMIT 1",
  );
  assert.ok(rows[0].rollback_ms >= 0);
});

test('rollback under a steady load fails no request', { timeout: 420_000 }, async () => {
  const [stable] = Object.keys(await weights());
  const deployed = await runCli(
    [
      'deploy',
      '--version',
      'v4',
      '--from',
      path.join(dataDir, 'releases', 'v2'),
      '--traffic',
      '50',
      '--window',
      '0',
    ],
    env,
  );
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.deepEqual(await weights(), { v4: 50, [stable!]: 50 });
  const load = steadyLoad(routerUrl, { rate: 100, path: '/api/health', maxMs: 120_000 });
  await new Promise((r) => setTimeout(r, 1500));
  const r = await runCli(['rollback', '--json'], env);
  await new Promise((r) => setTimeout(r, 500));
  const stats = await load.stop();
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.to, stable);
  assert.ok(result.rollbackMs < 5000, `rollback took ${result.rollbackMs} ms`);
  assert.equal(stats.failed, 0, stats.failures.join('; '));
  assert.ok(stats.byVersion['v4']! > 0);
  assert.deepEqual(await weights(), { [stable!]: 100 });
});
