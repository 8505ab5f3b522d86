import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, eventually, signup, staff, startTestApp } from '../../../test/helpers.ts';

describe('signup and login', async () => {
  const { app, db } = await startTestApp({ LOGIN_FAILURES_BEFORE_LOCK: '3' });

  it('creates a merchant and its owner, stores an argon2id hash and sends a welcome email', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/users/signup',
      payload: {
        email: 'Owner@Example.test',
        password: 'long enough pw',
        name: 'Olga',
        merchantName: 'Olga Bakes',
      },
    });
    assert.equal(res.statusCode, 201);
    const user = res.json();
    assert.equal(user.email, 'owner@example.test');
    assert.equal(user.role, 'owner');
    assert.equal(user.passwordHash, undefined);
    const { rows } = await db.query('SELECT password_hash FROM users WHERE id = $1', [user.id]);
    assert.match(rows[0].password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    const login = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'owner@example.test', password: 'long enough pw' },
    });
    const session = { token: login.json().token };
    const mail = await eventually(async () => {
      const list = await app.inject({ method: 'GET', url: '/api/mailbox', headers: auth(session) });
      return list.json().items.find((m: { to: string[] }) => m.to.includes('owner@example.test'));
    });
    assert.equal(mail.subject, 'Welcome to SwipeSavvy');
    assert.match(mail.text, /Olga Bakes/);
    // the mail server has the message; the worker records the outcome for its whole batch after
    const status = await eventually(async () => {
      const res = await app.inject({
        method: 'GET',
        url: `/api/notifications/${user.welcomeEmail.notificationId}/status`,
        headers: auth(session),
      });
      return res.json().status === 'delivered' ? res.json() : undefined;
    });
    assert.equal(status.attempts, 1);
  });

  it('refuses a second account with the same email, whatever its case, and writes nothing', async () => {
    const before = await db.query('SELECT count(*)::int AS n FROM merchants');
    const res = await app.inject({
      method: 'POST',
      url: '/api/users/signup',
      payload: { email: 'OWNER@example.test', password: 'another password', name: 'Dup' },
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'USER_EMAIL_TAKEN');
    const after = await db.query('SELECT count(*)::int AS n FROM merchants');
    assert.equal(after.rows[0].n, before.rows[0].n, 'the merchant of the failed signup was rolled back');
  });

  const bad: [string, unknown, string][] = [
    ['missing fields', { email: 'x@example.test' }, 'VALIDATION_FAILED'],
    [
      'a malformed email',
      { email: 'not-an-email', password: 'long enough pw', name: 'X' },
      'VALIDATION_FAILED',
    ],
    ['a short password', { email: 'y@example.test', password: 'short', name: 'X' }, 'VALIDATION_FAILED'],
    [
      'a wrongly typed field',
      { email: 'y@example.test', password: 12345678, name: 'X' },
      'VALIDATION_FAILED',
    ],
    [
      'an unknown property',
      { email: 'y@example.test', password: 'long enough pw', name: 'X', admin: true },
      'VALIDATION_FAILED',
    ],
  ];
  for (const [what, payload, code] of bad) {
    it(`answers ${what} with a 400 problem`, async () => {
      const res = await app.inject({ method: 'POST', url: '/api/users/signup', payload: payload as object });
      assert.equal(res.statusCode, 400);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, code);
      assert.ok(res.json().errors.length > 0);
      assert.equal(res.json().stack, undefined);
    });
  }

  it('answers malformed JSON, a wrong content type and an oversized body with 4xx problems', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/users/signup',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'INVALID_JSON');
    const text = await app.inject({
      method: 'POST',
      url: '/api/users/signup',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(text.statusCode, 415);
    assert.equal(text.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    const big = await app.inject({
      method: 'POST',
      url: '/api/users/signup',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'big@example.test', password: 'x'.repeat(2_000_000), name: 'Big' }),
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
  });

  it('logs in with a JWT and refuses a wrong password without saying which part was wrong', async () => {
    const ok = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'owner@example.test', password: 'long enough pw' },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().tokenType, 'Bearer');
    assert.equal(ok.json().expiresIn, 3600);
    assert.equal(ok.json().token.split('.').length, 3);
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'owner@example.test', password: 'wrong password' },
    });
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'nobody@example.test', password: 'wrong password' },
    });
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.equal(wrong.json().code, 'AUTH_INVALID_CREDENTIALS');
    assert.equal(wrong.json().detail, unknown.json().detail);
  });

  it('locks an account after repeated failures, whatever the address', async () => {
    const s = await signup(app);
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: s.email, password: 'nope nope' },
      });
      assert.equal(res.statusCode, 401);
    }
    const locked = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: s.email, password: s.password },
    });
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'AUTH_ACCOUNT_LOCKED');
    assert.ok(locked.json().retryAfterSeconds > 0);
  });
});

describe('tokens', async () => {
  const { app } = await startTestApp();
  const s = await signup(app);

  it('refuses a missing, malformed, tampered or expired token', async () => {
    const missing = await app.inject({ method: 'GET', url: '/api/users/me' });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json().code, 'AUTH_REQUIRED');

    const malformed = await app.inject({
      method: 'GET',
      url: '/api/users/me',
      headers: { authorization: 'Bearer abc' },
    });
    assert.equal(malformed.json().code, 'AUTH_TOKEN_INVALID');

    const [h, p, sig] = s.token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = Buffer.from(
      JSON.stringify({ ...payload, role: 'owner', mid: crypto.randomUUID() }),
    ).toString('base64url');
    const tampered = await app.inject({
      method: 'GET',
      url: '/api/users/me',
      headers: { authorization: `Bearer ${h}.${forged}.${sig}` },
    });
    assert.equal(tampered.statusCode, 401);
    assert.equal(tampered.json().code, 'AUTH_TOKEN_INVALID');

    const shortLived = app.jwt.sign({ sub: s.userId, mid: s.merchantId, role: 'owner' }, { expiresIn: 1 });
    // verified (and so remembered by the verifier's cache) while valid; refused once it expired
    const fresh = await app.inject({
      method: 'GET',
      url: '/api/users/me',
      headers: { authorization: `Bearer ${shortLived}` },
    });
    assert.equal(fresh.statusCode, 200);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await app.inject({
      method: 'GET',
      url: '/api/users/me',
      headers: { authorization: `Bearer ${shortLived}` },
    });
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.json().code, 'AUTH_TOKEN_EXPIRED');
  });
});

