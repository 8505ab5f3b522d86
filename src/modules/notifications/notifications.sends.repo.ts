import type { Queryable } from '../../platform/db.ts';
import { audienceWhere, type Segment } from '../customers/customers.repo.ts';
import type { Channel } from './notifications.channels.ts';
import type { Status } from './notifications.repo.ts';

export const SendStatuses = ['ready', 'sending', 'paused', 'completed', 'cancelled'] as const;
export type SendStatus = (typeof SendStatuses)[number];

export type SendRow = {
  id: string;
  merchantId: string;
  campaignId: string;
  channel: Channel;
  status: SendStatus;
  recipients: number;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  fannedOutAt: Date | null;
};

const columns = `s.id, s.merchant_id AS "merchantId", s.campaign_id AS "campaignId", c.channel, s.status,
  s.recipients, s.created_at AS "createdAt", s.started_at AS "startedAt", s.completed_at AS "completedAt",
  s.fanned_out_at AS "fannedOutAt"`;

export type CampaignAudience = {
  merchantId: string;
  campaignId: string;
  channel: Channel;
  segment: Segment;
  holdoutPct: number;
};

/**
 * The audience of a campaign send: the segment's reachable customers, less the campaign's holdout.
 * Holdout membership is a hash of customer and campaign, so it is stable across sends and is
 * the baseline analytics compares against.
 */
export function sendAudience(a: CampaignAudience, first = 1) {
  const base = audienceWhere(a.merchantId, a.segment, a.channel, first);
  const params = [...base.params, a.campaignId, a.holdoutPct];
  const c = first + base.params.length;
  return {
    sql: `${base.sql} AND swipesavvy_is_treated(c.id, $${c}::uuid, $${c + 1}::numeric)`,
    params,
  };
}

export async function countSendAudience(db: Queryable, a: CampaignAudience): Promise<number> {
  const w = sendAudience(a);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*) AS n FROM customers c WHERE ${w.sql}`,
    w.params,
  );
  return rows[0]!.n;
}

export async function insertSend(
  db: Queryable,
  s: { merchantId: string; campaignId: string; recipients: number; createdBy: string },
): Promise<SendRow> {
  const { rows } = await db.query<SendRow>(
    `WITH s AS (
       INSERT INTO notification_sends (merchant_id, campaign_id, recipients, created_by)
       VALUES ($1, $2, $3, $4) RETURNING *
     )
     SELECT ${columns} FROM s JOIN campaigns c ON c.id = s.campaign_id`,
    [s.merchantId, s.campaignId, s.recipients, s.createdBy],
  );
  return rows[0]!;
}

export async function findSend(db: Queryable, merchantId: string, id: string): Promise<SendRow | undefined> {
  const { rows } = await db.query<SendRow>(
    `SELECT ${columns} FROM notification_sends s JOIN campaigns c ON c.id = s.campaign_id
      WHERE s.id = $1 AND s.merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0];
}

export async function findSendForFanout(db: Queryable, id: string) {
  const { rows } = await db.query<SendRow & { segment: Segment; holdoutPct: number }>(
    `SELECT ${columns}, c.segment, c.holdout_pct AS "holdoutPct"
       FROM notification_sends s JOIN campaigns c ON c.id = s.campaign_id WHERE s.id = $1`,
    [id],
  );
  return rows[0];
}

