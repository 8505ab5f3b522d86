import type { Queryable } from '../../platform/db.ts';
import type { Outcome, Outgoing } from './notifications.channels.ts';
import type { Status } from './notifications.repo.ts';

export type Claimed = Outgoing & { attempts: number; sendId: string | null; suppressed: boolean };

/**
 * Claims a batch in one statement: open notifications move to `sending` under this worker's
 * token, or to `suppressed` when their address or customer may no longer be messaged.
 * Notifications of a paused or cancelled send are left alone. Rows already `sending` are claimed
 * again: that is the re-delivery after a worker died, with the same idempotency key.
 *
 * The rows are found by primary key from the id array. The status test is written `(…) IS TRUE`
 * so that the planner cannot serve it from a status index instead: those statistics lag a fan-out
 * (a campaign of 100,000 is "a few open rows" until the next analyze), and such a plan reads every
 * open notification per batch (no index keys on status since migration 052; the form keeps one
 * added later from being picked). Not a named statement: a generic plan is made once from whatever
 * the statistics said then (an empty table at the start of a first campaign); planning this per
 * batch costs ~2 ms per 1,000 notifications.
 */
export async function claimBatch(db: Queryable, ids: string[], token: string): Promise<Claimed[]> {
  const { rows } = await db.query<Claimed>({
    text: `UPDATE notifications n
              SET (status, claim_token) = (
                    SELECT CASE WHEN x.suppressed THEN 'suppressed' ELSE 'sending' END,
                           CASE WHEN x.suppressed THEN NULL ELSE $2::uuid END
                      FROM (SELECT EXISTS (SELECT 1 FROM notification_suppressions s
                                            WHERE s.merchant_id = n.merchant_id AND s.channel = n.channel
                                              AND s.address = n.recipient)
                                   OR EXISTS (SELECT 1 FROM customers c
                                               WHERE n.kind = 'campaign' AND c.id = n.customer_id
                                                 AND (c.unsubscribed_at IS NOT NULL
                                                      OR (n.channel = 'push' AND c.push_invalid_at IS NOT NULL)))
                                   AS suppressed
                            OFFSET 0) x), -- evaluated once per row, not once per assigned column
                  claimed_at = now(), next_attempt_at = NULL
            WHERE n.id = ANY($1::uuid[]) AND (n.status IN ('queued', 'sending')) IS TRUE
              AND (n.send_id IS NULL
                   OR EXISTS (SELECT 1 FROM notification_sends s WHERE s.id = n.send_id AND s.status = 'sending'))
           RETURNING n.id, n.merchant_id AS "merchantId", n.channel, n.recipient, n.idempotency_key AS "idempotencyKey",
                     n.payload, n.attempts, n.send_id AS "sendId", n.customer_id AS "customerId",
                     n.status = 'suppressed' AS suppressed`,
    values: [ids, token],
  });
  return rows;
}

/** Keeps a long batch's claim alive, so recovery does not take it from a worker that is still working. */
export async function renewClaim(db: Queryable, token: string, ids: string[]): Promise<void> {
  await db.query({
    text: `UPDATE notifications n SET claimed_at = now()
            WHERE n.id = ANY($2::uuid[]) AND n.claim_token = $1 AND (n.status = 'sending') IS TRUE`,
    values: [token, ids],
  });
}

export type Recorded = {
  id: string;
  status: Status;
  outcome: Outcome;
  /** set for a transient failure that will be tried again */
  nextAttemptAt: Date | null;
};

/**
 * Records a batch's outcomes and attempts in one statement. Only rows still held by `token` are
 * written, so a worker whose claim was recovered cannot count a notification twice.
 */
export async function recordBatch(db: Queryable, token: string, results: Recorded[]): Promise<Set<string>> {
  if (results.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>({
    // The token and the status are tested as join clauses against o (which carries them) rather
    // than as filters on the table: a filter on claim_token is estimated at one row (it is null
    // nearly everywhere), and on that estimate the planner compared every row of the batch with
    // every other (a second per batch, seen in bench:notify). Joined by primary key, linear.
    text: `WITH o AS MATERIALIZED (
       SELECT o.*, $1::uuid AS token, 'sending'::text AS held
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[], $9::timestamptz[])
           AS o(id, status, outcome, latency_ms, response_code, error, response, next_attempt_at)
     ),
     u AS (
       UPDATE notifications n
          SET status = o.status,
              attempts = n.attempts + 1,
              last_error = o.error,
              response = o.response::jsonb,
              claim_token = NULL,
              next_attempt_at = o.next_attempt_at,
              sent_at = CASE WHEN o.status = 'delivered' THEN coalesce(n.sent_at, now()) ELSE n.sent_at END,
              delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE n.delivered_at END,
              failed_at = CASE WHEN o.status IN ('failed', 'bounced') THEN now() ELSE n.failed_at END
         FROM o
        WHERE n.id = o.id AND n.id = ANY($2::uuid[]) AND n.claim_token = o.token AND n.status = o.held
        RETURNING n.id, n.attempts, o.outcome, o.latency_ms, o.response_code, o.error
     )
     INSERT INTO notification_attempts (notification_id, attempt, outcome, latency_ms, response_code, error)
     SELECT id, attempts, outcome, latency_ms, response_code, error FROM u
     RETURNING notification_id AS id`,
    values: [
      token,
      results.map((r) => r.id),
      results.map((r) => r.status),
      results.map((r) => r.outcome.outcome),
      results.map((r) => Math.max(0, Math.round(r.outcome.latencyMs))),
      results.map((r) => r.outcome.responseCode),
      results.map((r) => r.outcome.error),
      results.map((r) =>
        JSON.stringify({
          responseCode: r.outcome.responseCode,
          response: r.outcome.response,
          latencyMs: r.outcome.latencyMs,
        }),
      ),
      results.map((r) => r.nextAttemptAt),
    ],
  });
  return new Set(rows.map((r) => r.id));
}

/** A subscription the push service says is gone: the customer is not tried on push again. */
export async function markPushInvalid(db: Queryable, customerIds: string[]): Promise<void> {
  if (customerIds.length === 0) return;
  await db.query(
    'UPDATE customers SET push_invalid_at = now() WHERE id = ANY($1::uuid[]) AND push_invalid_at IS NULL',
    [customerIds],
  );
}

export async function addSuppressions(
  db: Queryable,
  rows: { merchantId: string; channel: string; address: string; reason: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO notification_suppressions (merchant_id, channel, address, reason)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.merchantId),
      rows.map((r) => r.channel),
      rows.map((r) => r.address),
      rows.map((r) => r.reason),
    ],
  );
}

