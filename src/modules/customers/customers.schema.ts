import Type, { type Static } from 'typebox';
import { PageQuery, Timestamp, Uuid } from '../../platform/schemas.ts';

const Attr = Type.String({ minLength: 1, maxLength: 100 });
export const Attributes = Type.Object(
  {
    city: Type.Optional(Attr),
    ageBand: Type.Optional(Attr),
    device: Type.Optional(Attr),
    tier: Type.Optional(Attr),
  },
  { additionalProperties: false },
);

export const PushSubscription = Type.Object(
  {
    endpoint: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
    expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    keys: Type.Object({
      p256dh: Type.String({ minLength: 20, maxLength: 200 }),
      auth: Type.String({ minLength: 8, maxLength: 100 }),
    }),
  },
  { description: 'A browser PushSubscription, as PushSubscription.toJSON() gives it' },
);

export const CustomerInput = Type.Object(
  {
    externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    webhookUrl: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 })),
    pushSubscription: Type.Optional(PushSubscription),
    attributes: Type.Optional(Attributes),
  },
  { additionalProperties: false },
);
export type CustomerInput = Static<typeof CustomerInput>;

export const Customer = Type.Object({
  id: Uuid,
  externalId: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  webhookUrl: Type.Union([Type.String(), Type.Null()]),
  pushSubscription: Type.Union([Type.Unknown(), Type.Null()]),
  attributes: Type.Object({
    city: Type.Union([Type.String(), Type.Null()]),
    ageBand: Type.Union([Type.String(), Type.Null()]),
    device: Type.Union([Type.String(), Type.Null()]),
    tier: Type.Union([Type.String(), Type.Null()]),
  }),
  unsubscribedAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const MAX_IMPORT = 10_000;
export const ImportBody = Type.Object(
  {
    customers: Type.Array(Type.Unknown(), {
      minItems: 1,
      description: `Up to ${MAX_IMPORT} customers; each is validated on its own and refused alone`,
    }),
  },
  { additionalProperties: false },
);
export const ImportResult = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  refused: Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), reason: Type.String() })),
});

export const ListQuery = Type.Object(
  {
    ...PageQuery,
    city: Type.Optional(Attr),
    tier: Type.Optional(Attr),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;
export const CustomerList = Type.Object({
  items: Type.Array(Customer),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
