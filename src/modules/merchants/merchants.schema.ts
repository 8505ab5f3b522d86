import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from '../../platform/schemas.ts';

const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const Merchant = Type.Object({
  id: Uuid,
  name: Type.String(),
  category: Type.String(),
  city: Nullable(Type.String()),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  tags: Type.Array(Type.String()),
  description: Type.String(),
  createdAt: Timestamp,
});

export const OwnMerchant = Type.Intersect([Merchant, Type.Object({ listed: Type.Boolean() })]);

export const DirectoryQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 400 })),
  },
  { additionalProperties: false },
);
export type DirectoryQuery = Static<typeof DirectoryQuery>;

export const Directory = Type.Object({
  items: Type.Array(Merchant),
  nextCursor: Nullable(Type.String()),
  facets: Type.Object({ categories: Type.Array(Type.String()), cities: Type.Array(Type.String()) }),
});

export const UpdateOwnMerchant = Type.Partial(
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 200 }),
      category: Type.String({ minLength: 1, maxLength: 60 }),
      city: Nullable(Type.String({ minLength: 1, maxLength: 100 })),
      latitude: Nullable(Type.Number({ minimum: -90, maximum: 90 })),
      longitude: Nullable(Type.Number({ minimum: -180, maximum: 180 })),
      tags: Type.Array(Type.String({ minLength: 1, maxLength: 40 }), { maxItems: 20, uniqueItems: true }),
      description: Type.String({ maxLength: 2000 }),
      listed: Type.Boolean({ description: 'whether the merchant appears in the network directory' }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateOwnMerchant = Static<typeof UpdateOwnMerchant>;
