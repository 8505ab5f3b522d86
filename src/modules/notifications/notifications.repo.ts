import type { Queryable } from '../../platform/db.ts';
import type { Channel, Outcome, Outgoing } from './notifications.channels.ts';

export const Statuses = ['queued', 'sending', 'sent', 'delivered', 'failed', 'bounced'] as const;
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
};

const columns = `id, merchant_id AS "merchantId", kind, send_id AS "sendId", campaign_id AS "campaignId",
  customer_id AS "customerId", variant, channel, recipient, status, attempts, last_error AS "lastError",
  response AS receipt, idempotency_key AS "idempotencyKey", created_at AS "createdAt", sent_at AS "sentAt",
  delivered_at AS "deliveredAt", failed_at AS "failedAt"`;

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
  const { rows } = await db.query<NotificationRow>(
    `INSERT INTO notifications (merchant_id, kind, channel, recipient, payload)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
    [n.merchantId, n.kind, n.channel, n.recipient, n.payload],
  );
  return rows[0]!;
}

export async function findNotification(db: Queryable, merchantId: string, id: string) {
  const { rows } = await db.query<NotificationRow>(
    `SELECT ${columns} FROM notifications WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}

/**
 * Moves a notification to `sending` and counts the attempt. A notification already `sending`
 * is claimed again: that is the re-delivery after a worker died mid-attempt, and it carries
 * the same idempotency key.
 */
export async function claimForDelivery(
  db: Queryable,
  id: string,
): Promise<(Outgoing & { attempts: number }) | undefined> {
  const { rows } = await db.query<Outgoing & { attempts: number }>(
    `UPDATE notifications SET status = 'sending', attempts = attempts + 1
      WHERE id = $1 AND status IN ('queued', 'sending')
      RETURNING id, merchant_id AS "merchantId", channel, recipient, idempotency_key AS "idempotencyKey",
                payload, attempts`,
    [id],
  );
  return rows[0];
}

/** Records the attempt and moves the status forward; a transient error leaves it `sending` unless final. */
export async function recordOutcome(
  db: Queryable,
  id: string,
  attempt: number,
  outcome: Outcome,
  final: boolean,
): Promise<Status> {
  const status: Status =
    outcome.outcome === 'delivered'
      ? 'delivered'
      : outcome.outcome === 'permanent_error'
        ? outcome.bounced
          ? 'bounced'
          : 'failed'
        : final
          ? 'failed'
          : 'sending';
  await db.query(
    `WITH attempt AS (
       INSERT INTO notification_attempts (notification_id, attempt, outcome, latency_ms, response_code, error)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING
     )
     UPDATE notifications
        SET status = $7,
            last_error = $6,
            response = $8,
            sent_at = CASE WHEN $7 = 'delivered' THEN coalesce(sent_at, now()) ELSE sent_at END,
            delivered_at = CASE WHEN $7 = 'delivered' THEN now() ELSE delivered_at END,
            failed_at = CASE WHEN $7 IN ('failed', 'bounced') THEN now() ELSE failed_at END
      WHERE id = $1`,
    [
      id,
      attempt,
      outcome.outcome,
      Math.round(outcome.latencyMs),
      outcome.responseCode,
      outcome.error,
      status,
      { responseCode: outcome.responseCode, response: outcome.response, latencyMs: outcome.latencyMs },
    ],
  );
  return status;
}

export type DeliveryCounts = Record<Status, number> & { total: number };

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
  const { rows } = await db.query<{ status: Status; n: number }>(
    `SELECT status, count(*) AS n FROM notifications WHERE ${where.join(' AND ')} GROUP BY status`,
    params,
  );
  return tally(rows);
}

function tally(rows: { status: Status; n: number }[]): DeliveryCounts {
  const counts = { queued: 0, sending: 0, sent: 0, delivered: 0, failed: 0, bounced: 0, total: 0 };
  for (const r of rows) {
    counts[r.status] = r.n;
    counts.total += r.n;
  }
  return counts;
}

export async function sendCounts(db: Queryable, sendId: string): Promise<DeliveryCounts> {
  const { rows } = await db.query<{ status: Status; n: number }>(
    'SELECT status, count(*) AS n FROM notifications WHERE send_id = $1 GROUP BY status',
    [sendId],
  );
  return tally(rows);
}
