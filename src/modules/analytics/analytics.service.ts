import { Compile } from 'typebox/compile';
import { type Db, withTransaction } from '../../platform/db.ts';
import { AppError, PgErrors, pgErrorCode } from '../../platform/errors.ts';
import * as campaignsRepo from '../campaigns/campaigns.repo.ts';
import * as allocationRepo from './analytics.allocation.repo.ts';
import { analyseExperiment } from './analytics.experiment.ts';
import * as liftRepo from './analytics.lift.repo.ts';
import * as repo from './analytics.repo.ts';
import { EventInput, MAX_BATCH, type SegmentKey, TransactionInput } from './analytics.schema.ts';
import { meanDifference, thompsonAllocation } from './analytics.stats.ts';

type Pricing = { unitCost: number; rewardRate: number };
const ZERO: repo.Counts = {
  impressions: 0,
  opens: 0,
  clicks: 0,
  conversions: 0,
  transactions: 0,
  revenue: 0,
  messagesSent: 0,
};
// An event may arrive a little ahead of this server's clock, not more.
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

// concurrent batches may lock the same rollup rows; PostgreSQL then aborts one of them
const RETRYABLE = new Set(['40P01', '40001']);
const SERIES_SPAN_MS = { hour: 7 * 86_400_000, day: 90 * 86_400_000 } as const;

// ... and two batches storing the same new event id at once: the later one fails on event_ids' key
const EVENT_RETRYABLE = new Set([...RETRYABLE, PgErrors.uniqueViolation]);

async function retrying<T>(work: () => Promise<T>, attempts = 4, retryable = RETRYABLE): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (error) {
      if (i >= attempts || !retryable.has(pgErrorCode(error) ?? '')) throw error;
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
const cents = (n: number) => Math.round(n * 100) / 100;

/** The derived metrics, from counts (and whatever else `c` holds) and the campaign's pricing. */
export function deriveMetrics<C extends repo.Counts>(c: C, pricing: Pricing) {
  const spend = cents(c.messagesSent * pricing.unitCost + c.revenue * pricing.rewardRate);
  return {
    ...c,
    revenue: cents(c.revenue),
    spend,
    ctr: ratio(c.clicks, c.impressions),
    conversionRate: ratio(c.conversions, c.clicks),
    roi: ratio(c.revenue - spend, spend),
    cpa: ratio(spend, c.conversions),
  };
}

const DEFAULT_FLOOR = 0.05;

function sumRevenue(points: { at: Date; revenue: number }[], from: number, to: number) {
  return points.reduce((s, p) => (p.at.getTime() >= from && p.at.getTime() < to ? s + p.revenue : s), 0);
}

function addCounts(a: repo.Counts, b: repo.Counts): repo.Counts {
  return {
    impressions: a.impressions + b.impressions,
    opens: a.opens + b.opens,
    clicks: a.clicks + b.clicks,
    conversions: a.conversions + b.conversions,
    transactions: a.transactions + b.transactions,
    revenue: a.revenue + b.revenue,
    messagesSent: a.messagesSent + b.messagesSent,
  };
}

type Refusal = { index: number; code: string; reason: string };

// compiled once: a batch of 10,000 items is checked item by item
const checkers = { event: Compile(EventInput), transaction: Compile(TransactionInput) };

// 0001-01-01T00:00:00Z: JavaScript parses earlier years that PostgreSQL refuses
const EARLIEST_TIME_MS = -62_135_596_800_000;

/** The item's time in ms, or a refusal: the schema's format check allows times no timestamp holds. */
function checkTime(at: string, index: number, refused: Refusal[]): number | undefined {
  const ms = Date.parse(at);
  if (!(ms >= EARLIEST_TIME_MS)) {
    refused.push({ index, code: 'VALIDATION_FAILED', reason: '/at is not a storable date-time' });
    return undefined;
  }
  if (ms > Date.now() + MAX_CLOCK_SKEW_MS) {
    refused.push({ index, code: 'TIME_IN_FUTURE', reason: 'at is in the future' });
    return undefined;
  }
  return ms;
}

function validateItems<T>(kind: keyof typeof checkers, items: unknown[], refused: Refusal[]) {
  const checker = checkers[kind];
  const valid: { index: number; item: T }[] = [];
  items.forEach((item, index) => {
    const error = checker.Check(item) ? undefined : checker.Errors(item)[0];
    if (error) {
      refused.push({
        index,
        code: 'VALIDATION_FAILED',
        reason: `${error.instancePath || '/'} ${error.message}`,
      });
      return;
    }
    if (checkTime((item as { at: string }).at, index, refused) === undefined) return;
    valid.push({ index, item: item as T });
  });
  return valid;
}

const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?(?:Z|[+-](\d\d):(\d\d))$/;
const MONTH_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const EVENT_TYPES = new Set(['impression', 'open', 'click', 'conversion']);
const EVENT_KEYS = new Set(['id', 'type', 'campaignId', 'variant', 'customerId', 'at']);

function plainTime(at: string): boolean {
  const m = ISO_TIME.exec(at);
  if (!m) return false;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && !leap ? 28 : MONTH_DAYS[month]!))
    return false;
  if (+m[4]! > 23 || +m[5]! > 59 || +m[6]! > 59) return false;
  return m[7] === undefined || (+m[7] <= 23 && +m[8]! <= 59);
}

