import Type, { type Static } from 'typebox';
import { PageQuery, Timestamp, Uuid } from '../../platform/schemas.ts';
import { Metrics } from '../analytics/analytics.schema.ts';
import { Channel } from '../notifications/notifications.schema.ts';

export const CampaignStatuses = ['draft', 'scheduled', 'running', 'paused', 'completed'] as const;
export type CampaignStatus = (typeof CampaignStatuses)[number];
export const CampaignStatus = Type.Enum(CampaignStatuses);

/** The lifecycle: which status may follow which. */
export const Transitions: Record<CampaignStatus, readonly CampaignStatus[]> = {
  draft: ['scheduled', 'running'],
  scheduled: ['draft', 'running', 'paused'],
  running: ['paused', 'completed'],
  paused: ['running', 'completed'],
  completed: [],
};

const Values = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50, uniqueItems: true });
export const Segment = Type.Object(
  {
    city: Type.Optional(Values),
    ageBand: Type.Optional(Values),
    device: Type.Optional(Values),
    tier: Type.Optional(Values),
  },
  {
    additionalProperties: false,
    description: 'Audience filter: a customer matches when each given attribute is one of the values',
  },
);

export const VariantInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$' }),
    weight: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
    content: Type.Optional(
      Type.Object(
        {
          subject: Type.Optional(Type.String({ maxLength: 200 })),
          body: Type.Optional(Type.String({ maxLength: 10_000 })),
          offer: Type.Optional(Type.String({ maxLength: 500 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type VariantInput = Static<typeof VariantInput>;

const Money = Type.Number({ minimum: 0, maximum: 1e12 });

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 5000 }),
  channel: Channel,
  status: CampaignStatus,
  segment: Segment,
  budget: Money,
  unitCost: Type.Number({ minimum: 0, maximum: 100, description: 'cost of one message sent' }),
  rewardRate: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'share of attributed revenue paid back as reward',
  }),
  holdoutPct: Type.Number({
    minimum: 0,
    maximum: 50,
    description: 'percent of the audience held out as baseline',
  }),
  attributionWindowDays: Type.Integer({ minimum: 1, maximum: 90 }),
  startsAt: Type.Union([Timestamp, Type.Null()]),
  endsAt: Type.Union([Timestamp, Type.Null()]),
  variants: Type.Array(VariantInput, { minItems: 1, maxItems: 10 }),
};

export const CreateCampaignBody = Type.Object(
  {
    name: fields.name,
    channel: fields.channel,
    budget: fields.budget,
    description: Type.Optional(fields.description),
    status: Type.Optional(
      Type.Union([Type.Literal('draft'), Type.Literal('scheduled'), Type.Literal('running')]),
    ),
    segment: Type.Optional(fields.segment),
    unitCost: Type.Optional(fields.unitCost),
    rewardRate: Type.Optional(fields.rewardRate),
    holdoutPct: Type.Optional(fields.holdoutPct),
    attributionWindowDays: Type.Optional(fields.attributionWindowDays),
    startsAt: Type.Optional(fields.startsAt),
    endsAt: Type.Optional(fields.endsAt),
    variants: Type.Optional(fields.variants),
  },
  { additionalProperties: false },
);
export type CreateCampaignBody = Static<typeof CreateCampaignBody>;

export const UpdateCampaignBody = Type.Partial(Type.Object(fields, { additionalProperties: false }), {
  additionalProperties: false,
  minProperties: 1,
});
export type UpdateCampaignBody = Static<typeof UpdateCampaignBody>;

export const Variant = Type.Object({
  name: Type.String(),
  weight: Type.Integer(),
  content: Type.Record(Type.String(), Type.String()),
});

export const Campaign = Type.Object({
  id: Uuid,
  merchantId: Uuid,
  name: Type.String(),
  description: Type.String(),
  channel: Channel,
  status: CampaignStatus,
  segment: Segment,
  budget: Type.Number(),
  unitCost: Type.Number(),
  rewardRate: Type.Number(),
  holdoutPct: Type.Number(),
  attributionWindowDays: Type.Integer(),
  startsAt: Type.Union([Timestamp, Type.Null()]),
  endsAt: Type.Union([Timestamp, Type.Null()]),
  variants: Type.Array(Variant),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  metrics: Type.Optional(Metrics),
});

export const ListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(CampaignStatus),
    channel: Type.Optional(Channel),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text in the name' })),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const CampaignList = Type.Object({
  items: Type.Array(Campaign),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