/** Moves a send from one status to another; undefined when it was not in `from`. */
export async function transitionSend(
  db: Queryable,
  merchantId: string,
  id: string,
  from: SendRow['status'][],
  to: SendRow['status'],
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notification_sends
        SET status = $4,
            started_at = CASE WHEN $4 = 'sending' THEN coalesce(started_at, now()) ELSE started_at END,
            completed_at = CASE WHEN $4 IN ('completed', 'cancelled') THEN now() ELSE completed_at END
      WHERE id = $1 AND merchant_id = $2 AND status = ANY($3::text[])`,
    [id, merchantId, from, to],
  );
  return rowCount === 1;
}

const recipientColumn: Record<Channel, string> = {
  email: 'b.email',
  webhook: 'b.webhook_url',
  push: 'b.push_subscription::text',
};

/**
 * Creates the notifications of the next batch of the audience, after customer `after`, with the
 * variant picked by a hash of customer and campaign (so a resend picks the same one). Rows that
 * exist already (a retried fan-out) are skipped by the unique index.
 *
 * The references are checked set-based, not by foreign keys (migration 051): the send and the
 * customers are read by the statement that inserts, with the send row locked, and the caller holds
 * the merchant row FOR KEY SHARE (`lockMerchant`), for which a customer's delete waits.
 */
export async function fanOutBatch(
  db: Queryable,
  send: SendRow & { segment: Segment; holdoutPct: number },
  after: string,
  size: number,
): Promise<{ last: string | null; ids: string[] }> {
  const audience = sendAudience(
    {
      merchantId: send.merchantId,
      campaignId: send.campaignId,
      channel: send.channel,
      segment: send.segment,
      holdoutPct: send.holdoutPct,
    },
    5,
  );
  const { rows } = await db.query<{ last: string | null; ids: string[] }>(
    // v is materialized: inlined, its window sums were computed again for every recipient
    `WITH v AS MATERIALIZED (
       SELECT name, content, sum(weight) OVER (ORDER BY position) AS upto, sum(weight) OVER () AS total
         FROM campaign_variants WHERE campaign_id = $2
     ),
     batch AS (
       SELECT c.id, c.email, c.webhook_url, c.push_subscription FROM customers c
        WHERE ${audience.sql} AND c.id > $3 ORDER BY c.id LIMIT $4
     ),
     ins AS (
       INSERT INTO notifications (merchant_id, kind, send_id, campaign_id, customer_id, variant, channel, recipient, status, payload)
       SELECT b_merchant, 'campaign', $1, $2, b.id, pick.name, '${send.channel}', ${recipientColumn[send.channel]},
              CASE WHEN EXISTS (SELECT 1 FROM notification_suppressions x
                                 WHERE x.merchant_id = b_merchant AND x.channel = '${send.channel}'
                                   AND x.address = ${recipientColumn[send.channel]})
                   THEN 'suppressed' ELSE 'queued' END,
              jsonb_build_object('subject', pick.content->>'subject', 'text', pick.content->>'body',
                                 'data', jsonb_build_object('type', 'campaign', 'campaignId', $2::uuid, 'variant', pick.name))
         FROM batch b
         -- the send is locked (its delete, or its campaign's or merchant's, waits for the batch)
         CROSS JOIN (SELECT merchant_id AS b_merchant FROM notification_sends WHERE id = $1 FOR KEY SHARE) s
         CROSS JOIN LATERAL (
           SELECT name, content FROM v
            WHERE v.upto > mod(mod(hashtextextended(b.id::text || ':' || $2::text, 0), v.total) + v.total, v.total)
            ORDER BY v.upto LIMIT 1
         ) pick
       ON CONFLICT (send_id, customer_id, channel) WHERE send_id IS NOT NULL DO NOTHING
       RETURNING id, status
     )
     SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last, ARRAY(SELECT id FROM ins WHERE status = 'queued') AS ids`,
    [send.id, send.campaignId, after, size, ...audience.params],
  );
  return rows[0]!;
}

/**
 * Holds the merchant row FOR KEY SHARE until the transaction ends: deleting one of its customers
 * (whose trigger takes the row FOR UPDATE before clearing its notifications) waits for the batch.
 */
export async function lockMerchant(db: Queryable, merchantId: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'notifications-merchant-lock',
    text: 'SELECT 1 FROM merchants WHERE id = $1 FOR KEY SHARE',
    values: [merchantId],
  });
  return rowCount === 1;
}

export async function finishFanout(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE notification_sends
        SET fanned_out_at = now(), recipients = (SELECT count(*) FROM notifications WHERE send_id = $1)
      WHERE id = $1 AND fanned_out_at IS NULL`,
    [id],
  );
}

