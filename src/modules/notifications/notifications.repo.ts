import type { Queryable } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Channel, Outgoing } from './notifications.channels.ts';

export const Statuses = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'failed',
  'bounced',
  'suppressed',
  'cancelled',
] as const;
export type Status = (typeof Statuses)[number];

export type NotificationRow = {
  id: string;
  merchantId: string;
  kind: 'campaign' | 'test' | 'system';
  sendId: string | null;
  campaignId: string | null;
  customerId: string | null;
  variant: string | null;
  channel: Channel;
  recipient: string;
  status: Status;
  attempts: number;
  lastError: string | null;
  receipt: { responseCode: number | null; response: string | null; latencyMs: number } | null;
  idempotencyKey: string;
  createdAt: Date;
  sentAt: Date | null;
  deliveredAt: Date | null;
  failedAt: Date | null;
  receipts: Record<string, string>;
};

const columns = `id, merchant_id AS "merchantId", kind, send_id AS "sendId", campaign_id AS "campaignId",
  customer_id AS "customerId", variant, channel, recipient, status, attempts, last_error AS "lastError",
  response AS receipt, idempotency_key AS "idempotencyKey", created_at AS "createdAt", sent_at AS "sentAt",
  delivered_at AS "deliveredAt", failed_at AS "failedAt", receipts`;

export async function insertNotification(
  db: Queryable,
  n: {
    merchantId: string;
    kind: 'test' | 'system';
    channel: Channel;
    recipient: string;
    payload: Outgoing['payload'];
  },
): Promise<NotificationRow> {
  // the merchant row is held FOR KEY SHARE by the insert (no foreign key checks it: migration 051)
  const { rows } = await db.query<NotificationRow>(
    `INSERT INTO notifications (merchant_id, kind, channel, recipient, payload)
     SELECT id, $2, $3, $4, $5 FROM merchants WHERE id = $1 FOR KEY SHARE RETURNING ${columns}`,
    [n.merchantId, n.kind, n.channel, n.recipient, n.payload],
  );
  if (!rows[0]) throw new AppError('MERCHANT_NOT_FOUND', 'The merchant no longer exists');
  return rows[0];
}

export async function findNotification(db: Queryable, merchantId: string, id: string) {
  const { rows } = await db.query<NotificationRow>(
    `SELECT ${columns} FROM notifications WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}

export type DeliveryCounts = Record<Status, number> & { total: number; retries: number; retried: number };

export async function deliveryCounts(
  db: Queryable,
  merchantId: string,
  f: { campaignId?: string; channel?: Channel; since?: Date },
): Promise<DeliveryCounts> {
  const params: unknown[] = [merchantId];
  const where = ['merchant_id = $1'];
  if (f.campaignId) {
    params.push(f.campaignId);
    where.push(`campaign_id = $${params.length}`);
  }
  if (f.channel) {
    params.push(f.channel);
    where.push(`channel = $${params.length}`);
  }
  if (f.since) {
    params.push(f.since);
    where.push(`created_at >= $${params.length}`);
  }
  const { rows } = await db.query<{ status: Status; n: number; retries: number; retried: number }>(
    `SELECT status, count(*) AS n, sum(greatest(attempts - 1, 0))::int AS retries,
            count(*) FILTER (WHERE attempts > 1) AS retried
       FROM notifications WHERE ${where.join(' AND ')} GROUP BY status`,
    params,
  );
  return tally(rows);
}

function tally(rows: { status: Status; n: number; retries?: number; retried?: number }[]): DeliveryCounts {
  const counts: DeliveryCounts = {
    queued: 0,
    sending: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    bounced: 0,
    suppressed: 0,
    cancelled: 0,
    total: 0,
    retries: 0,
    retried: 0,
  };
  for (const r of rows) {
    counts[r.status] = r.n;
    counts.total += r.n;
    counts.retries += r.retries ?? 0;
    counts.retried += r.retried ?? 0;
  }
  return counts;
}

/** A displayed/opened confirmation; the first time of each is kept. */
export async function recordReceipt(
  db: Queryable,
  id: string,
  event: string,
  check: { merchantId?: string; token?: string },
): Promise<Record<string, string> | undefined> {
  const { rows } = await db.query<{ receipts: Record<string, string> }>(
    `UPDATE notifications
        SET receipts = receipts || jsonb_build_object($2::text, coalesce(receipts->>$2, to_jsonb(now())#>>'{}'))
      WHERE id = $1 AND ($3::uuid IS NULL OR merchant_id = $3) AND ($4::uuid IS NULL OR idempotency_key = $4)
        AND ($3::uuid IS NOT NULL OR $4::uuid IS NOT NULL)
      RETURNING receipts`,
    [id, event, check.merchantId ?? null, check.token ?? null],
  );
  return rows[0]?.receipts;
}

export async function sendCounts(db: Queryable, sendId: string): Promise<DeliveryCounts> {
  const { rows } = await db.query<{ status: Status; n: number }>(
    'SELECT status, count(*) AS n FROM notifications WHERE send_id = $1 GROUP BY status',
    [sendId],
  );
  return tally(rows);
}
