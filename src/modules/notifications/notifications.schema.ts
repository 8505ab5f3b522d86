import Type from 'typebox';
import { Timestamp, Uuid } from '../../platform/schemas.ts';
import { Channels } from './notifications.channels.ts';
import { Statuses } from './notifications.repo.ts';
import { SendStatuses } from './notifications.sends.repo.ts';

export const Channel = Type.Enum(Channels);
const Status = Type.Enum(Statuses);
const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const SendTestBody = Type.Object(
  {
    channel: Channel,
    to: Type.Union(
      [
        Type.String({ minLength: 3, maxLength: 4000 }),
        Type.Object(
          {
            endpoint: Type.String({ maxLength: 2000 }),
            expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
            keys: Type.Object({
              p256dh: Type.String({ maxLength: 200 }),
              auth: Type.String({ maxLength: 100 }),
            }),
          },
          { additionalProperties: false },
        ),
      ],
      {
        description:
          'email: an address; webhook: an http(s) URL; push: the browser PushSubscription (subscription.toJSON()), as an object or its JSON text',
      },
    ),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
  },
  { additionalProperties: false },
);

export const Notification = Type.Object({
  id: Uuid,
  kind: Type.String(),
  campaignId: Nullable(Uuid),
  sendId: Nullable(Uuid),
  customerId: Nullable(Uuid),
  variant: Nullable(Type.String()),
  channel: Channel,
  recipient: Type.String(),
  status: Status,
  attempts: Type.Integer(),
  lastError: Nullable(Type.String()),
  receipt: Nullable(
    Type.Object({
      responseCode: Nullable(Type.Integer()),
      response: Nullable(Type.String()),
      latencyMs: Type.Number(),
    }),
  ),
  receipts: Type.Record(Type.String(), Type.String(), {
    description: 'displayed / opened confirmations from the receiving app, with the time of the first',
  }),
  idempotencyKey: Uuid,
  createdAt: Timestamp,
  sentAt: Nullable(Timestamp),
  deliveredAt: Nullable(Timestamp),
  failedAt: Nullable(Timestamp),
});

export const DeliveryRateQuery = Type.Object(
  {
    campaignId: Type.Optional(Uuid),
    channel: Type.Optional(Channel),
    window: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 24 * 366, description: 'only notifications of the last N hours' }),
    ),
  },
  { additionalProperties: false },
);

export const DeliveryRate = Type.Object({
  rate: Nullable(
    Type.Number({ description: 'delivered ÷ (attempted − suppressed); null before any finished' }),
  ),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  bounced: Type.Integer(),
  suppressed: Type.Integer(),
  cancelled: Type.Integer(),
  attempted: Type.Integer({ description: 'finished notifications: delivered, failed, bounced, suppressed' }),
  pending: Type.Integer(),
  total: Type.Integer(),
  retries: Type.Integer({ description: 'attempts beyond the first, counted apart from notifications' }),
  retriedNotifications: Type.Integer(),
  windowHours: Nullable(Type.Integer()),
  campaignId: Nullable(Uuid),
  channel: Nullable(Channel),
});

export const CreateSendBody = Type.Object({ campaignId: Uuid }, { additionalProperties: false });

const Counts = Type.Object({
  queued: Type.Integer(),
  sending: Type.Integer(),
  sent: Type.Integer(),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  bounced: Type.Integer(),
  suppressed: Type.Integer(),
  cancelled: Type.Integer(),
  total: Type.Integer(),
  retries: Type.Integer(),
  retried: Type.Integer(),
});

export const Send = Type.Object({
  id: Uuid,
  campaignId: Uuid,
  channel: Channel,
  status: Type.Enum(SendStatuses),
  recipients: Type.Integer(),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  completedAt: Nullable(Timestamp),
  counts: Type.Optional(Counts),
});

export const RetryFailed = Type.Intersect([Send, Type.Object({ retried: Type.Integer() })]);

export const RecipientsQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Enum([...Statuses, 'undelivered'] as const, {
        description: "one status, or 'undelivered' for everyone who did not receive it",
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const Recipients = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Uuid,
      customerId: Nullable(Uuid),
      externalId: Nullable(Type.String()),
      recipient: Type.String(),
      variant: Nullable(Type.String()),
      status: Status,
      attempts: Type.Integer(),
      lastError: Nullable(Type.String()),
      createdAt: Timestamp,
      deliveredAt: Nullable(Timestamp),
      failedAt: Nullable(Timestamp),
      receipts: Type.Record(Type.String(), Type.String()),
    }),
  ),
  nextCursor: Nullable(Type.String()),
});

export const ReceiptBody = Type.Object(
  {
    event: Type.Enum(['displayed', 'opened', 'clicked', 'dismissed'] as const),
    token: Type.Optional(
      Type.String({
        format: 'uuid',
        description: "the push payload's receipt.token (not needed with a Bearer token)",
      }),
    ),
  },
  { additionalProperties: false },
);

export const Receipt = Type.Object({ id: Uuid, receipts: Type.Record(Type.String(), Type.String()) });

export const VapidPublicKey = Type.Object({
  publicKey: Type.String({ description: 'the applicationServerKey for pushManager.subscribe, base64url' }),
});

export const SuppressionBody = Type.Object(
  {
    channel: Channel,
    address: Type.String({ minLength: 1, maxLength: 4000 }),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const Suppression = Type.Object({ channel: Channel, address: Type.String(), reason: Type.String() });

export const RotatedSecret = Type.Object({
  secret: Type.String({ description: 'the new signing secret (whsec_…), shown once' }),
  previousValidUntil: Nullable(Timestamp),
});