/**
 * A fast check that accepts only items the EventInput schema accepts (the common shape: ids of at
 * most 100 UTF-16 units, RFC 3339 times without leap seconds or suffixes); whatever it does not
 * accept goes to the schema's own checker, which decides and explains. A 10,000-item batch is
 * checked in a few milliseconds instead of tens.
 */
function plainEvent(value: unknown): value is repo.EventRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const e = value as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(e)) if (!EVENT_KEYS.has(key)) return false;
  const { id, type, campaignId, variant, customerId, at } = e;
  return (
    typeof id === 'string' &&
    id.length >= 1 &&
    id.length <= 100 &&
    typeof type === 'string' &&
    EVENT_TYPES.has(type) &&
    typeof campaignId === 'string' &&
    UUID.test(campaignId) &&
    typeof customerId === 'string' &&
    UUID.test(customerId) &&
    (variant === undefined || (typeof variant === 'string' && variant.length >= 1 && variant.length <= 40)) &&
    typeof at === 'string' &&
    plainTime(at)
  );
}

/** PostgreSQL text holds neither NUL nor a lone UTF-16 surrogate (JSON can carry both). */
const storableText = (s: string) => s.isWellFormed() && !s.includes('\u0000');

function validateEvents(items: unknown[], refused: Refusal[]) {
  const checker = checkers.event;
  const valid: { index: number; item: repo.EventRow }[] = [];
  for (let n = 0; n < items.length; n++) {
    const item = items[n];
    if (!plainEvent(item)) {
      const error = checker.Check(item) ? undefined : checker.Errors(item)[0];
      if (error) {
        refused.push({
          index: n,
          code: 'VALIDATION_FAILED',
          reason: `${error.instancePath || '/'} ${error.message}`,
        });
        continue;
      }
    }
    const e = item as repo.EventRow;
    if (!storableText(e.id) || (e.variant != null && !storableText(e.variant))) {
      refused.push({
        index: n,
        code: 'VALIDATION_FAILED',
        reason: 'id and variant must be text without NUL or lone surrogates',
      });
      continue;
    }
    if (checkTime(e.at, n, refused) === undefined) continue;
    valid.push({ index: n, item: e });
  }
  return valid;
}

