import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import YAML from 'yaml';
import { runCli } from '../../../test/cli.ts';
import { auth, eventually, signup, startTestApp, testConfig, testDatabase } from '../../../test/helpers.ts';
import { CRITICAL_METRICS, ESCALATION } from '../../ops/thresholds.ts';
import { startServer } from '../../server.ts';

type Post = { path: string; body: Record<string, unknown>; at: number };

/** A real HTTP endpoint standing in for the chat, the webhook consumer and the pager. */
async function startSink() {
  const posts: Post[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(data), at: Date.now() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${port}`, posts };
}

describe('GET /api/ops/overview', async () => {
  const { app } = await startTestApp();
  const session = await signup(app);

  it('needs a token', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/ops/overview' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'AUTH_REQUIRED');
  });

  it('answers the critical metrics with target, value, unit and state, deployments and incidents', async () => {
    await app.inject({ method: 'GET', url: '/api/health' });
    const res = await app.inject({ method: 'GET', url: '/api/ops/overview', headers: auth(session) });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(
      body.metrics.map((m: { key: string }) => m.key),
      CRITICAL_METRICS.map((m) => m.key),
    );
    const errorRate = body.metrics.find((m: { key: string }) => m.key === 'error_rate');
    assert.equal(errorRate.target, '< 0.10%');
    assert.equal(errorRate.unit, 'ratio');
    assert.equal(errorRate.value, 0);
    assert.equal(errorRate.state, 'green');
    const pool = body.metrics.find((m: { key: string }) => m.key === 'db_pool_usage');
    assert.equal(typeof pool.value, 'number');
    assert.deepEqual(body.deployments, []);
    assert.deepEqual(body.incidents, []);
  });

  it('an unknown incident is a 404 with a stable code', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/ops/incidents/00000000-0000-4000-8000-000000000000/ack',
      headers: auth(session),
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'INCIDENT_NOT_FOUND');
  });
});

describe('alerting and escalation (a real server, a real sink, a real fault)', async () => {
  const url = await testDatabase();
  const sink = await startSink();
  const scale = 0.01; // 1 min → 0.6 s, 5 min → 3 s, 10 min → 6 s
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-alerts-'));
  const server = await startServer(
    testConfig(url, {
      DATA_DIR: dataDir,
      ALERTS_INTERVAL_SECONDS: '0.2',
      ALERT_TIME_SCALE: String(scale),
      ALERT_WEBHOOK_URL: `${sink.url}/webhook`,
      ALERT_SLACK_URL: `${sink.url}/slack`,
      ALERT_PAGE_URL: `${sink.url}/page`,
    }),
  );
  const db = new pg.Pool({ connectionString: url, max: 2 });
  // the test database is dropped WITH (FORCE) when the file ends, maybe before this pool closes
  db.on('error', () => {});
  after(async () => {
    await server.close();
    await db.end();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const api = async (method: string, p: string, token?: string, body?: unknown) => {
    const res = await fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    // biome-ignore lint/suspicious/noExplicitAny: the API's JSON, asserted field by field
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const email = `ops-${Date.now()}@example.test`;
  await api('POST', '/api/users/signup', undefined, {
    email,
    password: 'correct horse battery',
    name: 'Ops',
  });
  const token = (
    await api('POST', '/api/auth/login', undefined, { email, password: 'correct horse battery' })
  ).body['token'] as string;

  // steady traffic on a route whose table we break: every request then fails with a 500
  let traffic = true;
  const load = (async () => {
    while (traffic) {
      // the server stops before this loop does: a refused connection then is expected
      await fetch(`${server.url}/api/merchants?limit=1`, { headers: { authorization: `Bearer ${token}` } })
        .then((r) => r.arrayBuffer())
        .catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  after(async () => {
    traffic = false;
    await load;
  });
  // this shared machine's CPU may well run hot during the test: only the error-rate cause is ours
  type Posted = { id: string; rule: string; value: number };
  const ours = (p: Post) => ((p.body['incidents'] ?? []) as Posted[]).some((i) => i.rule === 'error_rate');
  const events = (kind: string, where = '/webhook') =>
    sink.posts.filter((p) => p.path === where && p.body['event'] === kind && ours(p));

  it('healthy traffic opens no error-rate incident', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sink.posts.filter(ours).length, 0);
  });

  let first: string;
  it('a sustained error rate opens one incident, posts one level-1 message to the webhook and Slack, then climbs to level 3', async () => {
    await db.query('ALTER TABLE merchants RENAME TO merchants_broken');
    const opened = await eventually(async () => events('incident.opened')[0], 10_000);
    const incident = (opened.body['incidents'] as { id: string; rule: string; value: number }[])[0]!;
    first = incident.id;
    assert.equal(incident.rule, 'error_rate');
    assert.ok(incident.value > ESCALATION.alertErrorRate.above);
    assert.equal(opened.body['level'], 1);
    const slack = await eventually(async () =>
      sink.posts.find((p) => p.path === '/slack' && String(p.body['text']).includes('API Error Rate')),
    );
    assert.match(String(slack.body['text']), /ALERT \(level 1/);
    assert.ok(Array.isArray(slack.body['blocks']));
    assert.equal(sink.posts.filter((p) => p.path === '/page' && ours(p)).length, 0, 'level 1 does not page');
    await eventually(
      async () => events('incident.escalated', '/page').find((p) => p.body['level'] === 2),
      15_000,
    );
    await eventually(
      async () => events('incident.escalated', '/page').find((p) => p.body['level'] === 3),
      15_000,
    );
    assert.equal(events('incident.opened').length, 1, 'one cause, one message');
  });

  it('the incident log shows the timeline; a manual resolution sends the notice', async () => {
    const r = await api('POST', `/api/ops/incidents/${first}/resolve`, token);
    assert.equal(r.status, 200);
    assert.equal(r.body['status'], 'resolved');
    assert.equal(r.body['resolvedBy'], email);
    const kinds = (r.body['timeline'] as { kind: string }[]).map((e) => e.kind);
    for (const k of ['opened', 'notified', 'escalated', 'resolved']) assert.ok(kinds.includes(k), k);
    await eventually(async () =>
      events('incident.resolved').find((p) => (p.body['incidents'] as { id: string }[])[0]!.id === first),
    );
    const again = await api('POST', `/api/ops/incidents/${first}/ack`, token);
    assert.equal(again.status, 409);
    assert.equal(again.body['code'], 'INCIDENT_STATE');
  });

  it('acknowledgement stops the escalation; recovery resolves the incident by itself', async () => {
    // the fault is still there, so a new incident opens for the same cause
    const opened = await eventually(
      async () =>
        events('incident.opened').find((p) => (p.body['incidents'] as { id: string }[])[0]!.id !== first),
      10_000,
    );
    const second = (opened.body['incidents'] as { id: string }[])[0]!.id;
    const ack = await api('POST', `/api/ops/incidents/${second}/ack`, token);
    assert.equal(ack.status, 200);
    assert.equal(ack.body['status'], 'acknowledged');
    await eventually(async () => events('incident.acknowledged').length > 0);
    const pagesBefore = events('incident.escalated', '/page').length;
    // longer than the level-3 delay: an acknowledged incident must not climb
    await new Promise((r) => setTimeout(r, ESCALATION.levels[2]!.afterSeconds * scale * 1000 + 1000));
    assert.equal(events('incident.escalated', '/page').length, pagesBefore);
    await db.query('ALTER TABLE merchants_broken RENAME TO merchants');
    const resolved = await eventually(
      async () =>
        events('incident.resolved').find((p) => (p.body['incidents'] as { id: string }[])[0]!.id === second),
      10_000,
    );
    assert.match(String(resolved.body['text']), /RESOLVED/);
    const list = await api('GET', '/api/ops/incidents?status=resolved', token);
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body['items'] as Posted[])
        .filter((i) => i.rule === 'error_rate')
        .map((i) => i.id)
        .sort(),
      [first, second].sort(),
    );
    const overview = await api('GET', '/api/ops/overview', token);
    assert.equal(overview.body['incidents'].filter((i: Posted) => i.rule === 'error_rate').length, 2);
  });

  it('monitor --json reads the live table from the server; ops render writes rules and a dashboard from the thresholds', async () => {
    const r = await runCli(['monitor', '--json', '--interval', '0.5', '--base-url', server.url], {});
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.metrics.map((m: { key: string }) => m.key),
      CRITICAL_METRICS.map((m) => m.key),
    );
    assert.equal(typeof out.metrics.find((m: { key: string }) => m.key === 'memory_usage').value, 'number');

    const outDir = path.join(dataDir, 'render');
    const render = await runCli(['ops', 'render', '--out', outDir], {});
    assert.equal(render.code, 0, render.stderr);
    const rules = YAML.parse(readFileSync(path.join(outDir, 'swipesavvy-alerts.rules.yml'), 'utf8'));
    const all = rules.groups.flatMap((g: { rules: unknown[] }) => g.rules) as {
      alert: string;
      expr: string;
      for: string;
    }[];
    for (const rule of all) {
      assert.match(rule.alert, /^SwipeSavvy\w+$/);
      assert.match(rule.for, /^\d+[sm]$/);
      assert.ok(rule.expr.length > 0);
    }
    const errorRule = all.find((x) => x.alert === 'SwipeSavvyErrorRate')!;
    assert.ok(errorRule.expr.endsWith(`> ${ESCALATION.alertErrorRate.above}`));
    assert.equal(errorRule.for, '1m');
    const dashboard = JSON.parse(readFileSync(path.join(outDir, 'swipesavvy-dashboard.json'), 'utf8'));
    const stat = dashboard.panels.filter((p: { type: string }) => p.type === 'stat');
    assert.equal(stat.length, CRITICAL_METRICS.length);
    const p99 = CRITICAL_METRICS.find((m) => m.key === 'p99_latency')!;
    assert.deepEqual(
      stat[1].fieldConfig.defaults.thresholds.steps.map((s: { value: number | null }) => s.value),
      [null, p99.green, p99.yellow],
    );
  });

  it('bad input: an unreachable API, an unknown flag, a missing --out', async () => {
    const down = await runCli(['monitor', '--json', '--base-url', 'http://127.0.0.1:9'], {});
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9\/metrics/);
    const flag = await runCli(['monitor', '--refresh', '1'], {});
    assert.equal(flag.code, 2);
    const alerts = await runCli(['alerts', 'run', '--count', '1', '--base-url', 'http://127.0.0.1:9'], {
      DATABASE_URL: url,
    });
    assert.equal(alerts.code, 1);
    assert.match(alerts.stderr, /cannot reach http:\/\/127\.0\.0\.1:9\/metrics/);
    const out = await runCli(['ops', 'render'], {});
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--out DIR/);
  });
});
