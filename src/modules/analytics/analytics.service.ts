import { Compile } from 'typebox/compile';
import { type Db, withTransaction } from '../../platform/db.ts';
import { AppError, pgErrorCode } from '../../platform/errors.ts';
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

async function retrying<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (error) {
      if (i >= attempts || !RETRYABLE.has(pgErrorCode(error) ?? '')) throw error;
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
const cents = (n: number) => Math.round(n * 100) / 100;

/** The derived metrics, from counts and the campaign's pricing. */
export function deriveMetrics(c: repo.Counts, pricing: Pricing) {
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
    const at = Date.parse((item as { at: string }).at);
    if (at > Date.now() + MAX_CLOCK_SKEW_MS) {
      refused.push({ index, code: 'TIME_IN_FUTURE', reason: 'at is in the future' });
      return;
    }
    valid.push({ index, item: item as T });
  });
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

  async function metricsOf(campaign: { id: string; merchantId: string } & Pricing) {
    const counts = await repo.campaignCounts(db, campaign.merchantId, [campaign.id]);
    return deriveMetrics(counts.get(campaign.id) ?? ZERO, campaign);
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
    metricsOf,
    refreshLift,
    reallocate,

    async metrics(merchantId: string, id: string, interval: repo.Interval = 'day') {
      const campaign = await campaignOf(merchantId, id);
      const since = new Date(Date.now() - SERIES_SPAN_MS[interval]);
      const [metrics, series, lift] = await Promise.all([
        metricsOf(campaign),
        repo.campaignSeries(db, id, interval, since),
        liftRepo.findLift(db, id),
      ]);
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
        series: series.map(({ at, ...c }) => ({ at, ...deriveMetrics(c, campaign) })),
      };
    },

    async segments(merchantId: string, id: string, by: SegmentKey) {
      const campaign = await campaignOf(merchantId, id);
      const rows = await repo.segmentCounts(db, id, by);
      return {
        campaignId: id,
        by,
        segments: rows.map(({ segment, ...counts }) => ({ segment, ...deriveMetrics(counts, campaign) })),
      };
    },

    /** Every campaign of the merchant with its metrics, the totals, a ranking and the daily trend. */
    async portfolio(merchantId: string, rank: 'roi' | 'conversions' | 'revenue' | 'ctr', days = 30) {
      const since = new Date(Date.now() - days * 86_400_000);
      const [campaigns, counts, trend] = await Promise.all([
        campaignsRepo.listCampaigns(db, merchantId, { limit: 10_000 }),
        repo.campaignCounts(db, merchantId),
        repo.portfolioSeries(db, merchantId, since),
      ]);
      let totals = ZERO;
      let spend = 0;
      const rows = campaigns.map((c) => {
        const cc = counts.get(c.id) ?? ZERO;
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
      const campaign = await campaignOf(merchantId, id);
      const [units, settings] = await Promise.all([
        repo.variantUnits(db, id),
        allocationRepo.findSettings(db, id),
      ]);
      const weights = new Map(campaign.variants.map((v) => [v.name, v.weight]));
      const inputs = units.map((u) => ({
        name: u.variant,
        weight: weights.get(u.variant) ?? 1,
        exposed: u.exposed,
        converted: u.converted,
        assigned: u.messagesSent,
      }));
      const result = analyseExperiment(inputs, { adaptive: settings?.enabled ?? false });
      return {
        campaignId: id,
        adaptive: settings?.enabled ?? false,
        variants: units.map((u) => ({
          name: u.variant,
          weight: weights.get(u.variant) ?? 1,
          exposed: u.exposed,
          converted: u.converted,
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

    async ingestEvents(merchantId: string, items: unknown[]) {
      if (items.length > MAX_BATCH)
        throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_BATCH} events per request`);
      const refused: Refusal[] = [];
      const valid = validateItems<repo.EventRow>('event', items, refused);
      const refs = await repo.ownedReferences(
        db,
        merchantId,
        [...new Set(valid.map((v) => v.item.campaignId))],
        [...new Set(valid.map((v) => v.item.customerId))],
      );
      const rows: repo.EventRow[] = [];
      const seen = new Set<string>();
      let repeated = 0;
      for (const { index, item } of valid) {
        const variants = refs.variants.get(item.campaignId);
        if (!variants)
          refused.push({ index, code: 'CAMPAIGN_NOT_FOUND', reason: `no campaign ${item.campaignId}` });
        else if (!refs.customers.has(item.customerId)) {
          refused.push({ index, code: 'CUSTOMER_NOT_FOUND', reason: `no customer ${item.customerId}` });
        } else if (item.variant != null && !variants.has(item.variant)) {
          refused.push({
            index,
            code: 'VARIANT_NOT_FOUND',
            reason: `the campaign has no variant ${item.variant}`,
          });
        } else if (seen.has(item.id)) repeated++;
        else {
          seen.add(item.id);
          rows.push({ ...item, variant: item.variant ?? null });
        }
      }
      const accepted = rows.length > 0 ? await retrying(() => repo.insertEvents(db, merchantId, rows)) : 0;
      refused.sort((a, b) => a.index - b.index);
      return { accepted, duplicates: rows.length + repeated - accepted, refused };
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
