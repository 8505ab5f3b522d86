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

const Pair = Type.Tuple([Type.Number(), Type.Number()]);
const Incremental = Type.Object({
  treatedCustomers: Type.Integer(),
  heldOutCustomers: Type.Integer(),
  revenuePerTreated: Type.Number(),
  revenuePerHeldOut: Type.Number(),
  incrementalRevenue: Type.Number({
    description: '(revenue per treated − per held-out customer) × treated customers',
  }),
  incrementalRevenueInterval: Pair,
  roi: Ratio,
  roiInterval: Type.Union([Pair, Type.Null()]),
  since: Timestamp,
  until: Timestamp,
  computedAt: Timestamp,
});

export const IntervalQuery = Type.Object(
  { interval: Type.Enum(['hour', 'day'] as const, { default: 'day' }) },
  { additionalProperties: false },
);

export const CampaignMetricsDetail = Type.Intersect([
  CampaignMetrics,
  Type.Object({
    incrementalRoi: Type.Union([Type.Number(), Type.Null()], {
      description:
        'incremental revenue against the holdout, less spend, over spend; null without a holdout baseline',
    }),
    incrementalRoiInterval: Type.Union([Pair, Type.Null()], { description: '95 % interval' }),
    incremental: Type.Union([Incremental, Type.Null()]),
    interval: Type.String(),
    series: Type.Array(Type.Intersect([Type.Object({ at: Timestamp }), Metrics]), {
      description: 'per hour over the last 7 days, or per day over the last 90 (UTC)',
    }),
  }),
]);

const Comparison = Type.Object({
  variant: Type.String(),
  against: Type.String(),
  rate: Ratio,
  controlRate: Ratio,
  difference: Ratio,
  differenceInterval: Type.Union([Pair, Type.Null()]),
  lift: Type.Union([Type.Number(), Type.Null()], { description: 'rate / control rate − 1' }),
  liftInterval: Type.Union([Pair, Type.Null()]),
  zScore: Type.Number(),
  pValue: Type.Number({ description: 'two-proportion z-test, fixed horizon' }),
  sequential: Type.Object({
    pValue: Type.Number({ description: 'always-valid p-value (mixture SPRT)' }),
    differenceInterval: Type.Union([Pair, Type.Null()], { description: 'confidence sequence' }),
    significant: Type.Boolean(),
  }),
  alpha: Type.Number(),
});

export const Experiment = Type.Object({
  campaignId: Uuid,
  adaptive: Type.Boolean(),
  control: Type.String(),
  variants: Type.Array(
    Type.Intersect([
      Type.Object({
        name: Type.String(),
        weight: Type.Integer(),
        exposed: Type.Integer({ description: 'customers with an event of this variant' }),
        converted: Type.Integer({ description: 'of them, customers with a conversion' }),
        unitConversionRate: Ratio,
      }),
      Metrics,
    ]),
  ),
  comparisons: Type.Array(Comparison),
  srm: Type.Object({
    units: Type.String(),
    chiSquare: Type.Union([Type.Number(), Type.Null()], { description: 'null before any unit is exposed' }),
    degreesOfFreedom: Type.Integer(),
    pValue: Type.Number(),
    expected: Type.Array(Type.Number()),
    mismatch: Type.Boolean(),
    checked: Type.Boolean(),
  }),
  verdict: Type.Enum(['winner', 'no difference', 'keep running', 'invalid: SRM'] as const),
  winner: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
});

export const AllocationBody = Type.Object(
  {
    enabled: Type.Boolean(),
    floor: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.5,
        description: 'the least share each variant keeps (default 0.05)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const Allocation = Type.Object({
  campaignId: Uuid,
  enabled: Type.Boolean(),
  floor: Type.Number(),
  history: Type.Array(
    Type.Object({
      at: Timestamp,
      weights: Type.Record(Type.String(), Type.Integer()),
      probabilityBest: Type.Record(Type.String(), Type.Number()),
      units: Type.Record(Type.String(), Type.Object({ exposed: Type.Integer(), converted: Type.Integer() })),
    }),
  ),
});

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
  trend: Type.Object({
    days: Type.Integer(),
    revenueChange: Type.Union([Type.Number(), Type.Null()], {
      description: 'attributed revenue of the last half of the window against the half before',
    }),
    series: Type.Array(
      Type.Object({
        at: Timestamp,
        impressions: Type.Integer(),
        clicks: Type.Integer(),
        conversions: Type.Integer(),
        revenue: Type.Number(),
        ctr: Ratio,
        conversionRate: Ratio,
      }),
    ),
  }),
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
