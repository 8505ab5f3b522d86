import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DURATION, GAUGES, NOT_TRAFFIC, REQUESTS } from './ops-metrics.ts';
import {
  ALERT_RULES,
  CRITICAL_METRICS,
  ESCALATION,
  MONITOR,
  ROLLBACK_TRIGGERS,
  type Threshold,
} from './thresholds.ts';

// Prometheus alert rules and a Grafana dashboard, generated from the thresholds table so that the
// monitor, the in-process evaluator and the external monitoring stack judge by the same numbers.

const traffic = `route!~"${NOT_TRAFFIC.join('|')}"`;
const win = `${MONITOR.windowSeconds}s`;

/** The PromQL of each critical metric, in the table's own unit (ms for latency, 0..1 for ratios). */
export const METRIC_QUERIES: Record<string, string> = {
  error_rate: `sum(rate(${REQUESTS}{${traffic},status_code=~"5.."}[${win}])) / clamp_min(sum(rate(${REQUESTS}{${traffic}}[${win}])), 1e-9)`,
  p99_latency: `1000 * histogram_quantile(0.99, sum by (le) (rate(${DURATION}_bucket{${traffic}}[${win}])))`,
  db_pool_usage: `max(${GAUGES.dbPool})`,
  cpu_usage: `max(${GAUGES.cpu})`,
  memory_usage: `max(${GAUGES.memory})`,
  notification_queue: `max(${GAUGES.queue})`,
  replication_lag: `max(${GAUGES.replicationLag})`,
  notification_delivery_rate: `min(${GAUGES.delivery})`,
};

