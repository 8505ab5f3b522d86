import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { auth, eventually, signup, startTestApp } from '../../../test/helpers.ts';
import { startWebhookSink } from '../../../test/notification-peers.ts';

const root = path.resolve(import.meta.dirname, '../../..');

/** `swipesavvy worker` as its own process, against the test's database. */
function startWorkerProcess(databaseUrl: string, dataDir: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'src/cli/main.ts'), 'worker'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
      LOG_LEVEL: 'silent',
      DB_POOL_MAX: '6',
      NOTIFY_LEASE_SECONDS: '2',
      NOTIFY_CONCURRENCY: '8',
      NOTIFY_JOB_CONCURRENCY: '2',
      SHUTDOWN_GRACE_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('a worker killed with SIGKILL mid-batch', async () => {
  const t = await startTestApp({ WORKERS: 'false' });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-crash-'));
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map(exited));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('every recipient ends delivered exactly once in the books; re-deliveries carry the same webhook-id', async () => {
    const owner = await signup(t.app, { merchantName: 'Crash Co' });
    const { rows } = await t.db.query('SELECT webhook_secrets FROM merchants WHERE id = $1', [
      owner.merchantId,
    ]);
    const sink = await startWebhookSink(() => rows[0].webhook_secrets);
    after(() => sink.close());
    // slow answers keep every batch in flight long enough for the kill to land inside one
    sink.plan(...Array.from({ length: 10_000 }, () => ({ status: 200, hangMs: 15 })));
    const total = 400;
    await t.db.query(
      `INSERT INTO customers (merchant_id, webhook_url, city)
       SELECT $1, $2 || '/c/' || i, 'Austin' FROM generate_series(1, $3) i`,
      [owner.merchantId, sink.url, total],
    );
    const campaign = await t.app.inject({
      method: 'POST',
      url: '/api/campaigns',
      headers: auth(owner),
      payload: { name: 'Crash', channel: 'webhook', budget: 1, variants: [{ name: 'A', weight: 1 }] },
    });
    const send = (
      await t.app.inject({
        method: 'POST',
        url: '/api/notifications/campaign',
        headers: auth(owner),
        payload: { campaignId: campaign.json().id },
      })
    ).json();
    assert.equal(send.recipients, total);
    await t.app.inject({
      method: 'POST',
      url: `/api/notifications/campaign/${send.id}/send`,
      headers: auth(owner),
    });

    const first = startWorkerProcess(t.config.databaseUrl!, dataDir);
    children.push(first);
    await eventually(async () => sink.byId.size >= 60, 120_000);
    first.kill('SIGKILL');
    await exited(first);
    const atKill = sink.byId.size;
    const held = await t.db.query(
      `SELECT count(*)::int AS n FROM notifications WHERE send_id = $1 AND status = 'sending' AND claim_token IS NOT NULL`,
      [send.id],
    );
    assert.ok(held.rows[0].n > 0, 'the kill landed inside a claimed batch');
    assert.ok(atKill < total, 'the kill landed before the end');

    const second = startWorkerProcess(t.config.databaseUrl!, dataDir);
    children.push(second);
    const done = await eventually(async () => {
      const p = (
        await t.app.inject({
          method: 'GET',
          url: `/api/notifications/campaign/${send.id}`,
          headers: auth(owner),
        })
      ).json();
      return p.status === 'completed' && p;
    }, 180_000);
    second.kill('SIGTERM');
    await exited(second);

    assert.equal(done.counts.delivered, total);
    assert.equal(done.counts.total, total);
    const keys = await t.db.query(
      `SELECT n.idempotency_key AS key, n.attempts, (SELECT count(*)::int FROM notification_attempts a WHERE a.notification_id = n.id) AS recorded
         FROM notifications n WHERE send_id = $1`,
      [send.id],
    );
    assert.equal(sink.byId.size, total, 'the receiver saw every recipient');
    for (const r of keys.rows) {
      assert.ok(sink.byId.has(r.key), 'every notification reached the receiver under its own key');
      assert.equal(r.attempts, r.recorded, 'attempts equal recorded attempts');
    }
    const redelivered = [...sink.byId.values()].filter((n) => n > 1).length;
    assert.equal(sink.invalid, 0);
    const integrity = await t.db.query(`SELECT * FROM swipesavvy_integrity_check() WHERE violations > 0`);
    assert.deepEqual(integrity.rows, []);
    // the figures, for the report: what the receiver had to drop by webhook-id
    console.log(
      `# SIGKILL at ${atKill}/${total} delivered; ${redelivered} re-delivered with the same webhook-id`,
    );
  });
});
