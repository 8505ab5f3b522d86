import Type from 'typebox';
import { Timestamp, Uuid } from '../../platform/schemas.ts';

const Ratio = Type.Union([Type.Number(), Type.Null()], { description: 'null while its denominator is 0' });

export const Metrics = Type.Object({
  impressions: Type.Integer(),
  opens: Type.Integer(),
  clicks: Type.Integer(),
  conversions: Type.Integer(),
  transactions: Type.Integer(),
  messagesSent: Type.Integer(),
  revenue: Type.Number({ description: 'attributed transaction amounts' }),
  spend: Type.Number({ description: 'messages sent × unit cost + rewards on attributed revenue' }),
  ctr: Ratio,
  conversionRate: Ratio,
  roi: Ratio,
  cpa: Ratio,
});

export const CampaignMetrics = Type.Intersect([
  Type.Object({ campaignId: Uuid, name: Type.String(), status: Type.String() }),
  Metrics,
]);

export const SegmentKeys = ['city', 'ageBand', 'device', 'tier'] as const;
export type SegmentKey = (typeof SegmentKeys)[number];

export const SegmentsQuery = Type.Object(
  { by: Type.Enum(SegmentKeys, { default: 'city' }) },
  { additionalProperties: false },
);
export const SegmentsResponse = Type.Object({
  campaignId: Uuid,
  by: Type.String(),
  segments: Type.Array(Type.Intersect([Type.Object({ segment: Type.String() }), Metrics])),
});

export const RankKeys = ['roi', 'conversions', 'revenue', 'ctr'] as const;
export const PortfolioQuery = Type.Object(
  { rank: Type.Enum(RankKeys, { default: 'roi' }) },
  { additionalProperties: false },
);
export const Portfolio = Type.Object({
  totals: Type.Intersect([Type.Object({ campaigns: Type.Integer() }), Metrics]),
  rankedBy: Type.String(),
  campaigns: Type.Array(Type.Intersect([CampaignMetrics, Type.Object({ rank: Type.Integer() })])),
});

export const MAX_BATCH = 10_000;

export const EventsBody = Type.Object(
  {
    events: Type.Array(Type.Unknown(), {
      minItems: 1,
      description: `Up to ${MAX_BATCH} events; each is checked on its own: valid ones are stored, the others refused with the reason`,
    }),
  },
  { additionalProperties: false },
);
export const EventInput = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'the client event id: a resend of the same id is ignored',
    }),
    type: Type.Enum(['impression', 'open', 'click', 'conversion'] as const),
    campaignId: Uuid,
    variant: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    customerId: Uuid,
    at: Timestamp,
  },
  { additionalProperties: false },
);

export const TransactionsBody = Type.Object(
  {
    transactions: Type.Array(Type.Unknown(), {
      minItems: 1,
      description: `Up to ${MAX_BATCH} card transactions`,
    }),
  },
  { additionalProperties: false },
);
export const TransactionInput = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 100 }),
    customerId: Uuid,
    amount: Type.Number({ minimum: 0, maximum: 1e9, description: 'stored rounded to cents' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    at: Timestamp,
  },
  { additionalProperties: false },
);

export const IngestResult = Type.Object({
  accepted: Type.Integer({ description: 'stored now' }),
  duplicates: Type.Integer({ description: 'ids stored before; ignored' }),
  refused: Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), reason: Type.String() })),
  attributed: Type.Optional(Type.Integer({ description: 'transactions attributed to a campaign' })),
});
