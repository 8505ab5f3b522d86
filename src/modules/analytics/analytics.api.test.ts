import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { auth, type Session, signup, startTestApp } from '../../../test/helpers.ts';
import { createAnalyticsJobs } from './analytics.jobs.ts';
import { createAnalyticsService } from './analytics.service.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('analytics API', async () => {
  // no queue workers: the jobs are run by hand where a test needs them
  const { app, db } = await startTestApp({ WORKERS: 'false' });
  const owner = await signup(app);
  const other = await signup(app);

  const call = async (s: Session, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, headers: auth(s), ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };

  async function customers(
    s: Session,
    n: number,
    attributes: (i: number) => Record<string, string> = () => ({}),
  ) {
    const prefix = randomUUID().slice(0, 8);
    const res = await call(s, 'POST', '/api/customers/import', {
      customers: Array.from({ length: n }, (_, i) => ({
        externalId: `${prefix}-${String(i).padStart(6, '0')}`,
        email: `c${i}-${prefix}@example.test`,
        attributes: attributes(i),
      })),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { rows } = await db.query<{ id: string }>(
      'SELECT id FROM customers WHERE merchant_id = $1 AND external_id LIKE $2 ORDER BY external_id',
      [s.merchantId, `${prefix}-%`],
    );
    return rows.map((r) => r.id);
  }

  async function campaign(s: Session, body: Record<string, unknown> = {}) {
    const res = await call(s, 'POST', '/api/campaigns', {
      name: `c-${randomUUID().slice(0, 6)}`,
      channel: 'email',
      budget: 100,
      status: 'running',
      variants: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }

  const event = (campaignId: string, customerId: string, type: string, at: Date, variant?: string) => ({
    id: randomUUID(),
    type,
    campaignId,
    customerId,
    at: at.toISOString(),
    ...(variant ? { variant } : {}),
  });

  it('counts events in the metrics as soon as they are accepted, and ignores resends', async () => {
    const [c1, c2] = await customers(owner, 2, (i) => ({ city: i === 0 ? 'Lisbon' : 'Porto', tier: 'gold' }));
    const id = await campaign(owner);
    const now = new Date(Date.now() - 60_000);
    const batch = [
      event(id, c1!, 'impression', now, 'A'),
      event(id, c1!, 'click', now, 'A'),
      event(id, c2!, 'impression', now, 'B'),
      event(id, c2!, 'open', now, 'B'),
    ];
    const first = await call(owner, 'POST', '/api/events', { events: [...batch, batch[0]] });
    assert.equal(first.status, 200);
    assert.deepEqual([first.body.accepted, first.body.duplicates, first.body.refused], [4, 1, []]);
    // the same id with another time is still the same event
    const again = await call(owner, 'POST', '/api/events', {
      events: [{ ...batch[1]!, at: new Date(now.getTime() - DAY).toISOString() }],
    });
    assert.deepEqual([again.body.accepted, again.body.duplicates], [0, 1]);

    const m = await call(owner, 'GET', `/api/analytics/campaign/${id}/metrics?interval=hour`);
    assert.equal(m.status, 200);
    assert.deepEqual([m.body.impressions, m.body.opens, m.body.clicks, m.body.conversions], [2, 1, 1, 0]);
    assert.equal(m.body.ctr, 0.5);
    assert.equal(m.body.interval, 'hour');
    assert.equal(m.body.series.length, 1);
    assert.equal(m.body.series[0].impressions, 2);
    assert.equal(new Date(m.body.series[0].at).getTime() % HOUR, 0);

    const seg = await call(owner, 'GET', `/api/analytics/campaign/${id}/segments?by=city`);
    assert.deepEqual(
      seg.body.segments.map((s: { segment: string; impressions: number; clicks: number }) => [
        s.segment,
        s.impressions,
        s.clicks,
      ]),
      [
        ['Lisbon', 1, 1],
        ['Porto', 1, 0],
      ],
    );
    const device = await call(owner, 'GET', `/api/analytics/campaign/${id}/segments?by=device`);
    assert.deepEqual(
      device.body.segments.map((s: { segment: string }) => s.segment),
      ['unknown'],
    );
    const bad = await call(owner, 'GET', `/api/analytics/campaign/${id}/segments?by=email`);
    assert.equal(bad.status, 400);
  });

  it('refuses bad items one by one with a reason and stores the rest; never a 5xx', async () => {
    const [c1] = await customers(owner, 1);
    const [foreignCustomer] = await customers(other, 1);
    const id = await campaign(owner);
    const foreign = await campaign(other);
    const now = new Date(Date.now() - 1000);
    const res = await call(owner, 'POST', '/api/events', {
      events: [
        event(id, c1!, 'impression', now, 'A'),
        event(foreign, c1!, 'impression', now),
        event(randomUUID(), c1!, 'impression', now),
        event(id, c1!, 'impression', now, 'Z'),
        event(id, c1!, 'impression', new Date(Date.now() + 3 * DAY)),
        { ...event(id, c1!, 'impression', now), campaignId: 'not-a-uuid' },
        { ...event(id, c1!, 'impression', now), type: 'purchase' },
        event(id, foreignCustomer!, 'impression', now),
        { ...event(id, c1!, 'impression', now), id: '' },
        'not an object',
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 1);
    assert.deepEqual(
      res.body.refused.map((r: { index: number; code: string }) => [r.index, r.code]),
      [
        [1, 'CAMPAIGN_NOT_FOUND'],
        [2, 'CAMPAIGN_NOT_FOUND'],
        [3, 'VARIANT_NOT_FOUND'],
        [4, 'TIME_IN_FUTURE'],
        [5, 'VALIDATION_FAILED'],
        [6, 'VALIDATION_FAILED'],
        [7, 'CUSTOMER_NOT_FOUND'],
        [8, 'VALIDATION_FAILED'],
        [9, 'VALIDATION_FAILED'],
      ],
    );
    for (const r of res.body.refused) assert.ok(r.reason.length > 0);

    const tx = await call(owner, 'POST', '/api/transactions', {
      transactions: [
        { id: 't-ok', customerId: c1, amount: 10, currency: 'EUR', at: now.toISOString() },
        { id: 't-neg', customerId: c1, amount: -5, currency: 'EUR', at: now.toISOString() },
        { id: 't-cur', customerId: c1, amount: 5, currency: 'euro', at: now.toISOString() },
        {
          id: 't-fut',
          customerId: c1,
          amount: 5,
          currency: 'EUR',
          at: new Date(Date.now() + DAY).toISOString(),
        },
        { id: 't-foreign', customerId: foreignCustomer, amount: 5, currency: 'EUR', at: now.toISOString() },
      ],
    });
    assert.equal(tx.status, 200);
    assert.equal(tx.body.accepted, 1);
    assert.deepEqual(
      tx.body.refused.map((r: { code: string }) => r.code),
      ['VALIDATION_FAILED', 'VALIDATION_FAILED', 'TIME_IN_FUTURE', 'CUSTOMER_NOT_FOUND'],
    );

    const big = Array.from({ length: 10_001 }, () => event(id, c1!, 'impression', now));
    const tooMany = await call(owner, 'POST', '/api/events', { events: big });
    assert.equal(tooMany.status, 413);
    assert.equal(tooMany.body.code, 'BATCH_TOO_LARGE');
    const empty = await call(owner, 'POST', '/api/events', { events: [] });
    assert.equal(empty.status, 400);
    const notJson = await app.inject({
      method: 'POST',
      url: '/api/events',
      headers: { ...auth(owner), 'content-type': 'application/json' },
      payload: '{"events": [',
    });
    assert.equal(notJson.statusCode, 400);
  });

  it("answers 404 for another merchant's campaign on every analytics route", async () => {
    const foreign = await campaign(other);
    for (const path of ['metrics', 'segments', 'experiment', 'allocation']) {
      const res = await call(owner, 'GET', `/api/analytics/campaign/${foreign}/${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.code, 'CAMPAIGN_NOT_FOUND');
    }
    const put = await call(owner, 'PUT', `/api/analytics/campaign/${foreign}/allocation`, { enabled: true });
    assert.equal(put.status, 404);
    const malformed = await call(owner, 'GET', '/api/analytics/campaign/nope/metrics');
    assert.equal(malformed.status, 400);
  });

  it('attributes each transaction to the last touch within that campaign’s window', async () => {
    const [cust] = await customers(owner, 1);
    const long = await campaign(owner, { attributionWindowDays: 7, rewardRate: 0.1 });
    const short = await campaign(owner, { attributionWindowDays: 1 });
    const t0 = Date.now() - 20 * DAY;
    const at = (days: number) => new Date(t0 + days * DAY);
    await call(owner, 'POST', '/api/events', {
      events: [event(long, cust!, 'click', at(0), 'A'), event(short, cust!, 'click', at(2), 'B')],
    });
    // day −1: before any touch; 2.5: short's touch is the last, inside its 1 day; 3.5: short's window
    // has closed, long's touch (day 0) is inside its 7; 8: both closed
    const timeline: [string, number, string | null][] = [
      ['before', -1, null],
      ['in-short', 2.5, short],
      ['short-expired', 3.5, long],
      ['all-expired', 8, null],
    ];
    const res = await call(owner, 'POST', '/api/transactions', {
      transactions: timeline.map(([id, days]) => ({
        id: `${id}-${long}`,
        customerId: cust,
        amount: 20,
        currency: 'EUR',
        at: at(days).toISOString(),
      })),
    });
    assert.equal(res.body.attributed, 2);
    const { rows } = await db.query<{ id: string; campaignId: string | null }>(
      'SELECT id, campaign_id AS "campaignId" FROM transactions WHERE merchant_id = $1 AND id LIKE $2',
      [owner.merchantId, `%-${long}`],
    );
    const byId = new Map(rows.map((r) => [r.id, r.campaignId]));
    for (const [id, , expected] of timeline) assert.equal(byId.get(`${id}-${long}`), expected, id);

    const m = await call(owner, 'GET', `/api/analytics/campaign/${long}/metrics`);
    assert.deepEqual([m.body.transactions, m.body.revenue, m.body.spend], [1, 20, 2]);
    assert.equal(m.body.roi, 9);
    // the transaction counts under the variant its customer was exposed to
    const ex = await call(owner, 'GET', `/api/analytics/campaign/${short}/experiment`);
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    assert.equal(ex.body.variants.find((v: { name: string }) => v.name === 'B').revenue, 20);
  });

  it('reports incremental revenue and ROI against the holdout with an interval', async () => {
    // a merchant of its own: the audience is every customer of the merchant
    const fresh = await signup(app);
    const ids = await customers(fresh, 400);
    const id = await campaign(fresh, {
      holdoutPct: 50,
      unitCost: 0.01,
      startsAt: new Date(Date.now() - DAY).toISOString(),
    });
    const { rows } = await db.query<{ id: string; treated: boolean }>(
      'SELECT id, swipesavvy_is_treated(id, $1, 50) AS treated FROM customers WHERE id = ANY($2::uuid[])',
      [id, ids],
    );
    // treated customers spend 30, held-out ones 10, every third customer nothing
    const spendOf = (i: number, treated: boolean) => (i % 3 === 0 ? 0 : treated ? 30 : 10);
    const at = new Date(Date.now() - HOUR).toISOString();
    await call(fresh, 'POST', '/api/transactions', {
      transactions: rows.map((r, i) => ({
        id: `lift-${r.id}`,
        customerId: r.id,
        amount: spendOf(i, r.treated),
        currency: 'EUR',
        at,
      })),
    });
    await createAnalyticsService(db).refreshLift(id);
    const m = await call(fresh, 'GET', `/api/analytics/campaign/${id}/metrics`);
    const inc = m.body.incremental;
    const treated = rows.filter((r) => r.treated);
    const held = rows.filter((r) => !r.treated);
    assert.equal(inc.treatedCustomers, treated.length);
    assert.equal(inc.heldOutCustomers, held.length);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const tRev = rows.map((r, i) => [r.treated, spendOf(i, r.treated)] as const);
    const tMean = mean(tRev.filter(([t]) => t).map(([, x]) => x));
    const hMean = mean(tRev.filter(([t]) => !t).map(([, x]) => x));
    assert.ok(Math.abs(inc.revenuePerTreated - tMean) < 1e-9);
    assert.ok(Math.abs(inc.revenuePerHeldOut - hMean) < 1e-9);
    assert.ok(Math.abs(inc.incrementalRevenue - (tMean - hMean) * treated.length) < 0.01);
    const [lo, hi] = inc.incrementalRevenueInterval;
    assert.ok(lo < inc.incrementalRevenue && inc.incrementalRevenue < hi);
    // no messages were sent: no spend, so ROI is undefined, not infinite
    assert.equal(m.body.incrementalRoi, null);
  });

  it('gives an A/B verdict from customers exposed and converted per variant', async () => {
    const ids = await customers(owner, 600);
    const id = await campaign(owner);
    const at = new Date(Date.now() - HOUR);
    // A: 300 exposed, 30 converted; B: 300 exposed, 90 converted
    const events = ids.flatMap((c, i) => {
      const variant = i % 2 === 0 ? 'A' : 'B';
      const k = Math.floor(i / 2);
      const converts = variant === 'A' ? k < 30 : k < 90;
      return [
        event(id, c, 'impression', at, variant),
        event(id, c, 'impression', at, variant),
        ...(converts ? [event(id, c, 'conversion', at, variant)] : []),
      ];
    });
    await call(owner, 'POST', '/api/events', { events });
    const ex = await call(owner, 'GET', `/api/analytics/campaign/${id}/experiment`);
    assert.equal(ex.status, 200);
    const [a, b] = ex.body.variants;
    assert.deepEqual([a.exposed, a.converted, a.impressions], [300, 30, 600]);
    assert.deepEqual([b.exposed, b.converted], [300, 90]);
    assert.equal(ex.body.srm.mismatch, false);
    assert.equal(ex.body.verdict, 'winner', ex.body.reason);
    assert.equal(ex.body.winner, 'B');
    const cmp = ex.body.comparisons[0];
    assert.ok(Math.abs(cmp.lift - 2) < 1e-9);
    assert.ok(cmp.liftInterval[0] > 0);

    // a third of B's customers vanish from tracking: the split no longer matches 1:1
    const skewed = await campaign(owner);
    await call(owner, 'POST', '/api/events', {
      events: ids
        .map((c, i) => event(skewed, c, 'impression', at, i % 2 === 0 ? 'A' : 'B'))
        .filter((_, i) => i % 2 === 0 || i % 3 !== 0),
    });
    const srm = await call(owner, 'GET', `/api/analytics/campaign/${skewed}/experiment`);
    assert.equal(srm.body.verdict, 'invalid: SRM', JSON.stringify(srm.body.srm));
  });

  it('moves the weights of an opted-in campaign by Thompson sampling and keeps the history', async () => {
    const ids = await customers(owner, 400);
    const id = await campaign(owner);
    const at = new Date(Date.now() - HOUR);
    await call(owner, 'POST', '/api/events', {
      events: ids.flatMap((c, i) => {
        const variant = i % 2 === 0 ? 'A' : 'B';
        const k = Math.floor(i / 2);
        return [
          event(id, c, 'impression', at, variant),
          ...((variant === 'A' ? k < 10 : k < 60) ? [event(id, c, 'conversion', at, variant)] : []),
        ];
      }),
    });
    const bad = await call(owner, 'PUT', `/api/analytics/campaign/${id}/allocation`, {
      enabled: true,
      floor: 0.9,
    });
    assert.equal(bad.status, 400);
    const on = await call(owner, 'PUT', `/api/analytics/campaign/${id}/allocation`, {
      enabled: true,
      floor: 0.1,
    });
    assert.equal(on.status, 200);
    assert.equal(on.body.enabled, true);
    const changed = await createAnalyticsJobs(db).reallocate();
    assert.ok(changed.includes(id));
    const after = await call(owner, 'GET', `/api/analytics/campaign/${id}/allocation`);
    assert.equal(after.body.history.length, 1);
    const { weights, probabilityBest } = after.body.history[0];
    assert.ok(probabilityBest.B > 0.99);
    assert.equal(weights.A, 1000);
    assert.equal(weights.B, 9000);
    const c = await call(owner, 'GET', `/api/campaigns/${id}`);
    assert.deepEqual(
      c.body.variants.map((v: { weight: number }) => v.weight),
      [1000, 9000],
    );
    const ex = await call(owner, 'GET', `/api/analytics/campaign/${id}/experiment`);
    assert.equal(ex.body.adaptive, true);
    assert.equal(ex.body.srm.checked, false);
  });

  it('keeps events of any month: partitions ahead, old months in the default partition', async () => {
    const names = await createAnalyticsJobs(db).ensurePartitions();
    assert.equal(names.length, 4);
    const [cust] = await customers(owner, 1);
    const id = await campaign(owner);
    const old = new Date(Date.UTC(2019, 5, 1, 12));
    const res = await call(owner, 'POST', '/api/events', {
      events: [event(id, cust!, 'impression', old, 'A')],
    });
    assert.equal(res.body.accepted, 1);
    const { rows } = await db.query<{ partition: string }>(
      'SELECT tableoid::regclass::text AS partition FROM events WHERE campaign_id = $1',
      [id],
    );
    assert.equal(rows[0]!.partition, 'events_default');
    const m = await call(owner, 'GET', `/api/analytics/campaign/${id}/metrics`);
    assert.equal(m.body.impressions, 1);
  });

  it('ranks the portfolio and gives its trend', async () => {
    const res = await call(owner, 'GET', '/api/analytics/portfolio?rank=conversions');
    assert.equal(res.status, 200);
    assert.equal(res.body.rankedBy, 'conversions');
    const conv = res.body.campaigns.map((c: { conversions: number }) => c.conversions);
    assert.deepEqual(
      conv,
      [...conv].sort((a: number, b: number) => b - a),
    );
    assert.equal(
      res.body.totals.impressions,
      res.body.campaigns.reduce((s: number, c: { impressions: number }) => s + c.impressions, 0),
    );
    assert.equal(res.body.trend.days, 30);
    assert.ok(res.body.trend.series.length >= 1);
    const foreign = await call(other, 'GET', '/api/analytics/portfolio');
    assert.equal(foreign.body.totals.impressions, 0);
  });

  it('answers the portfolio fresh after every kind of write, though it keeps it between them', async () => {
    const s = await signup(app);
    const [c1] = await customers(s, 1);
    const id = await campaign(s, { name: 'fresh-1' });
    const portfolio = async () => {
      const res = await app.inject({ method: 'GET', url: '/api/analytics/portfolio', headers: auth(s) });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      return { raw: res.body, body: res.json() };
    };
    const first = await portfolio();
    assert.equal(first.body.totals.impressions, 0);
    assert.equal((await portfolio()).raw, first.raw, 'nothing written: the same answer');

    // ingestion (the rollup trigger writes the daily rollup)
    const now = new Date(Date.now() - 60_000);
    await call(s, 'POST', '/api/events', { events: [event(id, c1!, 'impression', now, 'A')] });
    assert.equal((await portfolio()).body.totals.impressions, 1);
    await call(s, 'POST', '/api/events', { events: [event(id, c1!, 'impression', now, 'B')] });
    assert.equal((await portfolio()).body.totals.impressions, 2);

    // campaign writes through the API
    assert.equal((await call(s, 'PUT', `/api/campaigns/${id}`, { name: 'fresh-renamed' })).status, 200);
    assert.equal((await portfolio()).body.campaigns[0].name, 'fresh-renamed');
    await campaign(s, { name: 'fresh-2' });
    assert.equal((await portfolio()).body.totals.campaigns, 2);

    // writes that bypass this process (another replica, a job, SQL by hand)
    // (the portfolio's totals are the campaign totals, analytics_totals)
    await db.query('UPDATE analytics_totals SET clicks = clicks + 5 WHERE campaign_id = $1', [id]);
    assert.equal((await portfolio()).body.totals.clicks, 5);
    await db.query(`UPDATE campaigns SET name = 'renamed-by-sql' WHERE id = $1`, [id]);
    assert.ok((await portfolio()).body.campaigns.some((c: { name: string }) => c.name === 'renamed-by-sql'));
    await db.query('DELETE FROM analytics_totals WHERE campaign_id = $1', [id]);
    assert.equal((await portfolio()).body.totals.impressions, 0);

    // another merchant's writes leave this one's version alone, and never leak into it
    const before = await db.query(
      'SELECT sum(version) AS v FROM merchant_read_versions WHERE merchant_id = $1',
      [s.merchantId],
    );
    await campaign(other);
    const after = await db.query(
      'SELECT sum(version) AS v FROM merchant_read_versions WHERE merchant_id = $1',
      [s.merchantId],
    );
    assert.deepEqual(after.rows, before.rows);
    assert.equal((await portfolio()).body.totals.campaigns, 2);
  });
});
