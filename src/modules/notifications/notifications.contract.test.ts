import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { auth, eventually, signup, staff, startTestApp } from '../../../test/helpers.ts';
import { startWebhookSink } from '../../../test/peers/webhook-sink.ts';

describe('notifications', async () => {
  const { app, db } = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);
  const secrets = async (merchantId: string) =>
    (await db.query('SELECT webhook_secrets FROM merchants WHERE id = $1', [merchantId])).rows[0]
      .webhook_secrets as string[];
  const ownerSecrets = await secrets(owner.merchantId);
  const sink = await startWebhookSink(() => ownerSecrets);
  after(() => sink.close());

  const post = (url: string, payload?: object, session = owner) =>
    app.inject({ method: 'POST', url, headers: auth(session), payload });
  const get = (url: string, session = owner) => app.inject({ method: 'GET', url, headers: auth(session) });

  it('sends a test email at once, with a receipt, into the local mailbox', async () => {
    const res = await post('/api/notifications/send-test', { channel: 'email', to: 'someone@example.test' });
    assert.equal(res.statusCode, 201, res.body);
    const n = res.json();
    assert.equal(n.status, 'delivered');
    assert.equal(n.attempts, 1);
    assert.equal(n.receipt.responseCode, 250);
    const status = await get(`/api/notifications/${n.id}/status`);
    assert.equal(status.json().status, 'delivered');
    const mail = await get('/api/mailbox?to=someone@example.test');
    assert.equal(mail.json().items[0].subject, 'SwipeSavvy test notification');
  });

  it('sends a signed test webhook that a Standard Webhooks receiver verifies', async () => {
    const res = await post('/api/notifications/send-test', {
      channel: 'webhook',
      to: sink.url,
      message: 'ping',
    });
    assert.equal(res.json().status, 'delivered');
    const got = sink.received.at(-1)!;
    assert.equal(got.verified, true);
    assert.equal(got.id, res.json().idempotencyKey);
    assert.equal((got.body as { data: { text: string } }).data.text, 'ping');
  });

  it('records a refused webhook as failed with the error kept', async () => {
    sink.answerWith(410);
    const res = await post('/api/notifications/send-test', { channel: 'webhook', to: sink.url });
    sink.answerWith(204);
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().status, 'failed');
    assert.equal(res.json().lastError, 'HTTP 410');
    assert.equal(res.json().receipt.responseCode, 410);
  });

  it('refuses bad addresses and unknown channels before queuing anything', async () => {
    const before = (await db.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n;
    for (const [payload, code] of [
      [{ channel: 'email', to: 'nobody' }, 'NOTIFICATION_ADDRESS_INVALID'],
      [{ channel: 'webhook', to: 'ftp://example.test/x' }, 'NOTIFICATION_ADDRESS_INVALID'],
      [{ channel: 'webhook', to: 'not a url' }, 'NOTIFICATION_ADDRESS_INVALID'],
      [{ channel: 'sms', to: '+351000' }, 'VALIDATION_FAILED'],
      [{ channel: 'email' }, 'VALIDATION_FAILED'],
    ] as const) {
      const res = await post('/api/notifications/send-test', payload);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, JSON.stringify(payload));
      assert.equal(res.json().code, code, JSON.stringify(payload));
    }
    const after = (await db.query('SELECT count(*)::int AS n FROM notifications')).rows[0].n;
    assert.equal(after, before);
  });

  it('sends a campaign to its segment exactly once per recipient and completes', async () => {
    const customers = [
      { externalId: 'l1', webhookUrl: sink.url, attributes: { city: 'Lisbon' } },
      { externalId: 'l2', webhookUrl: sink.url, attributes: { city: 'Lisbon' } },
      { externalId: 'l3', webhookUrl: sink.url, attributes: { city: 'Lisbon' } },
      { externalId: 'p1', webhookUrl: sink.url, attributes: { city: 'Porto' } },
      { externalId: 'l4', email: 'no-webhook@example.test', attributes: { city: 'Lisbon' } },
    ];
    await post('/api/customers/import', { customers });
    const campaign = await post('/api/campaigns', {
      name: 'Lisbon webhook push',
      channel: 'webhook',
      budget: 10,
      segment: { city: ['Lisbon'] },
      variants: [
        { name: 'A', weight: 1, content: { subject: 'A' } },
        { name: 'B', weight: 1, content: { subject: 'B' } },
      ],
    });
    const ready = await post('/api/notifications/campaign', { campaignId: campaign.json().id });
    assert.equal(ready.statusCode, 201, ready.body);
    assert.equal(ready.json().status, 'ready');
    assert.equal(ready.json().recipients, 3, 'the Lisbon customers with a webhook URL');

    const before = sink.received.length;
    const started = await post(`/api/notifications/campaign/${ready.json().id}/send`);
    assert.equal(started.statusCode, 202);
    const done = await eventually(async () => {
      const p = await get(`/api/notifications/campaign/${ready.json().id}`);
      return p.json().status === 'completed' ? p.json() : undefined;
    });
    assert.equal(done.counts.delivered, 3);
    assert.equal(done.counts.total, 3);
    const ids = sink.received.slice(before).map((r) => r.id);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 3);

    const again = await post(`/api/notifications/campaign/${ready.json().id}/send`);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'NOTIFICATION_SEND_STATE');

    const rate = await get(`/api/notifications/delivery-rate?campaignId=${campaign.json().id}`);
    assert.deepEqual(
      { rate: rate.json().rate, delivered: rate.json().delivered, total: rate.json().total },
      { rate: 1, delivered: 3, total: 3 },
    );
    const check = await db.query(
      'SELECT check_name, violations FROM swipesavvy_integrity_check() WHERE violations > 0',
    );
    assert.deepEqual(check.rows, []);
  });

  it('deleting a customer, a campaign or a merchant does what the foreign keys did', async () => {
    const gone = await signup(app);
    const postAs = (url: string, payload?: object) => post(url, payload, gone);
    await postAs('/api/customers/import', {
      customers: ['g1', 'g2', 'g3'].map((externalId) => ({
        externalId,
        webhookUrl: sink.url,
        attributes: { city: 'Braga' },
      })),
    });
    const campaign = (
      await postAs('/api/campaigns', {
        name: 'Braga',
        channel: 'webhook',
        budget: 1,
        segment: { city: ['Braga'] },
      })
    ).json();
    const send = (await postAs('/api/notifications/campaign', { campaignId: campaign.id })).json();
    await postAs(`/api/notifications/campaign/${send.id}/send`);
    await eventually(async () => {
      const p = await get(`/api/notifications/campaign/${send.id}`, gone);
      return p.json().status === 'completed' || undefined;
    });
    const count = async (sql: string) => (await db.query(sql, [gone.merchantId])).rows[0].n as number;
    const notifications = 'SELECT count(*)::int AS n FROM notifications WHERE merchant_id = $1';
    const attempts = `SELECT count(*)::int AS n FROM notification_attempts a
                       WHERE a.notification_id IN (SELECT id FROM notifications WHERE merchant_id = $1)`;
    const clean = async () =>
      assert.deepEqual(
        (
          await db.query(
            'SELECT check_name, violations FROM swipesavvy_integrity_check() WHERE violations > 0',
          )
        ).rows,
        [],
      );
    assert.equal(await count(`${notifications} AND send_id IS NOT NULL AND customer_id IS NOT NULL`), 3);

    await db.query(`DELETE FROM customers WHERE merchant_id = $1 AND external_id = 'g1'`, [gone.merchantId]);
    assert.equal(await count(`${notifications} AND send_id IS NOT NULL AND customer_id IS NULL`), 1);
    await clean();

    const allAttempts = 'SELECT count(*)::int AS n FROM notification_attempts';
    const attemptsBefore = (await db.query(allAttempts)).rows[0].n as number;
    await db.query('DELETE FROM campaigns WHERE id = $1', [campaign.id]);
    assert.equal(await count(`${notifications} AND send_id IS NOT NULL`), 0);
    assert.equal((await db.query(allAttempts)).rows[0].n, attemptsBefore - 3, "the send's attempts went too");
    await clean();

    await postAs('/api/notifications/send-test', { channel: 'email', to: 'gone@example.test' });
    assert.ok((await count(notifications)) >= 1, 'its test and welcome emails are left');
    assert.ok((await count(attempts)) >= 1);
    const orphans =
      'SELECT count(*)::int AS n FROM notification_attempts a WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = a.notification_id)';
    await db.query('DELETE FROM merchants WHERE id = $1', [gone.merchantId]);
    assert.equal(await count(notifications), 0);
    assert.equal((await db.query(orphans)).rows[0].n, 0);
    await clean();
  });

  it('refuses a campaign send with an empty audience', async () => {
    const campaign = await post('/api/campaigns', {
      name: 'Nobody',
      channel: 'email',
      budget: 1,
      segment: { city: ['Atlantis'] },
    });
    const res = await post('/api/notifications/campaign', { campaignId: campaign.json().id });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().code, 'NOTIFICATION_AUDIENCE_EMPTY');
  });

  it("keeps another merchant's notifications and sends out of reach", async () => {
    const n = await post('/api/notifications/send-test', { channel: 'email', to: 'x@example.test' });
    const foreign = await get(`/api/notifications/${n.json().id}/status`, other);
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, 'NOTIFICATION_NOT_FOUND');
    const campaign = await post('/api/campaigns', { name: 'Mine', channel: 'email', budget: 1 });
    const send = await post('/api/notifications/campaign', { campaignId: campaign.json().id }, other);
    assert.equal(send.statusCode, 404);
    const rate = await get('/api/notifications/delivery-rate', other);
    assert.equal(rate.json().total, 1, 'only its own welcome email');
  });

  it('lets only owners and admins send', async () => {
    const viewer = await staff(app, owner, 'viewer');
    const res = await post(
      '/api/notifications/send-test',
      { channel: 'email', to: 'x@example.test' },
      viewer,
    );
    assert.equal(res.statusCode, 403);
  });
});

describe('notifications in production mode', async () => {
  const { app } = await startTestApp({ NODE_ENV: 'production' });
  const owner = await signup(app);

  it('refuses webhook targets on loopback, private and link-local addresses', async () => {
    for (const to of [
      'http://127.0.0.1:9/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest',
      'http://[::1]/x',
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/notifications/send-test',
        headers: auth(owner),
        payload: { channel: 'webhook', to },
      });
      assert.equal(res.statusCode, 400, to);
      assert.equal(res.json().code, 'NOTIFICATION_TARGET_FORBIDDEN', to);
    }
  });
});
