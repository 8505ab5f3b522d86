import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, type Session, signup, staff, startTestApp } from '../../../test/helpers.ts';

describe('campaigns', async () => {
  const { app, db } = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);

  async function create(session: Session, payload: Record<string, unknown> = {}) {
    return app.inject({
      method: 'POST',
      url: '/api/campaigns',
      headers: auth(session),
      payload: { name: 'Spring promo', channel: 'email', budget: 500, ...payload },
    });
  }

  it('creates a draft with a default variant and reads it back with its metrics', async () => {
    const res = await create(owner);
    assert.equal(res.statusCode, 201);
    const c = res.json();
    assert.equal(c.status, 'draft');
    assert.deepEqual(
      c.variants.map((v: { name: string; weight: number }) => [v.name, v.weight]),
      [['A', 1]],
    );
    const got = await app.inject({ method: 'GET', url: `/api/campaigns/${c.id}`, headers: auth(owner) });
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().metrics.impressions, 0);
    assert.equal(got.json().metrics.ctr, null, 'no impressions: no CTR, rather than a made-up 0');
  });

  it('keeps variants with weights and content in order', async () => {
    const res = await create(owner, {
      variants: [
        { name: 'control', weight: 70, content: { subject: 'Hi' } },
        { name: 'bold', weight: 30, content: { subject: 'HI!' } },
      ],
      segment: { city: ['Lisbon'], tier: ['gold'] },
      holdoutPct: 10,
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(
      res.json().variants.map((v: { name: string }) => v.name),
      ['control', 'bold'],
    );
    assert.deepEqual(res.json().segment, { city: ['Lisbon'], tier: ['gold'] });
    assert.equal(res.json().holdoutPct, 10);
  });

  it('reads the variants campaign_variants holds, whoever wrote them', async () => {
    const c = (await create(owner, { variants: [{ name: 'A', weight: 1 }] })).json();
    const read = async () =>
      (await app.inject({ method: 'GET', url: `/api/campaigns/${c.id}`, headers: auth(owner) })).json()
        .variants as { name: string; weight: number; content: Record<string, string> }[];
    const put = await app.inject({
      method: 'PUT',
      url: `/api/campaigns/${c.id}`,
      headers: auth(owner),
      payload: {
        variants: [
          { name: 'B', weight: 2, content: { subject: 'b' } },
          { name: 'C', weight: 3 },
        ],
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(await read(), [
      { name: 'B', weight: 2, content: { subject: 'b' } },
      { name: 'C', weight: 3, content: {} },
    ]);
    // writers other than the API (the adaptive allocation job, the demo data) write the table itself
    await db.query(`UPDATE campaign_variants SET weight = 9 WHERE campaign_id = $1 AND name = 'C'`, [c.id]);
    await db.query(
      `INSERT INTO campaign_variants (campaign_id, name, weight, position) VALUES ($1, 'Z', 1, -1)`,
      [c.id],
    );
    assert.deepEqual(
      (await read()).map((v) => [v.name, v.weight]),
      [
        ['Z', 1],
        ['B', 2],
        ['C', 9],
      ],
    );
    await db.query(`DELETE FROM campaign_variants WHERE campaign_id = $1 AND name <> 'C'`, [c.id]);
    assert.deepEqual(
      (await read()).map((v) => v.name),
      ['C'],
    );
    const list = await app.inject({ method: 'GET', url: '/api/campaigns?limit=50', headers: auth(owner) });
    const listed = list.json().items.find((x: { id: string }) => x.id === c.id);
    assert.deepEqual(
      listed.variants.map((v: { name: string }) => v.name),
      ['C'],
    );
  });

  it('reads the counts the campaign totals hold at the time of the read, however they got there', async () => {
    const c = (await create(owner)).json();
    const impressions = async () =>
      (await app.inject({ method: 'GET', url: `/api/campaigns/${c.id}`, headers: auth(owner) })).json()
        .metrics.impressions;
    assert.equal(await impressions(), 0);
    assert.equal(await impressions(), 0);
    await db.query(
      'INSERT INTO analytics_totals (merchant_id, campaign_id, impressions) VALUES ($1, $2, 7)',
      [owner.merchantId, c.id],
    );
    assert.equal(await impressions(), 7);
    await db.query('UPDATE analytics_totals SET impressions = 9 WHERE campaign_id = $1', [c.id]);
    assert.equal(await impressions(), 9);
    // another merchant asking for it still gets a 404, however often it was read
    const foreign = await app.inject({ method: 'GET', url: `/api/campaigns/${c.id}`, headers: auth(other) });
    assert.equal(foreign.statusCode, 404);
  });

  it('refuses duplicate variant names and writes nothing', async () => {
    const before = await db.query('SELECT count(*)::int AS n FROM campaigns');
    const res = await create(owner, {
      variants: [
        { name: 'A', weight: 1 },
        { name: 'a', weight: 1 },
      ],
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'CAMPAIGN_VARIANT_DUPLICATE');
    const after = await db.query('SELECT count(*)::int AS n FROM campaigns');
    assert.equal(after.rows[0].n, before.rows[0].n);
  });

  it('validates fields: channel, budget, schedule', async () => {
    for (const payload of [{ channel: 'sms' }, { budget: -1 }, { name: '' }, { budget: '500' }]) {
      const res = await create(owner, payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 'VALIDATION_FAILED');
    }
    const backwards = await create(owner, {
      startsAt: '2026-12-02T00:00:00Z',
      endsAt: '2026-12-01T00:00:00Z',
    });
    assert.equal(backwards.statusCode, 400);
  });

  it('pages through the list with a cursor, newest first, without repeats', async () => {
    const session = await signup(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(session, { name: `C${i}` })).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/campaigns?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await app.inject({ method: 'GET', url, headers: auth(session) });
      assert.equal(page.statusCode, 200);
      assert.ok(page.json().items.length <= 2);
      seen.push(...page.json().items.map((c: { id: string }) => c.id));
      cursor = page.json().nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ids.reverse());
  });

  it('filters by status and name, and refuses a forged cursor', async () => {
    const session = await signup(app);
    await create(session, { name: 'Coffee morning', status: 'running' });
    await create(session, { name: 'Tea afternoon' });
    const running = await app.inject({
      method: 'GET',
      url: '/api/campaigns?status=running',
      headers: auth(session),
    });
    assert.deepEqual(
      running.json().items.map((c: { name: string }) => c.name),
      ['Coffee morning'],
    );
    const byName = await app.inject({ method: 'GET', url: '/api/campaigns?q=tea', headers: auth(session) });
    assert.equal(byName.json().items.length, 1);
    const forged = await app.inject({
      method: 'GET',
      url: '/api/campaigns?cursor=bm9wZQ',
      headers: auth(session),
    });
    assert.equal(forged.statusCode, 400);
    assert.equal(forged.json().code, 'INVALID_CURSOR');
    const tooMany = await app.inject({
      method: 'GET',
      url: '/api/campaigns?limit=1000',
      headers: auth(session),
    });
    assert.equal(tooMany.statusCode, 400);
  });

  it('follows the status lifecycle and says what is allowed', async () => {
    const id = (await create(owner)).json().id;
    const put = (payload: object) =>
      app.inject({ method: 'PUT', url: `/api/campaigns/${id}`, headers: auth(owner), payload });
    const paused = await put({ status: 'paused' });
    assert.equal(paused.statusCode, 409);
    assert.equal(paused.json().code, 'CAMPAIGN_INVALID_TRANSITION');
    assert.deepEqual(paused.json().allowed, ['scheduled', 'running']);
    assert.equal((await put({ status: 'running', budget: 900 })).json().budget, 900);
    const variants = await put({ variants: [{ name: 'B', weight: 1 }] });
    assert.equal(variants.statusCode, 409, 'variants are fixed once the campaign runs');
    assert.equal(variants.json().code, 'CAMPAIGN_NOT_EDITABLE');
    assert.equal((await put({ status: 'paused' })).json().status, 'paused');
    assert.equal((await put({ status: 'completed' })).json().status, 'completed');
    const after = await put({ name: 'renamed' });
    assert.equal(after.statusCode, 409);
    assert.equal(after.json().code, 'CAMPAIGN_NOT_EDITABLE');
    const empty = await put({});
    assert.equal(empty.statusCode, 400);
  });

  it("answers 404 for another merchant's campaign on every route", async () => {
    const id = (await create(owner)).json().id;
    const routes: [string, string, object?][] = [
      ['GET', `/api/campaigns/${id}`],
      ['PUT', `/api/campaigns/${id}`, { name: 'mine now' }],
      ['GET', `/api/analytics/campaign/${id}/metrics`],
      ['GET', `/api/analytics/campaign/${id}/segments`],
    ];
    for (const [method, url, payload] of routes) {
      const res = await app.inject({ method: method as 'GET', url, headers: auth(other), payload });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().code, 'CAMPAIGN_NOT_FOUND');
    }
    const list = await app.inject({ method: 'GET', url: '/api/campaigns', headers: auth(other) });
    assert.ok(!list.json().items.some((c: { id: string }) => c.id === id));
    const unchanged = await app.inject({ method: 'GET', url: `/api/campaigns/${id}`, headers: auth(owner) });
    assert.equal(unchanged.json().name, 'Spring promo');
  });

  it('lets analysts and viewers read but not write', async () => {
    const id = (await create(owner)).json().id;
    for (const role of ['analyst', 'viewer']) {
      const s = await staff(app, owner, role as 'analyst' | 'viewer');
      assert.equal(
        (await app.inject({ method: 'GET', url: `/api/campaigns/${id}`, headers: auth(s) })).statusCode,
        200,
      );
      const write = await create(s);
      assert.equal(write.statusCode, 403, role);
      assert.equal(write.json().code, 'FORBIDDEN_ROLE');
      const update = await app.inject({
        method: 'PUT',
        url: `/api/campaigns/${id}`,
        headers: auth(s),
        payload: { name: 'x' },
      });
      assert.equal(update.statusCode, 403);
    }
  });
});
