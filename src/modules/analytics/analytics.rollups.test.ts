import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { testDatabase } from '../../../test/helpers.ts';
import { createPool } from '../../platform/db.ts';
import { createAnalyticsService } from './analytics.service.ts';

// Property: whatever the order of event and transaction batches (some concurrent, with resent ids
// and conflicting variants), notification status changes and rebuild runs, every rollup equals a
// full aggregate of the raw rows, written here independently of the migration's SQL.

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 30, 20); // the batches straddle a month boundary, so two partitions

const EventItem = fc.record({
  id: fc.integer({ min: 0, max: 40 }),
  type: fc.constantFrom('impression', 'open', 'click', 'conversion'),
  campaign: fc.integer({ min: 0, max: 1 }),
  customer: fc.integer({ min: 0, max: 4 }),
  variant: fc.constantFrom('A', 'B', null),
  hours: fc.integer({ min: 0, max: 60 }),
});
const TxItem = fc.record({
  id: fc.integer({ min: 0, max: 20 }),
  customer: fc.integer({ min: 0, max: 4 }),
  cents: fc.integer({ min: 0, max: 100_000 }),
  hours: fc.integer({ min: 0, max: 80 }),
});
const Op = fc.oneof(
  fc.record({
    kind: fc.constant('events' as const),
    items: fc.array(EventItem, { minLength: 1, maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constant('concurrent' as const),
    a: fc.array(EventItem, { minLength: 1, maxLength: 8 }),
    b: fc.array(EventItem, { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('transactions' as const),
    items: fc.array(TxItem, { minLength: 1, maxLength: 6 }),
  }),
  fc.record({
    kind: fc.constant('notifications' as const),
    customers: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
    to: fc.constantFrom('sent', 'delivered', 'failed'),
    drop: fc.boolean(),
  }),
  fc.constant({ kind: 'rebuild' as const }),
);

type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

describe('rollups', async () => {
  const db = createPool(await testDatabase(), 6);
  after(() => db.end());
  const analytics = createAnalyticsService(db);

  async function world() {
    const { rows: m } = await db.query<{ id: string }>(
      `INSERT INTO merchants (name, webhook_secrets) VALUES ('prop', '{s}') RETURNING id`,
    );
    const merchantId = m[0]!.id;
    const { rows: cs } = await db.query<{ id: string }>(
      `INSERT INTO customers (merchant_id, city, tier, email)
       SELECT $1, (ARRAY['Lisbon', 'Porto', NULL])[1 + i % 3], (ARRAY['gold', 'bronze'])[1 + i % 2], 'c' || i || '@x.test'
         FROM generate_series(0, 4) i RETURNING id`,
      [merchantId],
    );
    const { rows: camps } = await db.query<{ id: string }>(
      `INSERT INTO campaigns (merchant_id, name, channel, status, attribution_window_days)
       SELECT $1, 'p' || i, 'email', 'running', 1 + i FROM generate_series(0, 1) i RETURNING id`,
      [merchantId],
    );
    for (const c of camps) {
      await db.query(
        `INSERT INTO campaign_variants (campaign_id, name, weight, position) VALUES ($1, 'A', 1, 0), ($1, 'B', 1, 1)`,
        [c.id],
      );
    }
    const { rows: send } = await db.query<{ id: string }>(
      `INSERT INTO notification_sends (merchant_id, campaign_id, recipients) VALUES ($1, $2, 0) RETURNING id`,
      [merchantId, camps[0]!.id],
    );
    return {
      merchantId,
      customers: cs.map((r) => r.id),
      campaigns: camps.map((r) => r.id),
      sendId: send[0]!.id,
    };
  }

  type World = Awaited<ReturnType<typeof world>>;
  const events = (w: World, items: Of<typeof EventItem>[]) =>
    analytics.ingestEvents(
      w.merchantId,
      items.map((e) => ({
        id: `e${e.id}`,
        type: e.type,
        campaignId: w.campaigns[e.campaign],
        customerId: w.customers[e.customer],
        ...(e.variant ? { variant: e.variant } : {}),
        at: new Date(T0 + e.hours * HOUR).toISOString(),
      })),
    );

  async function apply(w: World, op: Of<typeof Op>) {
    if (op.kind === 'events') await events(w, op.items);
    else if (op.kind === 'concurrent') await Promise.all([events(w, op.a), events(w, op.b)]);
    else if (op.kind === 'transactions') {
      await analytics.ingestTransactions(
        w.merchantId,
        op.items.map((t) => ({
          id: `t${t.id}`,
          customerId: w.customers[t.customer],
          amount: t.cents / 100,
          currency: 'EUR',
          at: new Date(T0 + t.hours * HOUR).toISOString(),
        })),
      );
    } else if (op.kind === 'notifications') {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO notifications (merchant_id, kind, send_id, campaign_id, customer_id, variant, channel, recipient)
         SELECT $1, 'campaign', $2, $3, c, 'A', 'email', 'x@x.test' FROM unnest($4::uuid[]) c
         ON CONFLICT DO NOTHING RETURNING id`,
        [w.merchantId, w.sendId, w.campaigns[0], op.customers.map((i) => w.customers[i])],
      );
      const ids = rows.map((r) => r.id);
      await db.query(
        `UPDATE notifications SET status = $2, attempts = 1, sent_at = now(),
                delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
                failed_at = CASE WHEN $2 = 'failed' THEN now() END
          WHERE id = ANY($1::uuid[])`,
        [ids, op.to],
      );
      if (op.drop) await db.query('DELETE FROM notifications WHERE id = $1', [ids[0]]);
    } else {
      await db.query('SELECT analytics_rebuild($1)', [w.merchantId]);
    }
  }

  const counts = `sum(i)::bigint AS i, sum(o)::bigint AS o, sum(c)::bigint AS c, sum(v)::bigint AS v,
    sum(t)::bigint AS t, sum(r)::numeric AS r, sum(s)::bigint AS s`;
  const raw = `
    SELECT e.campaign_id, coalesce(e.variant, '') AS variant, e.customer_id, e.occurred_at AS at,
           (e.type = 'impression')::int AS i, (e.type = 'open')::int AS o, (e.type = 'click')::int AS c,
           (e.type = 'conversion')::int AS v, 0 AS t, 0::numeric AS r, 0 AS s
      FROM events e WHERE e.merchant_id = $1
    UNION ALL
    SELECT campaign_id, coalesce(variant, ''), customer_id, occurred_at, 0, 0, 0, 0, 1, amount, 0
      FROM transactions WHERE merchant_id = $1 AND campaign_id IS NOT NULL
    UNION ALL
    SELECT campaign_id, coalesce(variant, ''), customer_id, coalesce(sent_at, created_at), 0, 0, 0, 0, 0, 0, 1
      FROM notifications WHERE merchant_id = $1 AND status IN ('sent', 'delivered')`;

  async function assertRollupsMatch(w: World) {
    const q = async (sql: string) => (await db.query(sql, [w.merchantId])).rows;
    const nonzero =
      'HAVING sum(i) <> 0 OR sum(o) <> 0 OR sum(c) <> 0 OR sum(v) <> 0 OR sum(t) <> 0 OR sum(s) <> 0';
    const hourly = await q(
      `SELECT campaign_id, variant, date_trunc('hour', at, 'UTC') AS k, ${counts} FROM (${raw}) x
        GROUP BY 1, 2, 3 ${nonzero} ORDER BY 1, 2, 3`,
    );
    const hourlyRollup = await q(
      `SELECT campaign_id, variant, hour AS k, sum(impressions)::bigint AS i, sum(opens)::bigint AS o,
              sum(clicks)::bigint AS c, sum(conversions)::bigint AS v, sum(transactions)::bigint AS t,
              sum(revenue)::numeric AS r, sum(sent)::bigint AS s
         FROM analytics_hourly WHERE merchant_id = $1 GROUP BY 1, 2, 3
        HAVING sum(impressions) <> 0 OR sum(opens) <> 0 OR sum(clicks) <> 0 OR sum(conversions) <> 0
            OR sum(transactions) <> 0 OR sum(sent) <> 0
        ORDER BY 1, 2, 3`,
    );
    assert.deepEqual(hourlyRollup, hourly, 'hourly');

    const daily = await q(
      `SELECT campaign_id, (at AT TIME ZONE 'UTC')::date AS k, ${counts} FROM (${raw}) x
        GROUP BY 1, 2 ${nonzero} ORDER BY 1, 2`,
    );
    const dailyRollup = await q(
      `SELECT campaign_id, day AS k, impressions AS i, opens AS o, clicks AS c, conversions AS v, transactions AS t,
              revenue::numeric AS r, sent AS s
         FROM analytics_daily WHERE merchant_id = $1
          AND (impressions <> 0 OR opens <> 0 OR clicks <> 0 OR conversions <> 0 OR transactions <> 0 OR sent <> 0)
        ORDER BY 1, 2`,
    );
    assert.deepEqual(dailyRollup, daily, 'daily');

    const totals = await q(`SELECT campaign_id, ${counts} FROM (${raw}) x GROUP BY 1 ${nonzero} ORDER BY 1`);
    const totalsRollup = await q(
      `SELECT campaign_id, impressions AS i, opens AS o, clicks AS c, conversions AS v, transactions AS t,
              revenue::numeric AS r, sent AS s
         FROM analytics_totals WHERE merchant_id = $1
          AND (impressions <> 0 OR opens <> 0 OR clicks <> 0 OR conversions <> 0 OR transactions <> 0 OR sent <> 0)
        ORDER BY 1`,
    );
    assert.deepEqual(totalsRollup, totals, 'totals');

    const merchantDaily = await q(
      `SELECT (at AT TIME ZONE 'UTC')::date AS k, ${counts} FROM (${raw}) x GROUP BY 1 ${nonzero} ORDER BY 1`,
    );
    const merchantDailyRollup = await q(
      `SELECT day AS k, impressions AS i, opens AS o, clicks AS c, conversions AS v, transactions AS t,
              revenue::numeric AS r, sent AS s
         FROM analytics_merchant_daily WHERE merchant_id = $1
          AND (impressions <> 0 OR opens <> 0 OR clicks <> 0 OR conversions <> 0 OR transactions <> 0 OR sent <> 0)
        ORDER BY 1`,
    );
    assert.deepEqual(merchantDailyRollup, merchantDaily, "the merchant's days");

    const segments = await q(
      `SELECT x.campaign_id, 'city' AS dim, coalesce(cu.city, 'unknown') AS value, (at AT TIME ZONE 'UTC')::date AS k, ${counts}
         FROM (${raw}) x LEFT JOIN customers cu ON cu.id = x.customer_id
        GROUP BY 1, 2, 3, 4 ${nonzero} ORDER BY 1, 2, 3, 4`,
    );
    const segmentsRollup = await q(
      `SELECT campaign_id, dimension AS dim, value, day AS k, impressions AS i, opens AS o, clicks AS c,
              conversions AS v, transactions AS t, revenue::numeric AS r, sent AS s
         FROM analytics_segments_daily WHERE merchant_id = $1 AND dimension = 'city'
          AND (impressions <> 0 OR opens <> 0 OR clicks <> 0 OR conversions <> 0 OR transactions <> 0 OR sent <> 0)
        ORDER BY 1, 2, 3, 4`,
    );
    assert.deepEqual(segmentsRollup, segments, 'segments by city');

    // units: each customer once per variant it was seen with; converted when one of those events is a conversion
    const units = await q(
      `SELECT campaign_id, variant, count(*)::bigint AS exposed, count(*) FILTER (WHERE converted)::bigint AS converted
         FROM (SELECT campaign_id, customer_id, variant, bool_or(type = 'conversion') AS converted
                 FROM events WHERE merchant_id = $1 AND variant IS NOT NULL GROUP BY 1, 2, 3) f
        GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const unitsRollup = await q(
      `SELECT u.campaign_id, u.variant, u.exposed, u.converted FROM analytics_variant_units u
         JOIN campaigns c ON c.id = u.campaign_id WHERE c.merchant_id = $1 AND u.exposed > 0 ORDER BY 1, 2`,
    );
    assert.deepEqual(unitsRollup, units, 'variant units');
  }

  it('equal a full aggregate of the raw rows after any interleaving of ingests and rebuilds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(Op, { minLength: 1, maxLength: 8 }), async (ops) => {
        const w = await world();
        for (const op of ops) await apply(w, op);
        await assertRollupsMatch(w);
      }),
      { numRuns: 40 },
    );
  });
});
