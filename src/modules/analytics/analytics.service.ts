import Value from 'typebox/value';
import type { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import * as campaignsRepo from '../campaigns/campaigns.repo.ts';
import * as repo from './analytics.repo.ts';
import { EventInput, MAX_BATCH, type SegmentKey, TransactionInput } from './analytics.schema.ts';

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

function validateItems<T>(
  schema: typeof EventInput | typeof TransactionInput,
  items: unknown[],
  refused: Refusal[],
) {
  const valid: { index: number; item: T }[] = [];
  items.forEach((item, index) => {
    const error = Value.Errors(schema, item)[0];
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

  return {
    metricsOf,

    async metrics(merchantId: string, id: string) {
      const campaign = await campaignOf(merchantId, id);
      return {
        campaignId: campaign.id,
        name: campaign.name,
        status: campaign.status,
        ...(await metricsOf(campaign)),
      };
    },

    async segments(merchantId: string, id: string, by: SegmentKey) {
      const campaign = await campaignOf(merchantId, id);
      const rows = await repo.segmentCounts(db, merchantId, id, by);
      return {
        campaignId: id,
        by,
        segments: rows.map(({ segment, ...counts }) => ({ segment, ...deriveMetrics(counts, campaign) })),
      };
    },

    /** Every campaign of the merchant with its metrics, the totals, and a ranking. */
    async portfolio(merchantId: string, rank: 'roi' | 'conversions' | 'revenue' | 'ctr') {
      const [campaigns, counts] = await Promise.all([
        campaignsRepo.listCampaigns(db, merchantId, { limit: 10_000 }),
        repo.campaignCounts(db, merchantId),
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
      return {
        totals: { campaigns: campaigns.length, ...total },
        rankedBy: rank,
        campaigns: rows.map((r, i) => ({ ...r, rank: i + 1 })),
      };
    },

    async ingestEvents(merchantId: string, items: unknown[]) {
      if (items.length > MAX_BATCH)
        throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_BATCH} events per request`);
      const refused: Refusal[] = [];
      const valid = validateItems<repo.EventRow>(EventInput, items, refused);
      const refs = await repo.ownedReferences(
        db,
        merchantId,
        [...new Set(valid.map((v) => v.item.campaignId))],
        [...new Set(valid.map((v) => v.item.customerId))],
      );
      const rows: repo.EventRow[] = [];
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
        } else rows.push({ ...item, variant: item.variant ?? null });
      }
      const accepted = rows.length > 0 ? await repo.insertEvents(db, merchantId, rows) : 0;
      refused.sort((a, b) => a.index - b.index);
      return { accepted, duplicates: rows.length - accepted, refused };
    },

    async ingestTransactions(merchantId: string, items: unknown[]) {
      if (items.length > MAX_BATCH) {
        throw new AppError('BATCH_TOO_LARGE', `At most ${MAX_BATCH} transactions per request`);
      }
      const refused: Refusal[] = [];
      const valid = validateItems<repo.TransactionRow>(TransactionInput, items, refused);
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
          ? await repo.insertTransactions(db, merchantId, rows)
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
