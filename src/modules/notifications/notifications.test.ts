import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { auth, eventually, type Session, signup, startTestApp, type TestApp } from '../../../test/helpers.ts';
import { startPushService, startSmtpPeer, startWebhookSink } from '../../../test/notification-peers.ts';

/** The shared 2-core machine can be slow: generous, but still bounded. */
const waitFor = <T>(check: () => Promise<T | undefined | false>) => eventually(check, 30_000);

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-notify-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

let t: TestApp;
let owner: Session;
let other: Session;
let secrets: string[];
let sink: Awaited<ReturnType<typeof startWebhookSink>>;
let pushService: Awaited<ReturnType<typeof startPushService>>;

async function merchantSecrets(app: TestApp, merchantId: string): Promise<string[]> {
  const { rows } = await app.db.query('SELECT webhook_secrets FROM merchants WHERE id = $1', [merchantId]);
  return rows[0].webhook_secrets;
}

function post(app: TestApp, session: Session | undefined, url: string, payload?: unknown) {
  return app.app.inject({
    method: 'POST',
    url,
    ...(payload === undefined ? {} : { payload: payload as object }),
    headers: session ? auth(session) : {},
  });
}

function get(app: TestApp, session: Session | undefined, url: string) {
  return app.app.inject({ method: 'GET', url, headers: session ? auth(session) : {} });
}

async function attemptsOf(app: TestApp, id: string) {
  const { rows } = await app.db.query(
    'SELECT attempt, outcome, response_code AS "responseCode", error FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt',
    [id],
  );
  return rows as { attempt: number; outcome: string; responseCode: number | null; error: string | null }[];
}

/** Customers with webhook URLs (or push subscriptions) inserted directly: the audience of a campaign. */
async function addCustomers(app: TestApp, merchantId: string, n: number, address: (i: number) => object) {
  for (let i = 0; i < n; i++) {
    const a = address(i) as { webhookUrl?: string; email?: string; pushSubscription?: object };
    await app.db.query(
      `INSERT INTO customers (merchant_id, external_id, webhook_url, email, push_subscription, city)
       VALUES ($1, $2, $3, $4, $5, 'Austin')`,
      [
        merchantId,
        `c${i}-${Math.random()}`,
        a.webhookUrl ?? null,
        a.email ?? null,
        a.pushSubscription ?? null,
      ],
    );
  }
}

