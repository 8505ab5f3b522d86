import type { Queryable } from '../../platform/db.ts';

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export type Incident = {
  id: string;
  rule: string;
  groupKey: string;
  title: string;
  status: IncidentStatus;
  level: number;
  value: number | null;
  threshold: number | null;
  openedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
};

export type IncidentEvent = {
  at: Date;
  kind: string;
  level: number | null;
  message: string;
  details: Record<string, unknown>;
};

const COLUMNS = `id, rule, group_key AS "groupKey", title, status, level, value, threshold, opened_at AS "openedAt",
  acknowledged_at AS "acknowledgedAt", acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy"`;

export async function pendingSince(db: Queryable, rule: string, now: Date, value: number): Promise<Date> {
  const { rows } = await db.query<{ since: Date }>(
    `INSERT INTO alert_pending (rule, since, value) VALUES ($1, $2, $3)
     ON CONFLICT (rule) DO UPDATE SET value = EXCLUDED.value RETURNING since`,
    [rule, now, value],
  );
  return rows[0]!.since;
}

export async function clearPending(db: Queryable, rule: string): Promise<void> {
  await db.query('DELETE FROM alert_pending WHERE rule = $1', [rule]);
}

export async function openIncidentOf(db: Queryable, groupKey: string): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `SELECT ${COLUMNS} FROM incidents WHERE group_key = $1 AND status <> 'resolved'`,
    [groupKey],
  );
  return rows[0];
}

/** Opens an incident unless its group already has one (the unique index decides between replicas). */
export async function openIncident(
  db: Queryable,
  i: { rule: string; groupKey: string; title: string; value: number; threshold: number; at: Date },
): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `INSERT INTO incidents (rule, group_key, title, value, threshold, opened_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (group_key) WHERE status <> 'resolved' DO NOTHING RETURNING ${COLUMNS}`,
    [i.rule, i.groupKey, i.title, i.value, i.threshold, i.at],
  );
  return rows[0];
}

export async function updateValue(db: Queryable, id: string, value: number): Promise<void> {
  await db.query('UPDATE incidents SET value = $2 WHERE id = $1', [id, value]);
}

export async function escalateTo(db: Queryable, id: string, level: number): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `UPDATE incidents SET level = $2 WHERE id = $1 AND status = 'open' AND level < $2 RETURNING ${COLUMNS}`,
    [id, level],
  );
  return rows[0];
}

export async function openUnacknowledged(db: Queryable): Promise<Incident[]> {
  const { rows } = await db.query<Incident>(
    `SELECT ${COLUMNS} FROM incidents WHERE status = 'open' ORDER BY opened_at`,
  );
  return rows;
}

export async function acknowledge(
  db: Queryable,
  id: string,
  by: string,
  at: Date,
): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `UPDATE incidents SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2
      WHERE id = $1 AND status = 'open' RETURNING ${COLUMNS}`,
    [id, by, at],
  );
  return rows[0];
}

export async function resolve(
  db: Queryable,
  id: string,
  by: string,
  at: Date,
): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `UPDATE incidents SET status = 'resolved', resolved_at = $3, resolved_by = $2
      WHERE id = $1 AND status <> 'resolved' RETURNING ${COLUMNS}`,
    [id, by, at],
  );
  return rows[0];
}

export async function getIncident(db: Queryable, id: string): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(`SELECT ${COLUMNS} FROM incidents WHERE id = $1`, [id]);
  return rows[0];
}

export async function listIncidents(
  db: Queryable,
  options: { status?: IncidentStatus; limit: number },
): Promise<Incident[]> {
  const { rows } = await db.query<Incident>(
    `SELECT ${COLUMNS} FROM incidents WHERE ($1::text IS NULL OR status = $1)
      ORDER BY (status = 'resolved'), opened_at DESC LIMIT $2`,
    [options.status ?? null, options.limit],
  );
  return rows;
}

export async function addEvent(
  db: Queryable,
  incidentId: string,
  e: { kind: string; level?: number; message: string; details?: Record<string, unknown>; at?: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO incident_events (incident_id, at, kind, level, message, details)
     VALUES ($1, coalesce($2, now()), $3, $4, $5, $6)`,
    [incidentId, e.at ?? null, e.kind, e.level ?? null, e.message, JSON.stringify(e.details ?? {})],
  );
}

export async function timelines(db: Queryable, ids: string[]): Promise<Map<string, IncidentEvent[]>> {
  const { rows } = await db.query<IncidentEvent & { incidentId: string }>(
    `SELECT incident_id AS "incidentId", at, kind, level, message, details
       FROM incident_events WHERE incident_id = ANY($1) ORDER BY at, id`,
    [ids],
  );
  const map = new Map<string, IncidentEvent[]>(ids.map((id) => [id, []]));
  for (const { incidentId, ...e } of rows) map.get(incidentId)!.push(e);
  return map;
}