const duration = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`);
const camel = (key: string) => key.replace(/(^|_)(\w)/g, (_m, _s, c: string) => c.toUpperCase());

type Rule = {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};

export function alertRules(): { groups: { name: string; rules: Rule[] }[] } {
  const metric = (key: string) => CRITICAL_METRICS.find((m) => m.key === key)!;
  const compare = (t: Threshold, limit: number) =>
    `${METRIC_QUERIES[t.key]} ${t.direction === 'below' ? '>' : '<'} ${limit}`;
  const red: Rule[] = ALERT_RULES.map((r) => {
    const t = metric(r.metric);
    return {
      alert: `SwipeSavvy${camel(r.metric)}`,
      expr: compare(t, (r.above ?? r.below)!),
      for: duration(r.forSeconds),
      labels: { severity: 'critical', escalation_level: '1', metric: r.metric },
      annotations: { summary: `${t.label} beyond its limit`, description: t.source },
    };
  });
  const escalation: Rule[] = ESCALATION.levels
    .filter((l) => l.level > 1)
    .map((l) => ({
      alert: `SwipeSavvyErrorRateLevel${l.level}`,
      expr: compare(metric('error_rate'), ESCALATION.alertErrorRate.above),
      for: duration(ESCALATION.alertErrorRate.forSeconds + l.afterSeconds),
      labels: {
        severity: l.level === 3 ? 'page-all' : 'page',
        escalation_level: String(l.level),
        metric: 'error_rate',
      },
      annotations: {
        summary: `Error rate alert unresolved: ${l.action}`,
        description: 'coordinator guide: alert escalation',
      },
    }));
  const warnings: Rule[] = CRITICAL_METRICS.map((t) => ({
    alert: `SwipeSavvy${camel(t.key)}Degraded`,
    expr: compare(t, t.green),
    for: duration(MONITOR.windowSeconds * 5),
    labels: { severity: 'warning', metric: t.key },
    annotations: { summary: `${t.label} off target (🟡)`, description: t.source },
  }));
  const rollback: Rule[] = [
    {
      alert: 'SwipeSavvyRollbackErrorRate',
      expr: `${METRIC_QUERIES['error_rate']} > ${ROLLBACK_TRIGGERS.errorRate.above}`,
      for: duration(ROLLBACK_TRIGGERS.errorRate.forSeconds),
      labels: { severity: 'critical', action: 'rollback', metric: 'error_rate' },
      annotations: {
        summary: 'Rollback trigger: error rate',
        description: 'execution guide: rollback triggers',
      },
    },
    {
      alert: 'SwipeSavvyRollbackResponseTime',
      expr: `${METRIC_QUERIES['p99_latency']} > ${ROLLBACK_TRIGGERS.responseTimeMs.above}`,
      for: duration(ROLLBACK_TRIGGERS.responseTimeMs.forSeconds),
      labels: { severity: 'critical', action: 'rollback', metric: 'p99_latency' },
      annotations: {
        summary: 'Rollback trigger: response time',
        description: 'execution guide: rollback triggers',
      },
    },
    {
      alert: 'SwipeSavvyRollbackNotificationFailures',
      expr: `${METRIC_QUERIES['notification_delivery_rate']} < ${1 - ROLLBACK_TRIGGERS.notificationFailure.above}`,
      for: duration(MONITOR.windowSeconds),
      labels: { severity: 'critical', action: 'rollback', metric: 'notification_delivery_rate' },
      annotations: {
        summary: 'Rollback trigger: notification delivery failures',
        description: 'execution guide: rollback triggers',
      },
    },
  ];
  return {
    groups: [
      { name: 'swipesavvy-critical', rules: [...red, ...escalation] },
      { name: 'swipesavvy-rollback-triggers', rules: rollback },
      { name: 'swipesavvy-targets', rules: warnings },
    ],
  };
}

// Grafana's variable syntax, resolved by Grafana when the dashboard is imported
const DATASOURCE = { type: 'prometheus', uid: ['$', '{datasource}'].join('') };

const GRAFANA_UNIT: Record<Threshold['unit'], string> = {
  ratio: 'percentunit',
  ms: 'ms',
  count: 'short',
  seconds: 's',
};

function steps(t: Threshold) {
  return t.direction === 'below'
    ? [
        { color: 'green', value: null },
        { color: 'yellow', value: t.green },
        { color: 'red', value: t.yellow },
      ]
    : [
        { color: 'red', value: null },
        { color: 'yellow', value: t.yellow },
        { color: 'green', value: t.green },
      ];
}

export function grafanaDashboard() {
  const panels = CRITICAL_METRICS.flatMap((t, i) => {
    const fieldConfig = {
      defaults: { unit: GRAFANA_UNIT[t.unit], thresholds: { mode: 'absolute', steps: steps(t) } },
      overrides: [],
    };
    const targets = [{ refId: 'A', expr: METRIC_QUERIES[t.key], legendFormat: t.label }];
    const y = i * 6;
    return [
      {
        id: i * 2 + 1,
        type: 'stat',
        title: `${t.label} (target ${t.direction === 'below' ? '<' : '>'} ${t.green})`,
        description: t.source,
        gridPos: { x: 0, y, w: 6, h: 6 },
        datasource: DATASOURCE,
        targets,
        fieldConfig,
        options: { colorMode: 'background', reduceOptions: { calcs: ['lastNotNull'] } },
      },
      {
        id: i * 2 + 2,
        type: 'timeseries',
        title: t.label,
        gridPos: { x: 6, y, w: 18, h: 6 },
        datasource: DATASOURCE,
        targets,
        fieldConfig: {
          ...fieldConfig,
          defaults: { ...fieldConfig.defaults, custom: { thresholdsStyle: { mode: 'line+area' } } },
        },
      },
    ];
  });
  return {
    uid: 'swipesavvy-critical',
    title: 'SwipeSavvy — critical metrics',
    tags: ['swipesavvy', 'go-live'],
    schemaVersion: 39,
    refresh: `${MONITOR.refreshSeconds}s`,
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }],
    },
    panels,
  };
}

/** Writes both files; the YAML is parsed back so a broken file is never left behind. */
export function renderOps(outDir: string): {
  rulesFile: string;
  dashboardFile: string;
  rules: number;
  panels: number;
} {
  mkdirSync(outDir, { recursive: true });
  const rules = alertRules();
  const text = `# Generated by \`swipesavvy ops render\` from src/ops/thresholds.ts — do not edit by hand.\n${YAML.stringify(rules, { lineWidth: 0 })}`;
  const back = YAML.parse(text) as ReturnType<typeof alertRules>;
  if (JSON.stringify(back) !== JSON.stringify(rules))
    throw new Error('the rendered alert rules do not parse back to themselves');
  const rulesFile = path.join(outDir, 'swipesavvy-alerts.rules.yml');
  const dashboardFile = path.join(outDir, 'swipesavvy-dashboard.json');
  writeFileSync(rulesFile, text);
  const dashboard = grafanaDashboard();
  writeFileSync(dashboardFile, `${JSON.stringify(dashboard, null, 2)}\n`);
  return {
    rulesFile,
    dashboardFile,
    rules: rules.groups.reduce((s, g) => s + g.rules.length, 0),
    panels: dashboard.panels.length,
  };
}
