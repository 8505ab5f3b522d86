import type { PoolClient } from 'pg';
import { criticalMetrics, formatValue, type MetricValue, type Snapshot } from '../../ops/ops-metrics.ts';
import { ALERT_RULES, CRITICAL_METRICS, ESCALATION } from '../../ops/thresholds.ts';
import type { Config } from '../../platform/config.ts';
import type { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import {
  acknowledge,
  addEvent,
  clearPending,
  escalateTo,
  getIncident,
  type Incident,
  openIncident,
  openIncidentOf,
  openUnacknowledged,
  pendingSince,
  resolve,
  updateValue,
} from './incidents.repo.ts';

export type AlertEvent =
  | 'incident.opened'
  | 'incident.escalated'
  | 'incident.acknowledged'
  | 'incident.resolved';

type Sink = { name: 'webhook' | 'slack' | 'page'; url: string };

const LEVEL_ICON = ['', '🟡', '🟠', '🔴'];

/** The sinks a level reaches: the chat channel always; the pager from level 2 (the runbook's "page"). */
function sinksFor(config: Config, level: number): Sink[] {
  const sinks: Sink[] = [];
  if (config.alertWebhookUrl) sinks.push({ name: 'webhook', url: config.alertWebhookUrl });
  if (config.alertSlackUrl) sinks.push({ name: 'slack', url: config.alertSlackUrl });
  if (level >= 2 && config.alertPageUrl) sinks.push({ name: 'page', url: config.alertPageUrl });
  return sinks;
}

function describe(i: Incident): string {
  const rule = ALERT_RULES.find((r) => r.key === i.rule);
  const unit = CRITICAL_METRICS.find((m) => m.key === rule?.metric)?.unit ?? 'count';
  return `${i.title}: ${formatValue(unit, i.value)} (limit ${formatValue(unit, i.threshold)})`;
}

function messageText(event: AlertEvent, level: number, incidents: Incident[], by?: string): string {
  const action = ESCALATION.levels.find((l) => l.level === level)?.action ?? '';
  const list = incidents.map((i) => `• ${describe(i)}`).join('\n');
  switch (event) {
    case 'incident.opened':
      return `${LEVEL_ICON[level]} ALERT (level ${level}: ${action})\n${list}`;
    case 'incident.escalated':
      return `${LEVEL_ICON[level]} ESCALATED to level ${level}: ${action}\n${list}`;
    case 'incident.acknowledged':
      return `👀 Acknowledged by ${by}: escalation stopped\n${list}`;
    case 'incident.resolved':
      return `✅ RESOLVED${by ? ` by ${by}` : ''}\n${list}`;
  }
}

/**
 * Posts one message for a group of incidents to every sink of the level: grouping means a cause
 * that trips at once is one message, not one per metric. A failing sink is recorded, never thrown.
 */
async function notify(
  db: Db,
  config: Config,
  event: AlertEvent,
  level: number,
  incidents: Incident[],
  by?: string,
): Promise<void> {
  if (incidents.length === 0) return;
  const text = messageText(event, level, incidents, by);
  const action = ESCALATION.levels.find((l) => l.level === level)?.action ?? '';
  for (const sink of sinksFor(config, level)) {
    const body =
      sink.name === 'slack'
        ? { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] }
        : {
            event,
            level,
            action,
            text,
            acknowledgedBy: by,
            incidents: incidents.map((i) => ({
              id: i.id,
              rule: i.rule,
              title: i.title,
              status: i.status,
              level: i.level,
              value: i.value,
              threshold: i.threshold,
              openedAt: i.openedAt,
            })),
          };
    let outcome: { ok: boolean; detail: string };
    try {
      const res = await fetch(sink.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(config.webhookTimeoutMs),
      });
      await res.arrayBuffer();
      outcome = { ok: res.ok, detail: `HTTP ${res.status}` };
    } catch (error) {
      outcome = { ok: false, detail: (error as Error).message };
    }
    for (const i of incidents) {
      await addEvent(db, i.id, {
        kind: outcome.ok ? 'notified' : 'notify_failed',
        level,
        message: `${event} → ${sink.name}: ${outcome.detail}`,
        details: { sink: sink.name, event },
      });
    }
  }
}

export type TickResult = {
  at: Date;
  metrics: MetricValue[];
  opened: Incident[];
  escalated: Incident[];
  resolved: Incident[];
};

/**
 * One evaluation: each rule's breach must last its window (scaled by ALERT_TIME_SCALE) to open an
 * incident; an open, unacknowledged incident climbs the escalation levels with its age; a rule back
 * within its limit resolves its incident.
 */