/** Incremental revenue and ROI against the holdout baseline, with 95 % intervals. */
export function incrementalRoi(lift: liftRepo.LiftRow | undefined, spend: number) {
  if (!lift || lift.treatedCustomers < 2 || lift.holdoutCustomers < 2) return null;
  const d = meanDifference(
    { n: lift.treatedCustomers, sum: lift.treatedRevenue, sumSq: lift.treatedRevenueSq },
    { n: lift.holdoutCustomers, sum: lift.holdoutRevenue, sumSq: lift.holdoutRevenueSq },
  );
  const n = lift.treatedCustomers;
  const revenue = d.difference * n;
  const revenueInterval: [number, number] = [d.interval[0] * n, d.interval[1] * n];
  const roi = (r: number) => (spend === 0 ? null : (r - spend) / spend);
  const lo = roi(revenueInterval[0]);
  const hi = roi(revenueInterval[1]);
  return {
    treatedCustomers: n,
    heldOutCustomers: lift.holdoutCustomers,
    revenuePerTreated: d.meanA,
    revenuePerHeldOut: d.meanB,
    incrementalRevenue: cents(revenue),
    incrementalRevenueInterval: [cents(revenueInterval[0]), cents(revenueInterval[1])] as [number, number],
    roi: roi(revenue),
    roiInterval: lo === null || hi === null ? null : ([lo, hi] as [number, number]),
    since: lift.since,
    until: lift.until,
    computedAt: lift.computedAt,
  };
}

