import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  answers,
  deployEnvironment,
  freePort,
  runCli,
  signoffs,
  startProcess,
} from '../../../test/deploy-harness.ts';
import { testDatabase } from '../../../test/helpers.ts';
import { steadyLoad } from '../../../test/load.ts';

// The same go-live with nginx as the router: a generated configuration, graceful reloads, the
// access log as the per-version measurements. nginx runs from our own prefix directory and
// configuration on a free port; the machine's nginx service is never touched.

let hasNginx = true;
try {
  execFileSync('nginx', ['-v'], { stdio: 'ignore' });
} catch {
  hasNginx = false;
}
const skip = hasNginx ? false : 'nginx is not installed (apt-get install -y nginx)';

const setup = async () => {
  const deployment = await deployEnvironment(await testDatabase());
  const dir = path.join(deployment.dataDir, 'nginx');
  const port = await freePort();
  const routerUrl = `http://127.0.0.1:${port}`;
  const env = { ...deployment.env, ROUTER_NGINX_DIR: dir };
  await startProcess(
    ['router', '--nginx', dir, '--port', String(port), '--backend', `v1=${deployment.stableUrl}`],
    env,
    () => answers(`${routerUrl}/api/health`),
  );
  const weights = () =>
    Object.fromEntries(
      (
        JSON.parse(readFileSync(path.join(dir, 'router.json'), 'utf8')).backends as {
          version: string;
          weight: number;
        }[]
      ).map((b) => [b.version, b.weight]),
    );
  return { ...deployment, env, routerUrl, weights };
};

test('nginx: a faulty release is rolled back; a healthy one is promoted and rolled back with no failed request', {
  skip,
  timeout: 600_000,
}, async () => {
  const { env, routerUrl, weights, dataDir } = await setup();

  const faultyLoad = steadyLoad(routerUrl, { rate: 60, path: '/api/status', maxMs: 200_000 });
  const faulty = await runCli(
    [
      'golive',
      '--version',
      'v2',
      '--from',
      'HEAD',
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
  await faultyLoad.stop();
  assert.equal(faulty.code, 1, faulty.stderr);
  const report = JSON.parse(faulty.stdout);
  assert.equal(report.decision, 'rolled-back');
  assert.equal(report.verdict.decision, 'fail');
  assert.ok(report.verdict.requests.canary >= 50, JSON.stringify(report.verdict.requests));
  assert.deepEqual(weights(), { v1: 100 });

  const load = steadyLoad(routerUrl, { rate: 60, path: '/api/health', maxMs: 200_000 });
  const canary = await runCli(
    [
      'deploy',
      '--version',
      'v3',
      '--from',
      path.join(dataDir, 'releases', 'v2'),
      '--traffic',
      '30',
      '--window',
      '6s',
      '--budget-scale',
      '50',
    ],
    env,
  );
  assert.equal(canary.code, 0, canary.stderr);
  assert.match(canary.stderr, /VERDICT: PASS/);
  const full = await runCli(['deploy', '--mode', 'full'], env);
  assert.equal(full.code, 0, full.stderr);
  assert.deepEqual(weights(), { v3: 100, v1: 0 });
  await new Promise((r) => setTimeout(r, 1000));
  const back = await runCli(['rollback', '--version', 'v1', '--json'], env);
  assert.equal(back.code, 0, back.stderr);
  const stats = await load.stop();
  assert.ok(JSON.parse(back.stdout).rollbackMs < 5000);
  assert.deepEqual(weights(), { v1: 100 });
  assert.equal(
    stats.failed,
    0,
    `${stats.failures.join('; ')} (${stats.retried} GET(s) retried on a closed keep-alive connection)`,
  );
  assert.ok(stats.byVersion['v3']! > 0 && stats.byVersion['v1']! > 0, JSON.stringify(stats.byVersion));
});