export async function evaluateAlerts(
  db: Db,
  config: Config,
  base: Snapshot,
  current: Snapshot,
  now = new Date(),
): Promise<TickResult> {
  const scale = config.alertTimeScale;
  const metrics = criticalMetrics(base, current);
  const value = (key: string) => metrics.find((m) => m.key === key)?.value ?? null;
  const opened: Incident[] = [];
  const resolved: Incident[] = [];
  for (const rule of ALERT_RULES) {
    const v = value(rule.metric);
    const limit = (rule.above ?? rule.below)!;
    const breached = v !== null && (rule.above !== undefined ? v > rule.above : v < rule.below!);
    if (breached) {
      const since = await pendingSince(db, rule.key, now, v);
      const existing = await openIncidentOf(db, rule.key);
      if (existing) {
        await updateValue(db, existing.id, v);
        continue;
      }
      if (now.getTime() - new Date(since).getTime() < rule.forSeconds * scale * 1000) continue;
      const label = CRITICAL_METRICS.find((m) => m.key === rule.metric)?.label ?? rule.metric;
      const incident = await openIncident(db, {
        rule: rule.key,
        groupKey: rule.key,
        title: `${label} ${rule.above !== undefined ? 'above' : 'below'} its limit for ${Math.round(rule.forSeconds * scale)} s`,
        value: v,
        threshold: limit,
        at: now,
      });
      if (incident) {
        await addEvent(db, incident.id, { kind: 'opened', level: 1, message: describe(incident), at: now });
        opened.push(incident);
      }
    } else if (v !== null) {
      await clearPending(db, rule.key);
      const existing = await openIncidentOf(db, rule.key);
      if (existing) {
        const done = await resolve(db, existing.id, 'alert evaluator', now);
        if (done) {
          const unit = CRITICAL_METRICS.find((m) => m.key === rule.metric)?.unit ?? 'count';
          await addEvent(db, done.id, {
            kind: 'resolved',
            message: `back within the limit (${formatValue(unit, v)})`,
            at: now,
          });
          resolved.push(done);
        }
      }
    }
  }
  const escalated: Incident[] = [];
  for (const i of await openUnacknowledged(db)) {
    const age = (now.getTime() - new Date(i.openedAt).getTime()) / 1000;
    const due = ESCALATION.levels.filter((l) => age >= l.afterSeconds * scale).at(-1)?.level ?? 1;
    if (due > i.level) {
      const up = await escalateTo(db, i.id, due);
      if (up) {
        await addEvent(db, up.id, {
          kind: 'escalated',
          level: due,
          message: `unresolved for ${Math.round(age)} s`,
          at: now,
        });
        escalated.push(up);
      }
    }
  }
  await notify(db, config, 'incident.opened', 1, opened);
  for (const level of new Set(escalated.map((i) => i.level))) {
    await notify(
      db,
      config,
      'incident.escalated',
      level,
      escalated.filter((i) => i.level === level),
    );
  }
  await notify(db, config, 'incident.resolved', 1, resolved);
  return { at: now, metrics, opened, escalated, resolved };
}

export async function acknowledgeIncident(db: Db, config: Config, id: string, by: string): Promise<Incident> {
  const current = await getIncident(db, id);
  if (!current) throw new AppError('INCIDENT_NOT_FOUND', 'No such incident');
  const done = await acknowledge(db, id, by, new Date());
  if (!done)
    throw new AppError(
      'INCIDENT_STATE',
      `The incident is ${current.status}; only an open incident can be acknowledged`,
    );
  await addEvent(db, id, { kind: 'acknowledged', level: done.level, message: `acknowledged by ${by}` });
  await notify(db, config, 'incident.acknowledged', done.level, [done], by);
  return done;
}

export async function resolveIncident(db: Db, config: Config, id: string, by: string): Promise<Incident> {
  const current = await getIncident(db, id);
  if (!current) throw new AppError('INCIDENT_NOT_FOUND', 'No such incident');
  const done = await resolve(db, id, by, new Date());
  if (!done) throw new AppError('INCIDENT_STATE', 'The incident is already resolved');
  await addEvent(db, id, { kind: 'resolved', message: `resolved by ${by}` });
  await notify(db, config, 'incident.resolved', done.level, [done], by);
  return done;
}

/** The advisory lock held by the one API process that evaluates alerts (see startAlertEvaluator). */
export const ALERT_LEADER_LOCK_ID = 7_412_2026;

/**
 * Runs the evaluator every ALERTS_INTERVAL_SECONDS, one tick at a time, in one API process of all
 * those sharing the database: each tick first makes sure this process holds the leader lock (a
 * session advisory lock on a connection it keeps); a process that does not hold it skips the tick.
 * Incidents are global, so two evaluators judging from their own traffic would open and resolve the
 * same incident in turn. When the leader stops or its connection drops, the lock is released and the
 * next process to tick takes over. Network-wide rates belong to Prometheus (`swipesavvy ops render`).
 */
export function startAlertEvaluator(
  db: Db,
  config: Config,
  sample: (windowMs: number) => Promise<{ base: Snapshot; current: Snapshot }>,
  onError: (error: Error) => void,
  onTick?: (r: TickResult) => void,
): { stop(): Promise<void>; isLeader(): boolean } {
  const intervalMs = config.alertsIntervalSeconds * 1000;
  let running: Promise<void> | undefined;
  let stopped = false;
  let leader: PoolClient | undefined;

  // a connection that may still hold the lock is closed, not returned to the pool
  const dropLeader = (destroy: Error | boolean) => {
    leader?.release(destroy);
    leader = undefined;
  };
  async function lead(): Promise<boolean> {
    if (leader) {
      // the lock lives as long as this connection: check that it still does
      try {
        await leader.query('SELECT 1');
        return true;
      } catch (error) {
        dropLeader(error as Error);
        return false;
      }
    }
    const client = await db.connect();
    client.on('error', () => {}); // a dropped connection surfaces on the next tick's check
    try {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        ALERT_LEADER_LOCK_ID,
      ]);
      if (rows[0]?.ok) {
        leader = client;
        return true;
      }
      client.release();
      return false;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  const timer = setInterval(() => {
    if (running || stopped) return;
    running = (async () => {
      if (!(await lead())) return;
      const { base, current } = await sample(intervalMs * 1.5);
      const r = await evaluateAlerts(db, config, base, current);
      onTick?.(r);
    })()
      .catch((e: Error) => onError(e))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    isLeader: () => leader !== undefined,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      if (leader) {
        const unlocked = await leader.query('SELECT pg_advisory_unlock($1)', [ALERT_LEADER_LOCK_ID]).then(
          () => true,
          () => false,
        );
        dropLeader(!unlocked);
      }
    },
  };
}