describe('profiles, settings and roles', async () => {
  const { app } = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);

  it('reads a profile without the password hash', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/users/${owner.userId}`, headers: auth(owner) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().email, owner.email);
    assert.ok(!('passwordHash' in res.json()));
  });

  it("answers 404 for another merchant's user, on read and on write", async () => {
    const read = await app.inject({ method: 'GET', url: `/api/users/${other.userId}`, headers: auth(owner) });
    assert.equal(read.statusCode, 404);
    assert.equal(read.json().code, 'USER_NOT_FOUND');
    const write = await app.inject({
      method: 'PUT',
      url: `/api/users/${other.userId}/settings`,
      headers: auth(owner),
      payload: { theme: 'dark' },
    });
    assert.equal(write.statusCode, 404);
    const role = await app.inject({
      method: 'PUT',
      url: `/api/users/${other.userId}/role`,
      headers: auth(owner),
      payload: { role: 'viewer' },
    });
    assert.equal(role.statusCode, 404);
  });

  it('merges settings and removes a key set to null', async () => {
    const url = `/api/users/${owner.userId}/settings`;
    await app.inject({
      method: 'PUT',
      url,
      headers: auth(owner),
      payload: { theme: 'dark', locale: 'pt-PT' },
    });
    const res = await app.inject({
      method: 'PUT',
      url,
      headers: auth(owner),
      payload: { locale: null, digest: 'weekly' },
    });
    assert.deepEqual(res.json().settings, { theme: 'dark', digest: 'weekly' });
  });

  it('answers a malformed id with 400, not 500', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/users/not-a-uuid', headers: auth(owner) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'VALIDATION_FAILED');
  });

  it('lets a viewer change only its own settings and add no one', async () => {
    const viewer = await staff(app, owner, 'viewer');
    const own = await app.inject({
      method: 'PUT',
      url: `/api/users/${viewer.userId}/settings`,
      headers: auth(viewer),
      payload: { theme: 'light' },
    });
    assert.equal(own.statusCode, 200);
    const others = await app.inject({
      method: 'PUT',
      url: `/api/users/${owner.userId}/settings`,
      headers: auth(viewer),
      payload: { theme: 'light' },
    });
    assert.equal(others.statusCode, 403);
    assert.equal(others.json().code, 'FORBIDDEN_ROLE');
    const add = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: auth(viewer),
      payload: { email: 'sneaky@example.test', password: 'sneaky password', name: 'S', role: 'admin' },
    });
    assert.equal(add.statusCode, 403);
  });

  it('keeps at least one owner', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: `/api/users/${owner.userId}/role`,
      headers: auth(owner),
      payload: { role: 'admin' },
    });
    assert.equal(res.statusCode, 403);
    const me = await app.inject({ method: 'GET', url: '/api/users/me', headers: auth(owner) });
    assert.equal(me.json().role, 'owner');
  });

  it('lists the merchant staff only', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/users', headers: auth(owner) });
    const emails = res.json().items.map((u: { email: string }) => u.email);
    assert.ok(emails.includes(owner.email));
    assert.ok(!emails.includes(other.email));
  });
});

describe('rate limits', async () => {
  const { app } = await startTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '2' });

  it('limits signups per address with a 429 problem', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/users/signup',
        payload: { email: `rl${i}@example.test`, password: 'long enough pw', name: 'RL' },
      });
      codes.push(res.statusCode);
      if (res.statusCode === 429) {
        assert.equal(res.json().code, 'RATE_LIMITED');
        assert.ok(res.headers['retry-after']);
      }
    }
    assert.deepEqual(codes, [201, 201, 429]);
  });
});

// Replicas share one limit through Redis (REDIS_URL). Runs where a Redis is given to the tests:
// .ci/run starts the machine's and sets TEST_REDIS_URL; a fresh machine without Redis skips it.
const redisUrl = process.env['TEST_REDIS_URL'];
describe('rate limits shared by replicas through Redis', {
  skip: !redisUrl && 'TEST_REDIS_URL not set',
}, async () => {
  // a prefix of this run's own: other runs on the same Redis keep their own counts
  const overrides = {
    AUTH_RATE_LIMIT_PER_MINUTE: '3',
    REDIS_URL: redisUrl ?? '',
    REDIS_KEY_PREFIX: `swipesavvy-test-${process.pid}-${Date.now()}:`,
  };
  const replicas = [await startTestApp(overrides), await startTestApp(overrides)];

  it('counts logins on every replica against one limit', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await replicas[i % 2]!.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'nobody@example.test', password: 'wrong password' },
      });
      codes.push(res.statusCode);
    }
    // alone, each replica would have allowed 3 of its own (2 or 3 here): together, 3 in all
    assert.deepEqual(codes, [401, 401, 401, 429, 429]);
  });

  it('lets requests through when Redis cannot be reached, with account lockout still in force', async () => {
    const { app } = await startTestApp({ ...overrides, REDIS_URL: 'redis://127.0.0.1:9' });
    const res = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'nobody@example.test', password: 'wrong password' },
    });
    assert.equal(res.statusCode, 401);
  });
});
