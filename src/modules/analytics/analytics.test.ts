import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { auth, signup, staff, startTestApp } from '../../../test/helpers.ts';
import { campaignMetrics } from './analytics.repo.ts';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('analytics from stored events and transactions', async () => {
  const { app, db } = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);
  const post = (url: string, payload: object, session = owner) =>
    app.inject({ method: 'POST', url, headers: auth(session), payload });
  const get = (url: string, session = owner) => app.inject({ method: 'GET', url, headers: auth(session) });

  await post('/api/customers/import', {
    customers: [
      { externalId: 'a', attributes: { city: 'Lisbon', tier: 'gold' } },
      { externalId: 'b', attributes: { city: 'Lisbon', tier: 'silver' } },
      { externalId: 'c', attributes: { city: 'Porto', tier: 'gold' } },
    ],
  });
  const customers = (await get('/api/customers?limit=10')).json().items as {
    id: string;
    externalId: string;
  }[];
  const id = (ext: string) => customers.find((c) => c.externalId === ext)!.id;
  const campaign = (
    await post('/api/campaigns', {
      name: 'Cashback',
      channel: 'email',
      budget: 100,
      unitCost: 0.5,
      rewardRate: 0.1,
      attributionWindowDays: 2,
      variants: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
    })
  ).json();
  const now = Date.now();
  /** another merchant with one customer and one campaign of its own */
  const merchantWithCampaign = async (name: string) => {
    const theirs = await signup(app);
    await post('/api/customers/import', { customers: [{ externalId: 'only' }] }, theirs);
    const [customer] = (await get('/api/customers?limit=1', theirs)).json().items as { id: string }[];
    const theirCampaign = (
      await post('/api/campaigns', { name, channel: 'email', budget: 10, unitCost: 0.1 }, theirs)
    ).json() as { id: string };
    return { theirs, customer: customer!, theirCampaign };
  };

  it('stores valid events, ignores resends and refuses bad items with their reason', async () => {
    const events = [
      {
        id: 'e1',
        type: 'impression',
        campaignId: campaign.id,
        variant: 'A',
        customerId: id('a'),
        at: iso(now - 50 * HOUR),
      },
      {
        id: 'e2',
        type: 'click',
        campaignId: campaign.id,
        variant: 'A',
        customerId: id('a'),
        at: iso(now - 49 * HOUR),
      },
      {
        id: 'e3',
        type: 'impression',
        campaignId: campaign.id,
        variant: 'B',
        customerId: id('b'),
        at: iso(now - 10 * HOUR),
      },
      {
        id: 'e4',
        type: 'impression',
        campaignId: campaign.id,
        variant: 'B',
        customerId: id('c'),
        at: iso(now - 10 * HOUR),
      },
      {
        id: 'e5',
        type: 'click',
        campaignId: campaign.id,
        variant: 'B',
        customerId: id('c'),
        at: iso(now - 9 * HOUR),
      },
      {
        id: 'e6',
        type: 'conversion',
        campaignId: campaign.id,
        variant: 'B',
        customerId: id('c'),
        at: iso(now - 8 * HOUR),
      },
      {
        id: 'e1',
        type: 'impression',
        campaignId: campaign.id,
        variant: 'A',
        customerId: id('a'),
        at: iso(now - 50 * HOUR),
      },
      { id: 'bad1', type: 'purchase', campaignId: campaign.id, customerId: id('a'), at: iso(now) },
      { id: 'bad2', type: 'click', campaignId: crypto.randomUUID(), customerId: id('a'), at: iso(now) },
      { id: 'bad3', type: 'click', campaignId: campaign.id, variant: 'Z', customerId: id('a'), at: iso(now) },
      { id: 'bad4', type: 'click', campaignId: campaign.id, customerId: id('a'), at: iso(now + 48 * HOUR) },
      { id: 'bad5', type: 'click', campaignId: campaign.id, customerId: 'not-a-uuid', at: iso(now) },
    ];
    const res = await post('/api/events', { events });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 6);
    assert.equal(res.json().duplicates, 1);
    assert.deepEqual(
      res.json().refused.map((r: { index: number; code: string }) => [r.index, r.code]),
      [
        [7, 'VALIDATION_FAILED'],
        [8, 'CAMPAIGN_NOT_FOUND'],
        [9, 'VARIANT_NOT_FOUND'],
        [10, 'TIME_IN_FUTURE'],
        [11, 'VALIDATION_FAILED'],
      ],
    );
    const again = await post('/api/events', { events: events.slice(0, 6) });
    assert.equal(again.json().accepted, 0);
    assert.equal(again.json().duplicates, 6);
  });

  it("keys event ids by merchant, and refuses the previous release's insert of a known id", async () => {
    const { theirs, customer, theirCampaign } = await merchantWithCampaign('Theirs');
    const event = {
      id: 'e1',
      type: 'click',
      campaignId: theirCampaign.id,
      customerId: customer.id,
      at: iso(now),
    };
    const res = await post('/api/events', { events: [event] }, theirs);
    assert.deepEqual([res.json().accepted, res.json().duplicates], [1, 0], res.body);
    // the release before migration 074 inserts (merchant_id, id) and takes 23505 for "known"
    await assert.rejects(
      db.query('INSERT INTO event_ids (merchant_id, id) VALUES ($1, $2)', [owner.merchantId, 'e1']),
      (error: { code?: string }) => error.code === '23505',
    );
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_ids WHERE id = $1 AND merchant_id = ANY ($2::uuid[])',
      ['e1', [owner.merchantId, theirs.merchantId]],
    );
    assert.equal(rows[0]!.n, 2);
  });

  it('keys an event id by a SHA-256 of its merchant and its exact text', async () => {
    const { theirs, customer, theirCampaign } = await merchantWithCampaign('Keys');
    // backslashes (which a text-to-bytea cast would read as escapes), non-ASCII, a quote
    const ids = ['a\\b', '\\000', 'x\\\\y', 'back\\', 'é€😀', "it's"];
    const events = ids.map((eventId) => ({
      id: eventId,
      type: 'click',
      campaignId: theirCampaign.id,
      customerId: customer.id,
      at: iso(now),
    }));
    const first = await post('/api/events', { events }, theirs);
    assert.deepEqual([first.json().accepted, first.json().duplicates], [ids.length, 0], first.body);
    const again = await post('/api/events', { events }, theirs);
    assert.deepEqual([again.json().accepted, again.json().duplicates], [0, ids.length], again.body);
    const { rows } = await db.query<{ id: string; key: string }>(
      'SELECT id, key::text FROM event_ids WHERE merchant_id = $1',
      [theirs.merchantId],
    );
    // the first 16 bytes of SHA-256 over the UTF-8 text, computed here independently
    const expected = (eventId: string) => {
      const hex = createHash('sha256').update(`${theirs.merchantId}:${eventId}`, 'utf8').digest('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    };
    assert.deepEqual(
      new Map(rows.map((r) => [r.id, r.key])),
      new Map(ids.map((eventId) => [eventId, expected(eventId)])),
    );
    // MD5 is refused by an OpenSSL in FIPS mode, which would refuse every event with it
    const { rows: fn } = await db.query<{ src: string }>(
      `SELECT prosrc AS src FROM pg_proc WHERE proname = 'swipesavvy_event_key'`,
    );
    assert.doesNotMatch(fn[0]!.src, /md5/i);
  });

  it("refuses events for another merchant's campaign", async () => {
    const res = await post(
      '/api/events',
      { events: [{ id: 'x', type: 'click', campaignId: campaign.id, customerId: id('a'), at: iso(now) }] },
      other,
    );
    assert.equal(res.json().accepted, 0);
    assert.equal(res.json().refused[0].code, 'CAMPAIGN_NOT_FOUND');
  });

  it('attributes a transaction to the last touch within the window only', async () => {
    const res = await post('/api/transactions', {
      transactions: [
        // c was touched 8 h ago: inside the 2-day window
        { id: 't1', customerId: id('c'), amount: 40, currency: 'EUR', at: iso(now - 7 * HOUR) },
        // a was last touched 49 h ago: outside the window at now − 0 h
        { id: 't2', customerId: id('a'), amount: 25.5, currency: 'EUR', at: iso(now - HOUR) },
        // b was touched 10 h ago, but this sale came before the touch
        { id: 't3', customerId: id('b'), amount: 12, currency: 'EUR', at: iso(now - 20 * HOUR) },
        { id: 't4', customerId: id('b'), amount: -5, currency: 'EUR', at: iso(now) },
        { id: 't5', customerId: id('b'), amount: 5, currency: 'euro', at: iso(now) },
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 3);
    assert.equal(res.json().attributed, 1);
    assert.deepEqual(
      res.json().refused.map((r: { index: number }) => r.index),
      [3, 4],
    );
  });

  it('reads the metrics with a cached plan per interval, not a new plan per request', async () => {
    const client = await db.connect();
    try {
      const since = new Date(now - 7 * 24 * HOUR);
      for (let i = 0; i < 8; i++)
        for (const interval of ['hour', 'day'] as const)
          assert.ok(await campaignMetrics(client, owner.merchantId, campaign.id, interval, since));
      const { rows } = await client.query<{ name: string; generic: number }>(
        `SELECT name, generic_plans::int AS generic FROM pg_prepared_statements
          WHERE name LIKE 'campaign-metrics-%' ORDER BY name`,
      );
      // PostgreSQL tries five custom plans, then keeps the generic one if it costs no more
      assert.deepEqual(rows, [
        { name: 'campaign-metrics-day', generic: 3 },
        { name: 'campaign-metrics-hour', generic: 3 },
      ]);
    } finally {
      client.release();
    }
  });

  it('computes campaign metrics from the stored rows', async () => {
    const res = await get(`/api/analytics/campaign/${campaign.id}/metrics`);
    assert.equal(res.statusCode, 200);
    const m = res.json();
    assert.equal(m.impressions, 3);
    assert.equal(m.clicks, 2);
    assert.equal(m.conversions, 1);
    assert.equal(m.revenue, 40);
    // no messages sent through the platform; the reward on attributed revenue is the spend
    assert.equal(m.spend, 4);
    assert.equal(m.ctr, 2 / 3);
    assert.equal(m.conversionRate, 0.5);
    assert.equal(m.roi, (40 - 4) / 4);
    assert.equal(m.cpa, 4);
  });

  it('breaks metrics down by a segment attribute from the allowlist', async () => {
    const res = await get(`/api/analytics/campaign/${campaign.id}/segments?by=city`);
    const byCity = Object.fromEntries(
      res
        .json()
        .segments.map((s: { segment: string; impressions: number; revenue: number }) => [
          s.segment,
          [s.impressions, s.revenue],
        ]),
    );
    assert.deepEqual(byCity, { Lisbon: [2, 0], Porto: [1, 40] });
    const bad = await get(`/api/analytics/campaign/${campaign.id}/segments?by=password_hash`);
    assert.equal(bad.statusCode, 400);
  });

  it('sums the portfolio and ranks campaigns', async () => {
    await post('/api/campaigns', { name: 'Quiet', channel: 'email', budget: 5 });
    const res = await get('/api/analytics/portfolio?rank=revenue');
    const p = res.json();
    assert.equal(p.totals.campaigns, 2);
    assert.equal(p.totals.revenue, 40);
    assert.deepEqual(
      p.campaigns.map((c: { name: string; rank: number }) => [c.rank, c.name]),
      [
        [1, 'Cashback'],
        [2, 'Quiet'],
      ],
    );
    const foreign = await get('/api/analytics/portfolio', other);
    assert.equal(foreign.json().totals.campaigns, 0);
  });

  it('answers the experiment of a campaign nobody has seen yet: keep running, no statistic', async () => {
    const fresh = await post('/api/campaigns', {
      name: 'Unseen',
      channel: 'email',
      budget: 1,
      variants: [
        { name: 'A', weight: 1 },
        { name: 'B', weight: 1 },
      ],
    });
    const res = await get(`/api/analytics/campaign/${fresh.json().id}/experiment`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().verdict, 'keep running');
    assert.equal(res.json().srm.chiSquare, null);
  });

  it('refuses oversized batches and lets viewers read but not ingest', async () => {
    const events = Array.from({ length: 10_001 }, (_, i) => ({ id: `big${i}` }));
    const big = await post('/api/events', { events });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'BATCH_TOO_LARGE');
    const viewer = await staff(app, owner, 'viewer');
    assert.equal((await get('/api/analytics/portfolio', viewer)).statusCode, 200);
    const ingest = await post('/api/events', { events: [] }, viewer);
    assert.equal(ingest.statusCode, 403);
  });

  it("deletes a campaign's experiment units with the campaign (no foreign key does it)", async () => {
    const doomed = (
      await post('/api/campaigns', {
        name: 'Doomed',
        channel: 'email',
        budget: 1,
        variants: [{ name: 'A', weight: 1 }],
      })
    ).json();
    const ingest = await post('/api/events', {
      events: [
        {
          id: 'doomed-1',
          type: 'impression',
          campaignId: doomed.id,
          variant: 'A',
          customerId: id('a'),
          at: iso(now),
        },
      ],
    });
    assert.equal(ingest.json().accepted, 1, ingest.body);
    const units = 'SELECT count(*)::int AS n FROM analytics_exposures WHERE campaign_id = $1';
    assert.equal((await db.query(units, [doomed.id])).rows[0].n, 1);
    const impressions = `SELECT (SELECT coalesce(sum(impressions), 0) FROM analytics_merchant_daily WHERE merchant_id = $1)::int AS merchant,
              (SELECT coalesce(sum(impressions), 0) FROM analytics_daily WHERE merchant_id = $1)::int AS campaigns`;
    const before = (await db.query(impressions, [owner.merchantId])).rows[0];
    await db.query('DELETE FROM campaigns WHERE id = $1', [doomed.id]);
    assert.equal((await db.query(units, [doomed.id])).rows[0].n, 0);
    // the merchant's days lose the campaign's counts with it
    const after = (await db.query(impressions, [owner.merchantId])).rows[0];
    assert.deepEqual(after, { merchant: before.merchant - 1, campaigns: before.campaigns - 1 });
    const { rows } = await db.query(
      "SELECT violations::int AS n FROM swipesavvy_integrity_check() WHERE check_name = 'exposure_campaign_exists'",
    );
    assert.deepEqual(rows, [{ n: 0 }]);
  });
});