/** Completes a send once it is fanned out and no notification of it is still open. */
export async function completeIfDone(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notification_sends SET status = 'completed', completed_at = now()
      WHERE id = $1 AND status = 'sending' AND fanned_out_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM notifications WHERE send_id = $1 AND is_open)`,
    [id],
  );
  return rowCount === 1;
}

/** The send's notifications that are waiting (not held by a worker), for resume: in chunks for delivery jobs. */
export async function waitingIds(db: Queryable, sendId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM notifications
      WHERE send_id = $1 AND is_open AND (status = 'queued' OR (status = 'sending' AND claim_token IS NULL))`,
    [sendId],
  );
  return rows.map((r) => r.id);
}

/** Cancelling: what has not gone out is `cancelled`; what a worker holds right now finishes. */
export async function cancelWaiting(db: Queryable, sendId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE notifications SET status = 'cancelled', next_attempt_at = NULL
      WHERE send_id = $1 AND is_open AND (status = 'queued' OR (status = 'sending' AND claim_token IS NULL))`,
    [sendId],
  );
  return rowCount ?? 0;
}

/**
 * retry-failed: the send's `failed` notifications are queued again, the one transition back a
 * user asks for explicitly. Their attempts history stays; the idempotency key stays too.
 */
export async function requeueFailed(db: Queryable, sendId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE notifications SET status = 'queued', failed_at = NULL, next_attempt_at = NULL
      WHERE send_id = $1 AND is_settled_undelivered AND status = 'failed' RETURNING id`,
    [sendId],
  );
  return rows.map((r) => r.id);
}

export async function reopenSend(db: Queryable, sendId: string): Promise<void> {
  await db.query(
    `UPDATE notification_sends SET status = 'sending', completed_at = NULL WHERE id = $1 AND status IN ('completed', 'sending')`,
    [sendId],
  );
}

export type RecipientRow = {
  id: string;
  customerId: string | null;
  externalId: string | null;
  recipient: string;
  variant: string | null;
  status: Status;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  failedAt: Date | null;
  receipts: Record<string, string>;
};

/** Who did and who did not receive: one page of the send's notifications, by status. */
export async function listRecipients(
  db: Queryable,
  sendId: string,
  f: { statuses?: string[]; limit: number; after?: { createdAt: string; id: string } },
): Promise<RecipientRow[]> {
  const params: unknown[] = [sendId, f.limit + 1];
  const where = ['n.send_id = $1'];
  if (f.statuses && f.statuses.length > 0) {
    params.push(f.statuses);
    where.push(`n.status = ANY($${params.length}::text[])`);
    // every status but delivered is open or settled undelivered: the two partial indexes (052)
    // find those rows of a large send instead of reading all of them
    if (!f.statuses.includes('delivered')) where.push('(n.is_open OR n.is_settled_undelivered)');
  }
  if (f.after) {
    params.push(f.after.createdAt, f.after.id);
    // the cursor carries milliseconds; PostgreSQL keeps microseconds
    where.push(
      `(date_trunc('milliseconds', n.created_at), n.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`,
    );
  }
  const { rows } = await db.query<RecipientRow>(
    `SELECT n.id, n.customer_id AS "customerId", c.external_id AS "externalId", n.recipient, n.variant, n.status,
            n.attempts, n.last_error AS "lastError", date_trunc('milliseconds', n.created_at) AS "createdAt", n.delivered_at AS "deliveredAt",
            n.failed_at AS "failedAt", n.receipts
       FROM notifications n LEFT JOIN customers c ON c.id = n.customer_id
      WHERE ${where.join(' AND ')}
      ORDER BY date_trunc('milliseconds', n.created_at), n.id LIMIT $2`,
    params,
  );
  return rows;
}

export async function fanoutHeartbeat(db: Queryable, sendId: string): Promise<void> {
  await db.query('UPDATE notification_sends SET fanout_heartbeat_at = now() WHERE id = $1', [sendId]);
}

/** Sending sends whose fan-out stopped without finishing (its worker died): claimed for a new fan-out job. */
export async function takeStalledFanouts(db: Queryable, leaseSeconds: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE notification_sends SET fanout_heartbeat_at = now()
      WHERE id IN (SELECT id FROM notification_sends
                    WHERE status = 'sending' AND fanned_out_at IS NULL
                      AND coalesce(fanout_heartbeat_at, started_at) < now() - make_interval(secs => $1)
                    FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [leaseSeconds],
  );
  return rows.map((r) => r.id);
}