/**
 * Takes back notifications whose worker stopped renewing its claim (killed, hung) or whose retry
 * job is long overdue, and returns them, grouped by send, for new delivery jobs.
 */
export async function recoverStale(
  db: Queryable,
  leaseSeconds: number,
  limit = 10_000,
): Promise<{ sendId: string | null; ids: string[] }[]> {
  const { rows } = await db.query<{ sendId: string | null; ids: string[] }>(
    `WITH stale AS (
       SELECT id FROM notifications
        WHERE is_open AND status = 'sending'
          AND ((claim_token IS NOT NULL AND claimed_at < now() - make_interval(secs => $1))
               OR (claim_token IS NULL AND next_attempt_at < now() - make_interval(secs => $1)))
          AND (send_id IS NULL
               OR EXISTS (SELECT 1 FROM notification_sends s WHERE s.id = send_id AND s.status = 'sending'))
        LIMIT $2 FOR UPDATE SKIP LOCKED
     ),
     taken AS (
       UPDATE notifications n SET claim_token = NULL, claimed_at = NULL, next_attempt_at = now()
         FROM stale WHERE n.id = stale.id
       RETURNING n.id, n.send_id
     )
     SELECT send_id AS "sendId", array_agg(id) AS ids FROM taken GROUP BY send_id`,
    [leaseSeconds, limit],
  );
  return rows;
}

export async function openQueueStats(db: Queryable): Promise<{ depth: number; oldestSeconds: number }> {
  const { rows } = await db.query<{ depth: number; oldestSeconds: number | null }>(
    `SELECT count(*) AS depth, extract(epoch FROM now() - min(created_at))::float8 AS "oldestSeconds"
       FROM notifications WHERE is_open`,
  );
  return { depth: rows[0]!.depth, oldestSeconds: rows[0]!.oldestSeconds ?? 0 };
}

export async function webhookSecretsFor(
  db: Queryable,
  merchantIds: string[],
): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ id: string; secrets: string[] }>({
    name: 'notifications-webhook-secrets',
    text: `SELECT id, CASE WHEN webhook_secret_previous_until IS NOT NULL AND webhook_secret_previous_until < now()
                     THEN webhook_secrets[1:1] ELSE webhook_secrets END AS secrets
       FROM merchants WHERE id = ANY($1::uuid[])`,
    values: [merchantIds],
  });
  return new Map(rows.map((r) => [r.id, r.secrets]));
}

/** Rotation: a new secret signs; the previous one keeps verifying until `until`; older ones are dropped. */
export async function rotateWebhookSecret(
  db: Queryable,
  merchantId: string,
  secret: string,
  until: Date,
): Promise<{ previousUntil: Date | null }> {
  const { rows } = await db.query<{ previousUntil: Date | null }>(
    `UPDATE merchants SET webhook_secrets = ARRAY[$2::text, webhook_secrets[1]], webhook_secret_previous_until = $3
      WHERE id = $1 RETURNING webhook_secret_previous_until AS "previousUntil"`,
    [merchantId, secret, until],
  );
  return rows[0]!;
}

/** Whether a send among `sendIds` is paused or cancelled: its claimed work stops going out. */
export async function haltedSends(db: Queryable, sendIds: string[]): Promise<boolean> {
  const { rows } = await db.query({
    name: 'notifications-halted-sends',
    text: `SELECT 1 FROM notification_sends WHERE id = ANY($1::uuid[]) AND status <> 'sending' LIMIT 1`,
    values: [sendIds],
  });
  return rows.length > 0;
}

/**
 * The sends among `sendIds` that are sending again, locked against a concurrent resume: a resume
 * either committed before (and this worker re-queues what it gives back) or waits for this
 * transaction (and then finds what was given back).
 */
export async function sendingSendsLocked(db: Queryable, sendIds: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM notification_sends WHERE id = ANY($1::uuid[]) AND status = 'sending' FOR SHARE`,
    [sendIds],
  );
  return rows.map((r) => r.id);
}

/** Gives back claimed notifications that were not tried (their send was paused); resume or recovery picks them up. */
export async function releaseClaim(
  db: Queryable,
  token: string,
  ids: string[],
): Promise<{ id: string; sendId: string | null; status: string }[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string; sendId: string | null; status: string }>(
    `UPDATE notifications n
        SET claim_token = NULL, claimed_at = NULL, next_attempt_at = now(),
            status = CASE WHEN EXISTS (SELECT 1 FROM notification_sends s WHERE s.id = n.send_id AND s.status = 'cancelled')
                          THEN 'cancelled' ELSE n.status END
      WHERE n.id = ANY($1::uuid[]) AND n.claim_token = $2 AND n.status = 'sending'
      RETURNING n.id, n.send_id AS "sendId", n.status`,
    [ids, token],
  );
  return rows;
}
