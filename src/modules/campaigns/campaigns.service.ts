import { type Db, withTransaction } from '../../platform/db.ts';
import { AppError, PgErrors, pgErrorCode } from '../../platform/errors.ts';
import { decodeCursor, page } from '../../platform/pagination.ts';
import { campaignWithCounts } from '../analytics/analytics.repo.ts';
import type { Principal } from '../auth/auth.plugin.ts';
import * as repo from './campaigns.repo.ts';
import {
  type CreateCampaignBody,
  type ListQuery,
  Transitions,
  type UpdateCampaignBody,
  type VariantInput,
} from './campaigns.schema.ts';

const DEFAULT_VARIANTS: VariantInput[] = [{ name: 'A', weight: 1 }];

function assertVariants(variants: VariantInput[]): void {
  const names = new Set<string>();
  for (const v of variants) {
    if (names.has(v.name.toLowerCase())) {
      throw new AppError('CAMPAIGN_VARIANT_DUPLICATE', `Variant ${v.name} is given twice`);
    }
    names.add(v.name.toLowerCase());
  }
}

function assertSchedule(
  startsAt: string | Date | null | undefined,
  endsAt: string | Date | null | undefined,
) {
  if (startsAt && endsAt && new Date(endsAt) <= new Date(startsAt)) {
    throw new AppError('VALIDATION_FAILED', 'endsAt must be after startsAt', {
      details: { errors: [{ path: '/endsAt', message: 'must be after startsAt' }] },
    });
  }
}

// Once a campaign has sent, what it sent is the basis of its analytics; these stay fixed.
const fixedAfterLaunch = ['channel', 'variants', 'segment', 'holdoutPct'] as const;

export function createCampaignsService(db: Db) {
  async function get(merchantId: string, id: string) {
    const campaign = await repo.findCampaign(db, merchantId, id);
    if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
    return campaign;
  }

  return {
    get,

    /** The campaign with its all-time counts (one round trip). */
    async getWithCounts(merchantId: string, id: string) {
      const campaign = await campaignWithCounts(db, merchantId, id);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
      return campaign;
    },

    async create(principal: Principal, input: CreateCampaignBody) {
      const variants = input.variants ?? DEFAULT_VARIANTS;
      assertVariants(variants);
      assertSchedule(input.startsAt, input.endsAt);
      const id = await withTransaction(db, async (client) => {
        const campaignId = await repo.insertCampaign(client, principal.merchantId, principal.userId, input);
        await repo.replaceVariants(client, campaignId, variants);
        return campaignId;
      });
      return get(principal.merchantId, id);
    },

    async list(merchantId: string, q: ListQuery) {
      const rows = await repo.listCampaigns(db, merchantId, { ...q, cursor: decodeCursor(q.cursor) });
      return page(rows, q.limit);
    },

    /** Partial update; a status change must follow the lifecycle. */
    async update(merchantId: string, id: string, patch: UpdateCampaignBody) {
      await withTransaction(db, async (client) => {
        const current = await repo.findCampaign(client, merchantId, id, { forUpdate: true });
        if (!current) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${id}`);
        if (current.status === 'completed') {
          throw new AppError('CAMPAIGN_NOT_EDITABLE', 'A completed campaign cannot be changed');
        }
        if (
          patch.status &&
          patch.status !== current.status &&
          !Transitions[current.status].includes(patch.status)
        ) {
          throw new AppError(
            'CAMPAIGN_INVALID_TRANSITION',
            `A ${current.status} campaign cannot become ${patch.status}`,
            { details: { from: current.status, to: patch.status, allowed: Transitions[current.status] } },
          );
        }
        if (current.status !== 'draft' && current.status !== 'scheduled') {
          const locked = fixedAfterLaunch.filter((k) => patch[k] !== undefined);
          if (locked.length > 0) {
            throw new AppError(
              'CAMPAIGN_NOT_EDITABLE',
              `${locked.join(', ')} cannot change once a campaign has run`,
            );
          }
        }
        assertSchedule(
          patch.startsAt === undefined ? current.startsAt : patch.startsAt,
          patch.endsAt === undefined ? current.endsAt : patch.endsAt,
        );
        const { variants, ...fields } = patch;
        if (variants) {
          assertVariants(variants);
          await repo.replaceVariants(client, id, variants);
        }
        await repo.updateCampaign(client, merchantId, id, fields).catch((error) => {
          if (pgErrorCode(error) === PgErrors.checkViolation) {
            throw new AppError('VALIDATION_FAILED', 'The campaign would break a constraint', {
              cause: error,
            });
          }
          throw error;
        });
      });
      return get(merchantId, id);
    },
  };
}