export function createAnalyticsService(db: Db) {
  async function campaignOf(merchantId: string, id: string) {
    const campaign = await campaignsRepo.findCampaign(db, merchantId, id);
    if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
    return campaign;
  }

  async function refreshLift(campaignId: string) {
    const { rows } = await db.query<{ merchantId: string }>(
      'SELECT merchant_id AS "merchantId" FROM campaigns WHERE id = $1',
      [campaignId],
    );
    const campaign = rows[0] && (await campaignsRepo.findCampaign(db, rows[0].merchantId, campaignId));
    if (campaign) await liftRepo.computeLift(db, campaign);
  }

  /** One Thompson-sampling step for a campaign: new weights from the variants' posteriors. */
  async function reallocate(campaignId: string, merchantId: string, floor: number, random?: () => number) {
    const units = await repo.variantUnits(db, campaignId);
    if (units.length < 2) return undefined;
    const { weights, probabilityBest } = thompsonAllocation(units, floor, random ? { random } : {});
    const change = {
      weights: Object.fromEntries(units.map((u, i) => [u.variant, weights[i]!])),
      probabilityBest: Object.fromEntries(units.map((u, i) => [u.variant, probabilityBest[i]!])),
      units: Object.fromEntries(
        units.map((u) => [u.variant, { exposed: u.exposed, converted: u.converted }]),
      ),
    };
    await withTransaction(db, async (client) => {
      // the campaign may have been deleted or stopped meanwhile
      const current = await campaignsRepo.findCampaign(client, merchantId, campaignId, { forUpdate: true });
      if (current?.status === 'running') await allocationRepo.applyWeights(client, campaignId, change);
    });
    return change;
  }

  return {
    refreshLift,
    reallocate,

    async metrics(merchantId: string, id: string, interval: repo.Interval = 'day') {
      const since = new Date(Date.now() - SERIES_SPAN_MS[interval]);
      const campaign = await repo.campaignMetrics(db, merchantId, id, interval, since);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
      const { series, lift } = campaign;
      const metrics = deriveMetrics(campaign.counts, campaign);
      const incremental = incrementalRoi(lift, metrics.spend);
      return {
        campaignId: campaign.id,
        name: campaign.name,
        status: campaign.status,
        ...metrics,
        incrementalRoi: incremental?.roi ?? null,
        incrementalRoiInterval: incremental?.roiInterval ?? null,
        incremental,
        interval,
        series: series.map((point) => deriveMetrics(point, campaign)),
      };
    },

    async segments(merchantId: string, id: string, by: SegmentKey) {
      const campaign = await repo.campaignSegments(db, merchantId, id, by);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
      const rows = campaign.segments;
      return {
        campaignId: id,
        by,
        segments: rows.map(({ segment, ...counts }) => ({ segment, ...deriveMetrics(counts, campaign) })),
      };
    },

    /** Every campaign of the merchant with its metrics, the totals, a ranking and the daily trend. */
    async portfolio(merchantId: string, rank: 'roi' | 'conversions' | 'revenue' | 'ctr', days = 30) {
      const since = new Date(Date.now() - days * 86_400_000);
      const { campaigns, trend } = await repo.portfolio(db, merchantId, since);
      let totals = ZERO;
      let spend = 0;
      const rows = campaigns.map((c) => {
        const cc: repo.Counts = {
          impressions: c.impressions,
          opens: c.opens,
          clicks: c.clicks,
          conversions: c.conversions,
          transactions: c.transactions,
          revenue: c.revenue,
          messagesSent: c.messagesSent,
        };
        totals = addCounts(totals, cc);
        const m = deriveMetrics(cc, c);
        spend += m.spend;
        return { campaignId: c.id, name: c.name, status: c.status, ...m };
      });
      rows.sort((a, b) => (b[rank] ?? Number.NEGATIVE_INFINITY) - (a[rank] ?? Number.NEGATIVE_INFINITY));
      const total = { ...deriveMetrics(totals, { unitCost: 0, rewardRate: 0 }), spend: cents(spend) };
      total.roi = ratio(totals.revenue - total.spend, total.spend);
      total.cpa = ratio(total.spend, totals.conversions);
      // spend per day is not kept (reward rates differ per campaign): the trend is of counts and revenue
      const points = trend.map(({ at, ...c }) => ({
        at,
        ...deriveMetrics(c, { unitCost: 0, rewardRate: 0 }),
      }));
      const half = Math.floor(days / 2);
      const recent = sumRevenue(points, Date.now() - half * 86_400_000, Date.now());
      const before = sumRevenue(points, Date.now() - 2 * half * 86_400_000, Date.now() - half * 86_400_000);
      return {
        totals: { campaigns: campaigns.length, ...total },
        rankedBy: rank,
        campaigns: rows.map((r, i) => ({ ...r, rank: i + 1 })),
        trend: {
          days,
          revenueChange: ratio(recent - before, before),
          series: points.map((p) => ({
            at: p.at,
            impressions: p.impressions,
            clicks: p.clicks,
            conversions: p.conversions,
            revenue: p.revenue,
            ctr: p.ctr,
            conversionRate: p.conversionRate,
          })),
        },
      };
    },

    async experiment(merchantId: string, id: string) {
      const campaign = await repo.campaignExperiment(db, merchantId, id);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
      const { units, adaptive } = campaign;
      const weights = new Map(campaign.variants.map((v) => [v.name, v.weight]));
      const inputs = units.map((u) => ({
        name: u.variant,
        weight: weights.get(u.variant) ?? 1,
        exposed: u.exposed,
        converted: u.converted,
        assigned: u.messagesSent,
      }));
      const result = analyseExperiment(inputs, { adaptive });
      return {
        campaignId: id,
        adaptive,
        variants: units.map((u) => ({
          name: u.variant,
          weight: weights.get(u.variant) ?? 1,
          unitConversionRate: ratio(u.converted, u.exposed),
          ...deriveMetrics(u, campaign),
        })),
        ...result,
      };
    },

    async allocation(merchantId: string, id: string) {
      await campaignOf(merchantId, id);
      const [settings, changes] = await Promise.all([
        allocationRepo.findSettings(db, id),
        allocationRepo.history(db, id, 100),
      ]);
      return {
        campaignId: id,
        enabled: settings?.enabled ?? false,
        floor: settings?.floor ?? DEFAULT_FLOOR,
        history: changes,
      };
    },

    async setAllocation(merchantId: string, id: string, enabled: boolean, floor = DEFAULT_FLOOR) {
      const campaign = await campaignOf(merchantId, id);
      if (enabled && floor * campaign.variants.length > 1) {
        throw new AppError(
          'VALIDATION_FAILED',
          `A floor of ${floor} cannot hold for ${campaign.variants.length} variants`,
        );
      }
      await allocationRepo.saveSettings(db, id, enabled, floor);
      return this.allocation(merchantId, id);
    },

    /**
     * `body`: the request's JSON text (`{"events": [...]}`) when it is at hand; sent to the
     * database as is when every item is stored as sent.
     */
    async ingestEvents(merchantId: string, items: unknown[], body?: string) {
      if (items.length > MAX_BATCH)
        throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_BATCH} events per request`);
      const refused: Refusal[] = [];
      const valid = validateEvents(items, refused);
      let stored = { accepted: 0, rows: 0, repeated: 0 };
      if (valid.length > 0) {
        const campaignIds = new Set<string>();
        const customerIds = new Set<string>();
        for (const { item } of valid) {
          campaignIds.add(item.campaignId);
          customerIds.add(item.customerId);
        }
        // a refusal for a reference (rare) is recorded once, however often the batch is retried
        const refusedBefore = refused.length;
        stored = await retrying(
          () =>
            withTransaction(db, async (client) => {
              refused.length = refusedBefore;
              // held until commit: the references checked below cannot be deleted meanwhile
              if (!(await repo.lockMerchantForIngest(client, merchantId)))
                throw new AppError('MERCHANT_NOT_FOUND', 'The merchant no longer exists');
              const refs = await repo.eventReferences(client, merchantId, [...campaignIds], [...customerIds]);
              const rows: repo.EventRow[] = [];
              const seen = new Set<string>();
              let repeated = 0;
              for (const { index, item } of valid) {
                const variants = refs.variants.get(item.campaignId);
                if (!variants)
                  refused.push({
                    index,
                    code: 'CAMPAIGN_NOT_FOUND',
                    reason: `no campaign ${item.campaignId}`,
                  });
                else if (refs.missingCustomers.has(item.customerId)) {
                  refused.push({
                    index,
                    code: 'CUSTOMER_NOT_FOUND',
                    reason: `no customer ${item.customerId}`,
                  });
                } else if (item.variant != null && !variants.has(item.variant)) {
                  refused.push({
                    index,
                    code: 'VARIANT_NOT_FOUND',
                    reason: `the campaign has no variant ${item.variant}`,
                  });
                } else if (seen.has(item.id)) repeated++;
                else {
                  seen.add(item.id);
                  rows.push(item);
                }
              }
              // the request's own text when nothing was left out (valid items carry only stored keys)
              const json = body && rows.length === items.length ? body : JSON.stringify({ events: rows });
              const accepted = rows.length > 0 ? await repo.insertEvents(client, merchantId, json) : 0;
              return { accepted, rows: rows.length, repeated };
            }),
          4,
          EVENT_RETRYABLE,
        );
      }
      refused.sort((a, b) => a.index - b.index);
      return {
        accepted: stored.accepted,
        duplicates: stored.rows + stored.repeated - stored.accepted,
        refused,
      };
    },

    async ingestTransactions(merchantId: string, items: unknown[]) {
      if (items.length > MAX_BATCH) {
        throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_BATCH} transactions per request`);
      }
      const refused: Refusal[] = [];
      const valid = validateItems<repo.TransactionRow>('transaction', items, refused);
      const refs = await repo.ownedReferences(
        db,
        merchantId,
        [],
        [...new Set(valid.map((v) => v.item.customerId))],
      );
      const rows: repo.TransactionRow[] = [];
      for (const { index, item } of valid) {
        if (!refs.customers.has(item.customerId)) {
          refused.push({ index, code: 'CUSTOMER_NOT_FOUND', reason: `no customer ${item.customerId}` });
        } else rows.push(item);
      }
      const result =
        rows.length > 0
          ? await retrying(() => repo.insertTransactions(db, merchantId, rows))
          : { inserted: 0, attributed: 0 };
      refused.sort((a, b) => a.index - b.index);
      return {
        accepted: result.inserted,
        duplicates: rows.length - result.inserted,
        refused,
        attributed: result.attributed,
      };
    },
  };
}