async function campaign(app: TestApp, session: Session, channel: string) {
  const res = await post(app, session, '/api/campaigns', {
    name: `${channel} campaign`,
    channel,
    budget: 100,
    variants: [
      { name: 'A', weight: 1, content: { subject: 'Offer A', body: 'Ten percent off' } },
      { name: 'B', weight: 1, content: { subject: 'Offer B', body: 'Free coffee' } },
    ],
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

async function startCampaignSend(app: TestApp, session: Session, campaignId: string) {
  const created = await post(app, session, '/api/notifications/campaign', { campaignId });
  assert.equal(created.statusCode, 201, created.body);
  const send = created.json();
  const started = await post(app, session, `/api/notifications/campaign/${send.id}/send`);
  assert.equal(started.statusCode, 202, started.body);
  return send as { id: string; recipients: number; status: string };
}

async function progressOf(app: TestApp, session: Session, sendId: string) {
  const res = await get(app, session, `/api/notifications/campaign/${sendId}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

describe('notifications', async () => {
  t = await startTestApp({
    DATA_DIR: dataDir,
    NOTIFY_RETRY_BASE_MS: '50',
    NOTIFY_RETRY_MAX_MS: '200',
    NOTIFY_MAX_ATTEMPTS: '3',
    // long enough that a loaded machine does not turn a slow answer into a retry (a duplicate)
    WEBHOOK_TIMEOUT_MS: '1500',
  });
  owner = await signup(t.app, { merchantName: 'Notify Co' });
  other = await signup(t.app, { merchantName: 'Other Co' });
  secrets = await merchantSecrets(t, owner.merchantId);
  sink = await startWebhookSink(() => secrets);
  pushService = await startPushService();
  after(async () => {
    await sink.close();
    await pushService.close();
  });

  describe('webhook channel', () => {
    test('send-test delivers at once; the receiver verifies the Standard Webhooks signature', async () => {
      const res = await post(t, owner, '/api/notifications/send-test', {
        channel: 'webhook',
        to: `${sink.url}/hook`,
      });
      assert.equal(res.statusCode, 201, res.body);
      const n = res.json();
      assert.equal(n.status, 'delivered');
      assert.equal(n.receipt.responseCode, 200);
      assert.equal(n.attempts, 1);
      assert.equal(sink.byId.get(n.idempotencyKey), 1);
      assert.equal(sink.invalid, 0);
      const status = await get(t, owner, `/api/notifications/${n.id}/status`);
      assert.equal(status.json().status, 'delivered');
      assert.equal((await get(t, other, `/api/notifications/${n.id}/status`)).statusCode, 404);
    });

    test('500, then 429 with Retry-After, then 200: retried with the same webhook-id, every attempt recorded', async () => {
      sink.plan({ status: 500 }, { status: 429, headers: { 'retry-after': '1' } });
      const started = Date.now();
      const res = await post(t, owner, '/api/notifications/send-test', { channel: 'webhook', to: sink.url });
      assert.equal(res.statusCode, 201, res.body);
      const n = res.json();
      assert.equal(n.status, 'sending');
      const done = await waitFor(async () => {
        const s = (await get(t, owner, `/api/notifications/${n.id}/status`)).json();
        return s.status === 'delivered' && s;
      });
      assert.ok(Date.now() - started >= 1000, 'Retry-After: 1 was honoured');
      assert.equal(done.attempts, 3);
      assert.equal(sink.byId.get(n.idempotencyKey), 1);
      const attempts = await attemptsOf(t, n.id);
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.outcome, a.responseCode]),
        [
          [1, 'transient_error', 500],
          [2, 'transient_error', 429],
          [3, 'delivered', 200],
        ],
      );
    });

    test('a timeout is transient; a 400 fails at once; transient failures stop at the attempt limit', async () => {
      sink.plan({ status: 200, hangMs: 6000 }); // undici's timers over 1 s are coarse: well past 1.5 s
      const slow = (
        await post(t, owner, '/api/notifications/send-test', { channel: 'webhook', to: sink.url })
      ).json();
      assert.equal(slow.status, 'sending');
      assert.match(slow.lastError, /timeout/);
      await eventually(
        async () =>
          (await get(t, owner, `/api/notifications/${slow.id}/status`)).json().status === 'delivered',
      );

      sink.plan({ status: 400 });
      const bad = (
        await post(t, owner, '/api/notifications/send-test', { channel: 'webhook', to: sink.url })
      ).json();
      assert.equal(bad.status, 'failed');
      assert.equal(bad.attempts, 1);
      assert.equal(bad.lastError, 'HTTP 400');

      sink.plan({ status: 503 }, { status: 503 }, { status: 503 });
      const down = (
        await post(t, owner, '/api/notifications/send-test', { channel: 'webhook', to: sink.url })
      ).json();
      const failed = await waitFor(async () => {
        const s = (await get(t, owner, `/api/notifications/${down.id}/status`)).json();
        return s.status === 'failed' && s;
      });
      assert.equal(failed.attempts, 3);
      assert.equal(failed.lastError, 'HTTP 503');
      assert.equal(sink.byId.has(down.idempotencyKey), false);
    });

    test('a rotated secret signs; the previous one still verifies during the overlap', async () => {
      const old = secrets[0]!;
      const res = await post(t, owner, '/api/merchants/me/webhook-secret/rotate');
      assert.equal(res.statusCode, 201, res.body);
      const { secret, previousValidUntil } = res.json();
      assert.match(secret, /^whsec_/);
      assert.ok(new Date(previousValidUntil).getTime() > Date.now());
      for (const only of [secret, old]) {
        secrets = [only];
        const n = (
          await post(t, owner, '/api/notifications/send-test', { channel: 'webhook', to: sink.url })
        ).json();
        assert.equal(n.status, 'delivered', `verifies with ${only === old ? 'the old' : 'the new'} secret`);
      }
      secrets = await merchantSecrets(t, owner.merchantId);
      assert.equal(
        (await post(t, { token: 'x.y.z' } as Session, '/api/merchants/me/webhook-secret/rotate')).statusCode,
        401,
      );
    });
  });

  describe('web push', () => {
    test('VAPID key without login; the push service checks the JWT and decrypts the aes128gcm payload', async () => {
      const key = await get(t, undefined, '/api/push/vapid-public-key');
      assert.equal(key.statusCode, 200);
      const { publicKey } = key.json();
      assert.equal(Buffer.from(publicKey, 'base64url').length, 65);
      const again = (await get(t, undefined, '/api/push/vapid-public-key')).json();
      assert.equal(again.publicKey, publicKey, 'generated once, then kept');

      const browser = pushService.subscribe();
      const res = await post(t, owner, '/api/notifications/send-test', {
        channel: 'push',
        to: browser.subscription,
        subject: 'Hello',
        message: 'Push works',
      });
      assert.equal(res.statusCode, 201, res.body);
      const n = res.json();
      assert.equal(n.status, 'delivered');
      assert.equal(n.receipt.responseCode, 201);
      const got = pushService.received.at(-1)!;
      assert.equal(got.vapidKey, publicKey);
      const payload = JSON.parse(got.payload);
      assert.equal(payload.title, 'Hello');
      assert.equal(payload.body, 'Push works');
      assert.equal(payload.notificationId, n.id);

      // the service worker confirms with the receipt token from the payload
      const receipt = await post(t, undefined, payload.receipt.url, {
        event: 'displayed',
        token: payload.receipt.token,
      });
      assert.equal(receipt.statusCode, 200, receipt.body);
      assert.ok(receipt.json().receipts.displayed);
      const opened = await post(t, owner, payload.receipt.url, { event: 'opened' });
      assert.deepEqual(Object.keys(opened.json().receipts).sort(), ['displayed', 'opened']);
      assert.equal((await post(t, other, payload.receipt.url, { event: 'opened' })).statusCode, 404);
      const wrong = await post(t, undefined, payload.receipt.url, {
        event: 'opened',
        token: crypto.randomUUID(),
      });
      assert.equal(wrong.statusCode, 404);
      assert.equal((await post(t, undefined, payload.receipt.url, { event: 'opened' })).statusCode, 401);

      // as JSON text too
      const asText = await post(t, owner, '/api/notifications/send-test', {
        channel: 'push',
        to: JSON.stringify(pushService.subscribe().subscription),
      });
      assert.equal(asText.json().status, 'delivered');
    });

    test('a campaign to push: a 410 marks the subscription invalid and it is never tried again', async () => {
      const browsers = [pushService.subscribe(), pushService.subscribe(), pushService.subscribe()];
      pushService.markGone(browsers[1]!.path);
      const merchant = await signup(t.app, { merchantName: 'Push Co' });
      await addCustomers(t, merchant.merchantId, 3, (i) => ({ pushSubscription: browsers[i]!.subscription }));
      const campaignId = await campaign(t, merchant, 'push');
      const send = await startCampaignSend(t, merchant, campaignId);
      assert.equal(send.recipients, 3);
      const done = await waitFor(async () => {
        const p = await progressOf(t, merchant, send.id);
        return p.status === 'completed' && p;
      });
      assert.equal(done.counts.delivered, 2);
      assert.equal(done.counts.failed, 1);
      const { rows } = await t.db.query(
        'SELECT count(*)::int AS n FROM customers WHERE merchant_id = $1 AND push_invalid_at IS NOT NULL',
        [merchant.merchantId],
      );
      assert.equal(rows[0].n, 1);
      const second = await post(t, merchant, '/api/notifications/campaign', { campaignId });
      assert.equal(second.json().recipients, 2, 'the gone subscription is not in the next audience');
    });
  });

  describe('campaign sends', () => {
    test('every recipient exactly once; who received it, paginated; delivery rate per campaign', async () => {
      const merchant = await signup(t.app, { merchantName: 'Hooks Co' });
      const ms = await merchantSecrets(t, merchant.merchantId);
      const own = await startWebhookSink(() => ms);
      after(() => own.close());
      await addCustomers(t, merchant.merchantId, 25, (i) => ({ webhookUrl: `${own.url}/c/${i}` }));
      const campaignId = await campaign(t, merchant, 'webhook');
      const send = await startCampaignSend(t, merchant, campaignId);
      assert.equal(send.recipients, 25);
      const done = await waitFor(async () => {
        const p = await progressOf(t, merchant, send.id);
        return p.status === 'completed' && p;
      });
      assert.equal(done.counts.delivered, 25);
      assert.equal(own.byId.size, 25);
      assert.ok([...own.byId.values()].every((n) => n === 1));
      const variants = new Set(own.bodies.map((b) => (b.body as { data: { variant: string } }).data.variant));
      assert.deepEqual([...variants].sort(), ['A', 'B']);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(
          t,
          merchant,
          `/api/notifications/campaign/${send.id}/recipients?status=delivered&limit=10${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        seen.push(...body.items.map((i: { id: string }) => i.id));
        cursor = body.nextCursor;
      } while (cursor);
      assert.equal(new Set(seen).size, 25);
      const none = (
        await get(t, merchant, `/api/notifications/campaign/${send.id}/recipients?status=undelivered`)
      ).json();
      assert.equal(none.items.length, 0);

      const rate = (
        await get(
          t,
          merchant,
          `/api/notifications/delivery-rate?campaignId=${campaignId}&channel=webhook&window=1`,
        )
      ).json();
      assert.equal(rate.rate, 1);
      assert.equal(rate.delivered, 25);
      assert.equal(rate.attempted, 25);
      assert.equal(rate.retries, 0);

      assert.equal(
        (await get(t, other, `/api/notifications/campaign/${send.id}/recipients`)).statusCode,
        404,
      );
      assert.equal(
        (await post(t, other, `/api/notifications/campaign/${send.id}/retry-failed`)).statusCode,
        404,
      );
    });

    test('failed recipients are listed and retry-failed delivers only them, with the same keys', async () => {
      const merchant = await signup(t.app, { merchantName: 'Retry Co' });
      const ms = await merchantSecrets(t, merchant.merchantId);
      const own = await startWebhookSink(() => ms);
      after(() => own.close());
      own.plan(...Array.from({ length: 4 }, () => ({ status: 404 })));
      await addCustomers(t, merchant.merchantId, 12, (i) => ({ webhookUrl: `${own.url}/c/${i}` }));
      const send = await startCampaignSend(t, merchant, await campaign(t, merchant, 'webhook'));
      const done = await waitFor(async () => {
        const p = await progressOf(t, merchant, send.id);
        return p.status === 'completed' && p;
      });
      assert.equal(done.counts.failed, 4);
      assert.equal(done.counts.delivered, 8);
      const failed = (
        await get(t, merchant, `/api/notifications/campaign/${send.id}/recipients?status=failed`)
      ).json();
      assert.equal(failed.items.length, 4);
      assert.ok(failed.items.every((i: { lastError: string }) => i.lastError === 'HTTP 404'));

      const retry = await post(t, merchant, `/api/notifications/campaign/${send.id}/retry-failed`);
      assert.equal(retry.statusCode, 202, retry.body);
      assert.equal(retry.json().retried, 4);
      await waitFor(async () => {
        const p = await progressOf(t, merchant, send.id);
        return p.status === 'completed' && p.counts.delivered === 12;
      });
      assert.equal(own.byId.size, 12);
      const keys = await t.db.query('SELECT idempotency_key FROM notifications WHERE send_id = $1', [
        send.id,
      ]);
      assert.ok(keys.rows.every((r) => own.byId.get(r.idempotency_key) === 1));
      const rate = (await get(t, merchant, '/api/notifications/delivery-rate')).json();
      assert.equal(rate.retries, 4, 'the second attempts are counted apart');
    });

    test('a suppressed address is not sent to and is not counted against the rate', async () => {
      const merchant = await signup(t.app, { merchantName: 'Suppress Co' });
      const ms = await merchantSecrets(t, merchant.merchantId);
      const own = await startWebhookSink(() => ms);
      after(() => own.close());
      await addCustomers(t, merchant.merchantId, 5, (i) => ({ webhookUrl: `${own.url}/c/${i}` }));
      const sup = await post(t, merchant, '/api/notifications/suppressions', {
        channel: 'webhook',
        address: `${own.url}/c/0`,
      });
      assert.equal(sup.statusCode, 201, sup.body);
      const send = await startCampaignSend(t, merchant, await campaign(t, merchant, 'webhook'));
      const done = await waitFor(async () => {
        const p = await progressOf(t, merchant, send.id);
        return p.status === 'completed' && p;
      });
      assert.equal(done.counts.suppressed, 1);
      assert.equal(done.counts.delivered, 4);
      assert.equal(own.byId.size, 4);
      const rate = (await get(t, merchant, '/api/notifications/delivery-rate')).json();
      assert.equal(rate.rate, 1);
      assert.equal(rate.suppressed, 1);
    });
  });

  describe('roles and bad input', () => {
    test('viewers and analysts cannot send, pause or rotate', async () => {
      for (const role of ['viewer', 'analyst'] as const) {
        const token = t.app.signToken({ userId: owner.userId, merchantId: owner.merchantId, role });
        const s = { ...owner, token };
        const res = await post(t, s, '/api/notifications/send-test', { channel: 'webhook', to: sink.url });
        assert.equal(res.statusCode, 403);
        assert.equal(res.json().code, 'FORBIDDEN_ROLE');
        const id = crypto.randomUUID();
        for (const url of [
          `/api/notifications/campaign/${id}/pause`,
          `/api/notifications/campaign/${id}/retry-failed`,
          '/api/merchants/me/webhook-secret/rotate',
        ]) {
          assert.equal((await post(t, s, url)).statusCode, 403, url);
        }
        assert.equal((await get(t, s, '/api/notifications/delivery-rate')).statusCode, 200);
      }
    });

    test('each refused with a code, nothing queued', async () => {
      const count = async () =>
        (
          await t.db.query('SELECT count(*)::int AS n FROM notifications WHERE merchant_id = $1', [
            owner.merchantId,
          ])
        ).rows[0].n;
      const before = await count();
      const cases: [unknown, number, string][] = [
        [{ channel: 'sms', to: '+15550100' }, 400, 'VALIDATION_FAILED'],
        [{ channel: 'email', to: 'not-an-address' }, 400, 'NOTIFICATION_ADDRESS_INVALID'],
        [{ channel: 'webhook', to: 'ftp://example.test/x' }, 400, 'NOTIFICATION_ADDRESS_INVALID'],
        [{ channel: 'webhook', to: 'http://no-such-host.invalid/x' }, 201, ''],
        [{ channel: 'push', to: '{"endpoint":"http://127.0.0.1/x"}' }, 400, 'NOTIFICATION_ADDRESS_INVALID'],
        [{ channel: 'push', to: 'not json' }, 400, 'NOTIFICATION_ADDRESS_INVALID'],
        [
          { channel: 'push', to: pushService.subscribe().subscription, message: 'x'.repeat(5000) },
          413,
          'NOTIFICATION_PAYLOAD_TOO_LARGE',
        ],
        [
          { channel: 'email', to: { endpoint: 'x', keys: { p256dh: 'a', auth: 'b' } } },
          400,
          'NOTIFICATION_ADDRESS_INVALID',
        ],
      ];
      let created = 0;
      for (const [payload, status, code] of cases) {
        const res = await post(t, owner, '/api/notifications/send-test', payload);
        assert.equal(res.statusCode, status, `${JSON.stringify(payload).slice(0, 80)}: ${res.body}`);
        if (code) assert.equal(res.json().code, code);
        else {
          created++;
          // an unreachable host is a delivery failure, retried, not a client error
          assert.equal(res.json().status, 'sending');
        }
      }
      assert.equal(await count(), before + created);
      const empty = await post(t, other, '/api/notifications/campaign', {
        campaignId: await campaign(t, other, 'email'),
      });
      assert.equal(empty.statusCode, 422);
      assert.equal(empty.json().code, 'NOTIFICATION_AUDIENCE_EMPTY');
      const receipt = await post(t, undefined, `/api/notifications/${crypto.randomUUID()}/receipt`, {
        event: 'nope',
      });
      assert.equal(receipt.statusCode, 400);
    });

    test('/metrics counts deliveries by channel and outcome and shows the queue', async () => {
      const res = await get(t, undefined, '/metrics');
      assert.match(
        res.body,
        /swipesavvy_notification_deliveries_total\{[^}]*channel="webhook"[^}]*outcome="delivered"/,
      );
      assert.match(res.body, /swipesavvy_notification_deliveries_total\{[^}]*outcome="retry"/);
      assert.match(res.body, /swipesavvy_notification_delivery_seconds_bucket\{[^}]*channel="push"/);
      assert.match(res.body, /swipesavvy_notification_queue_depth\{[^}]*\} \d+/);
      assert.match(res.body, /swipesavvy_notification_oldest_queued_seconds/);
    });
  });

  describe('production-like: SSRF rules, SMTP, rate limits, pause/resume/cancel', async () => {
    const smtp = await startSmtpPeer();
    const p = await startTestApp({
      DATA_DIR: dataDir,
      SMTP_URL: smtp.url,
      ALLOW_PRIVATE_WEBHOOK_TARGETS: 'false',
      WEBHOOK_PRIVATE_ALLOWLIST: '127.0.0.2',
      NOTIFY_MERCHANT_RATE_PER_SECOND: '20',
    });
    const boss = await signup(p.app, { merchantName: 'Prod Co' });
    after(() => smtp.close());

    test('private, loopback and link-local targets are refused unless allowlisted', async () => {
      for (const to of [
        'http://127.0.0.1:9/x',
        'http://10.0.0.5/x',
        'http://169.254.169.254/latest',
        'http://[::1]/x',
        'http://localhost/x',
      ]) {
        const res = await post(p, boss, '/api/notifications/send-test', { channel: 'webhook', to });
        assert.equal(res.statusCode, 400, to);
        assert.equal(res.json().code, 'NOTIFICATION_TARGET_FORBIDDEN', to);
      }
      const ms = await merchantSecrets(p, boss.merchantId);
      const own = await startWebhookSink(() => ms, '127.0.0.2');
      after(() => own.close());
      const res = await post(p, boss, '/api/notifications/send-test', { channel: 'webhook', to: own.url });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().status, 'delivered', res.body);
    });

    test('email: 250 is delivered, a permanent 550 is bounced and suppressed', async () => {
      const ok = (
        await post(p, boss, '/api/notifications/send-test', { channel: 'email', to: 'ann@example.test' })
      ).json();
      assert.equal(ok.status, 'delivered');
      assert.match(ok.receipt.response, /^250/);
      const mail = smtp.messages.find((m) => m.to.includes('ann@example.test'));
      assert.ok(mail);
      assert.match(mail.raw, new RegExp(`Message-ID: <${ok.idempotencyKey}@swipesavvy>`, 'i'));
      const bounced = (
        await post(p, boss, '/api/notifications/send-test', { channel: 'email', to: 'gone@bounce.test' })
      ).json();
      assert.equal(bounced.status, 'bounced');
      assert.equal(bounced.attempts, 1);
      const { rows } = await p.db.query(
        `SELECT reason FROM notification_suppressions WHERE merchant_id = $1 AND address = 'gone@bounce.test'`,
        [boss.merchantId],
      );
      assert.equal(rows[0]?.reason, 'bounced');
    });

    test('the merchant rate limit paces a campaign; pause holds it, resume finishes it, cancel stops it', async () => {
      const ms = await merchantSecrets(p, boss.merchantId);
      const own = await startWebhookSink(() => ms, '127.0.0.2');
      after(() => own.close());
      const base = own.url;
      await addCustomers(p, boss.merchantId, 60, (i) => ({ webhookUrl: `${base}/c/${i}` }));
      const campaignId = await campaign(p, boss, 'webhook');
      const send = await startCampaignSend(p, boss, campaignId);
      await waitFor(async () => own.byId.size >= 5);
      const paused = await post(p, boss, `/api/notifications/campaign/${send.id}/pause`);
      assert.equal(paused.statusCode, 200, paused.body);
      assert.equal(paused.json().status, 'paused');
      // the pause reaches a batch already claimed within a poll of its worker; then nothing moves
      let held = -1;
      await waitFor(async () => {
        const before = own.byId.size;
        await new Promise((r) => setTimeout(r, 500));
        held = own.byId.size;
        return held === before;
      });
      assert.ok(held < 60, `paced by the rate limit: ${held} of 60 before the pause`);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(own.byId.size, held, 'nothing goes out while paused');
      assert.equal(
        (await post(p, boss, `/api/notifications/campaign/${send.id}/pause`)).json().code,
        'NOTIFICATION_SEND_STATE',
      );
      assert.equal((await post(p, boss, `/api/notifications/campaign/${send.id}/resume`)).statusCode, 200);
      const done = await waitFor(async () => {
        const pr = await progressOf(p, boss, send.id);
        return pr.status === 'completed' && pr;
      });
      assert.equal(done.counts.delivered, 60);
      assert.equal(own.byId.size, 60);

      const again = await startCampaignSend(p, boss, campaignId);
      const before = own.byId.size;
      await waitFor(async () => own.byId.size > before);
      const cancelled = await post(p, boss, `/api/notifications/campaign/${again.id}/cancel`);
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      const end = await waitFor(async () => {
        const pr = await progressOf(p, boss, again.id);
        return pr.counts.queued + pr.counts.sending === 0 && pr;
      });
      assert.equal(end.status, 'cancelled');
      assert.ok(end.counts.cancelled > 0);
      assert.equal(
        end.counts.delivered,
        own.byId.size - before,
        'every delivery the sink saw is counted once',
      );
    });
  });
});
