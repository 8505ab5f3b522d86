import Type from 'typebox';
import { Timestamp, Uuid } from '../../platform/schemas.ts';
import { Channels } from './notifications.channels.ts';
import { Statuses } from './notifications.repo.ts';

export const Channel = Type.Enum(Channels);
const Status = Type.Enum(Statuses);
const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const SendTestBody = Type.Object(
  {
    channel: Channel,
    to: Type.String({ minLength: 3, maxLength: 2000, description: 'an email address or a webhook URL' }),
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
    Type.Number({ description: 'delivered ÷ (delivered + failed + bounced); null before any finished' }),
  ),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  bounced: Type.Integer(),
  pending: Type.Integer(),
  total: Type.Integer(),
  windowHours: Nullable(Type.Integer()),
});

export const CreateSendBody = Type.Object({ campaignId: Uuid }, { additionalProperties: false });

const Counts = Type.Object({
  queued: Type.Integer(),
  sending: Type.Integer(),
  sent: Type.Integer(),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  bounced: Type.Integer(),
  total: Type.Integer(),
});

export const Send = Type.Object({
  id: Uuid,
  campaignId: Uuid,
  channel: Channel,
  status: Type.Enum(['ready', 'sending', 'completed', 'cancelled'] as const),
  recipients: Type.Integer(),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  completedAt: Nullable(Timestamp),
  counts: Type.Optional(Counts),
});
