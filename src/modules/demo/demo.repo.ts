import type { Queryable } from '../../platform/db.ts';

export async function demoMerchantIds(
  db: Queryable,
  ownerEmail: string,
  networkNames: string[],
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT merchant_id AS id FROM users WHERE email = $1
     UNION
     SELECT m.id FROM merchants m
      WHERE m.name = ANY($2::text[]) AND NOT EXISTS (SELECT 1 FROM users u WHERE u.merchant_id = m.id)`,
    [ownerEmail, networkNames],
  );
  return rows.map((r) => r.id);
}

export async function deleteMerchants(db: Queryable, ids: string[]): Promise<void> {
  await db.query('DELETE FROM merchants WHERE id = ANY($1::uuid[])', [ids]);
}

export async function insertCustomers(
  db: Queryable,
  merchantId: string,
  rows: {
    externalId: string;
    email: string;
    city: string;
    ageBand: string;
    device: string;
    tier: string;
    createdAt: Date;
  }[],
): Promise<{ id: string; externalId: string }[]> {
  const result = await db.query<{ id: string; externalId: string }>(
    `INSERT INTO customers (merchant_id, external_id, email, city, age_band, device, tier, created_at, updated_at)
     SELECT $1, x.* , x.created_at FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
       AS x(external_id, email, city, age_band, device, tier, created_at)
     RETURNING id, external_id AS "externalId"`,
    [
      merchantId,
      rows.map((r) => r.externalId),
      rows.map((r) => r.email),
      rows.map((r) => r.city),
      rows.map((r) => r.ageBand),
      rows.map((r) => r.device),
      rows.map((r) => r.tier),
      rows.map((r) => r.createdAt),
    ],
  );
  return result.rows;
}

/** A completed send whose notifications were delivered, each with its one recorded attempt. */
export async function insertDeliveredSend(
  db: Queryable,
  s: {
    merchantId: string;
    campaignId: string;
    userId: string;
    sentAt: Date;
    recipients: { customerId: string; address: string; variant: string; delivered: boolean }[];
  },
): Promise<void> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO notification_sends (merchant_id, campaign_id, status, recipients, created_by, created_at, started_at,
                                     fanned_out_at, completed_at)
     VALUES ($1, $2, 'completed', $3, $4, $5::timestamptz, $5, $5, $5::timestamptz + interval '20 minutes') RETURNING id`,
    [s.merchantId, s.campaignId, s.recipients.length, s.userId, s.sentAt],
  );
  await db.query(
    `WITH n AS (
       INSERT INTO notifications (merchant_id, kind, send_id, campaign_id, customer_id, variant, channel, recipient,
                                  status, attempts, last_error, created_at, sent_at, delivered_at, failed_at, payload)
       SELECT $1, 'campaign', $2, $3, x.customer_id, x.variant, c.channel, x.address,
              CASE WHEN x.delivered THEN 'delivered' ELSE 'failed' END, 1,
              CASE WHEN x.delivered THEN NULL ELSE '550 mailbox unavailable' END,
              $4::timestamptz, $4, CASE WHEN x.delivered THEN $4::timestamptz + interval '2 seconds' END,
              CASE WHEN x.delivered THEN NULL ELSE $4::timestamptz + interval '2 seconds' END, '{}'
         FROM unnest($5::uuid[], $6::text[], $7::text[], $8::boolean[]) AS x(customer_id, address, variant, delivered)
         JOIN campaigns c ON c.id = $3
       RETURNING id, status, created_at
     )
     INSERT INTO notification_attempts (notification_id, attempt, at, outcome, latency_ms, response_code, error)
     SELECT id, 1, created_at, CASE WHEN status = 'delivered' THEN 'delivered' ELSE 'permanent_error' END,
            40 + (random() * 200)::int, CASE WHEN status = 'delivered' THEN 250 ELSE 550 END,
            CASE WHEN status = 'delivered' THEN NULL ELSE '550 mailbox unavailable' END
       FROM n`,
    [
      s.merchantId,
      rows[0]!.id,
      s.campaignId,
      s.sentAt,
      s.recipients.map((r) => r.customerId),
      s.recipients.map((r) => r.address),
      s.recipients.map((r) => r.variant),
      s.recipients.map((r) => r.delivered),
    ],
  );
}

/** The merchant's customers outside the campaign's holdout (the rule the send audience applies). */
export async function treatedCustomers(
  db: Queryable,
  campaignId: string,
  holdoutPct: number,
): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT cu.id FROM customers cu JOIN campaigns c ON c.merchant_id = cu.merchant_id
      WHERE c.id = $1 AND swipesavvy_is_treated(cu.id, c.id, $2::numeric)`,
    [campaignId, holdoutPct],
  );
  return new Set(rows.map((r) => r.id));
}
