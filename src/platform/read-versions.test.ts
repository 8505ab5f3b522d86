import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { auth, signup, startTestApp } from '../../test/helpers.ts';

// TRUNCATE fires none of the row-change triggers that bump a merchant's read version: migration
// 073 covers it, and the version names the counters' file, so truncating them cannot make an old
// version come back. (A file of its own: it truncates tables other tests would read.)
describe('kept reads after TRUNCATE', async () => {
  const { app, db } = await startTestApp({ WORKERS: 'false' });
  const s = await signup(app);
  const portfolio = async () => {
    const res = await app.inject({ method: 'GET', url: '/api/analytics/portfolio', headers: auth(s) });
    assert.equal(res.statusCode, 200);
    return res.json();
  };
  const created = await app.inject({
    method: 'POST',
    url: '/api/campaigns',
    headers: auth(s),
    payload: { name: `t-${randomUUID().slice(0, 6)}`, channel: 'email', budget: 100, status: 'running' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const campaignId = created.json().id as string;
  const setClicks = (n: number) =>
    db.query(
      `INSERT INTO analytics_totals (merchant_id, campaign_id, clicks) VALUES ($1, $2, $3)
       ON CONFLICT (campaign_id) DO UPDATE SET clicks = EXCLUDED.clicks`,
      [s.merchantId, campaignId, n],
    );

  it('answers afresh after a rollup the reads use is truncated', async () => {
    await setClicks(7);
    assert.equal((await portfolio()).totals.clicks, 7);
    assert.equal((await portfolio()).totals.clicks, 7, 'kept between writes');
    await db.query('TRUNCATE analytics_totals');
    assert.equal((await portfolio()).totals.clicks, 0);
  });

  it('answers afresh after campaigns are truncated', async () => {
    assert.equal((await portfolio()).totals.campaigns, 1);
    await db.query('TRUNCATE campaigns CASCADE');
    assert.equal((await portfolio()).totals.campaigns, 0);
  });

  it('never takes counters that started again from 0 for the version they once reached', async () => {
    const { rows } = await db.query<{ v: string }>(
      'SELECT sum(version)::text AS v FROM merchant_read_versions WHERE merchant_id = $1',
      [s.merchantId],
    );
    const reached = Number(rows[0]!.v);
    const kept = (await portfolio()).totals.campaigns;
    // the counters emptied, a campaign written behind the API, then bumped back to the same sum
    await db.query('TRUNCATE merchant_read_versions');
    await db.query(
      `INSERT INTO campaigns (merchant_id, name, channel, status, budget) VALUES ($1, 'behind', 'email', 'draft', 1)`,
      [s.merchantId],
    );
    await db.query('UPDATE merchant_read_versions SET version = $2 WHERE merchant_id = $1', [
      s.merchantId,
      reached,
    ]);
    const { rows: again } = await db.query<{ v: string }>(
      'SELECT sum(version)::text AS v FROM merchant_read_versions WHERE merchant_id = $1',
      [s.merchantId],
    );
    assert.equal(Number(again[0]!.v), reached, 'the same sum as before the TRUNCATE');
    assert.equal((await portfolio()).totals.campaigns, kept + 1);
  });
});
