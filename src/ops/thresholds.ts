// The runbooks' thresholds, in one table. The canary gate, the monitor, the alert rules, the
// Grafana dashboard and the dashboard's operations page all read this table; nothing else
// states a threshold.

export type Direction = 'below' | 'above';

export type Threshold = {
  key: string;
  label: string;
  unit: 'ratio' | 'ms' | 'count' | 'seconds';
  /** 'below': good while the value stays under `green`; 'above': good while over it */
  direction: Direction;
  /** 🟢 up to here */
  green: number;
  /** 🟡 up to here, 🔴 beyond */
  yellow: number;
  /** where the runbook says it */
  source: string;
};

/** The "critical metrics" of the first hour (execution guide) and the full-rollout watch list. */
export const CRITICAL_METRICS: Threshold[] = [
  {
    key: 'error_rate',
    label: 'API Error Rate',
    unit: 'ratio',
    direction: 'below',
    green: 0.001,
    yellow: 0.005,
    source: 'execution guide: error rate < 0.1 % (🟡 0.1–0.5 %, 🔴 > 0.5 %)',
  },
  {
    key: 'p99_latency',
    label: 'P99 Response Time',
    unit: 'ms',
    direction: 'below',
    green: 200,
    yellow: 300,
    source: 'execution guide: p99 < 200 ms (🟡 200–300 ms, 🔴 > 300 ms)',
  },
  {
    key: 'db_pool_usage',
    label: 'Database Connections',
    unit: 'ratio',
    direction: 'below',
    green: 0.5,
    yellow: 0.8,
    source: 'execution guide: pool < 50 % (🟡 50–80 %, 🔴 > 80 %)',
  },
  {
    key: 'cpu_usage',
    label: 'CPU Usage',
    unit: 'ratio',
    direction: 'below',
    green: 0.6,
    yellow: 0.8,
    source: 'execution guide: CPU < 60 %; coordinator guide: alert > 80 %',
  },
  {
    key: 'memory_usage',
    label: 'Memory Usage',
    unit: 'ratio',
    direction: 'below',
    green: 0.7,
    yellow: 0.85,
    source: 'execution guide: memory < 70 %; coordinator guide: alert > 85 %',
  },
  {
    key: 'notification_queue',
    label: 'Notification Queue',
    unit: 'count',
    direction: 'below',
    green: 1000,
    yellow: 5000,
    source: 'execution guide: queue < 1000 (🟡 1000–5000, 🔴 > 5000)',
  },
  {
    key: 'replication_lag',
    label: 'Database Replication Lag',
    unit: 'seconds',
    direction: 'below',
    green: 1,
    yellow: 5,
    source: 'execution guide: lag < 1 s',
  },
  {
    key: 'notification_delivery_rate',
    label: 'Notification Delivery Rate',
    unit: 'ratio',
    direction: 'above',
    green: 0.99,
    yellow: 0.9,
    source: 'execution guide: delivery > 99 %; rollback trigger: failure > 10 %',
  },
];

/** The canary gate (execution guide, phase 2): pass and fail limits for the canary version. */
export const CANARY = {
  passErrorRate: 0.005,
  failErrorRate: 0.01,
  passP99Ms: 300,
  failP99Ms: 500,
  /** the statistical tests' confidence for "canary is worse than stable" */
  confidence: 0.95,
  /** fewer requests than this on the canary and the verdict is "inconclusive", never a pass */
  minRequests: 50,
} as const;

/**
 * The canary analysis beyond the runbook's fixed limits (issue 5): the latency shift the
 * Mann-Whitney test must also show before it fails a canary (a significant 1 ms shift is noise
 * on a busy host), and the RSS growth over the window that counts as a leak.
 */
export const CANARY_ANALYSIS = {
  minLatencyShiftMs: 20,
  maxMemoryGrowth: 0.25,
  /** how often the instances' process metrics are sampled during the window */
  sampleIntervalMs: 1000,
} as const;

/** Go/no-go (deployment coordinator guide, phase 2): the roles that must sign off before a deploy. */
export const GO_NO_GO = {
  requiredRoles: ['infrastructure', 'database', 'backend', 'frontend', 'security', 'operations'],
  /** the final decision authority; a go-live records them when given, the leads' sign-offs gate it */
  decisionRoles: ['cto', 'vp-engineering'],
} as const;

/** Rollback triggers (execution guide): sustained breaches that roll back without a human. */
export const ROLLBACK_TRIGGERS = {
  errorRate: { above: 0.02, forSeconds: 5 * 60 },
  responseTimeMs: { above: 500, forSeconds: 10 * 60 },
  dbConnectionFailures: { above: 0.1 },
  notificationFailure: { above: 0.1 },
} as const;

/** Alert escalation (coordinator guide): levels after an alert opens, stopped by acknowledgement. */
export const ESCALATION = {
  alertErrorRate: { above: 0.005, forSeconds: 60 },
  levels: [
    { level: 1, afterSeconds: 0, action: 'log and post to the alerts channel' },
    { level: 2, afterSeconds: 5 * 60, action: 'page the on-call engineer' },
    { level: 3, afterSeconds: 10 * 60, action: 'conference call with the CTO; rollback decision' },
  ],
} as const;

export type State = 'green' | 'yellow' | 'red';

export function stateOf(t: Threshold, value: number): State {
  if (t.direction === 'below') return value < t.green ? 'green' : value <= t.yellow ? 'yellow' : 'red';
  return value > t.green ? 'green' : value >= t.yellow ? 'yellow' : 'red';
}

/** Alert rules (coordinator guide, "Monitoring & Alerting"): a breach must last `forSeconds` to open an incident. */
export const ALERT_RULES: {
  key: string;
  metric: string;
  above?: number;
  below?: number;
  forSeconds: number;
}[] = [
  {
    key: 'error_rate',
    metric: 'error_rate',
    above: ESCALATION.alertErrorRate.above,
    forSeconds: ESCALATION.alertErrorRate.forSeconds,
  },
  ...CRITICAL_METRICS.filter((m) => m.key !== 'error_rate').map((m) =>
    m.direction === 'below'
      ? {
          key: `${m.key}_red`,
          metric: m.key,
          above: m.yellow,
          forSeconds: ESCALATION.alertErrorRate.forSeconds,
        }
      : {
          key: `${m.key}_red`,
          metric: m.key,
          below: m.yellow,
          forSeconds: ESCALATION.alertErrorRate.forSeconds,
        },
  ),
];

/** Pre-deployment check limits (execution guide checklist and coordinator guide infrastructure metrics). */
export const PREFLIGHT = {
  /** "Check disk space (> 100GB available)": below is a warning, below `diskFreeFailBytes` a failure */
  diskFreeWarnBytes: 100 * 1024 ** 3,
  diskFreeFailBytes: 1024 ** 3,
  /** coordinator guide: disk usage alert > 90 % */
  diskUsageFail: 0.9,
  /** coordinator guide: memory alert > 85 %, CPU alert > 80 % */
  memoryUsageFail: 0.85,
  loadPerCoreWarn: 0.8,
  loadPerCoreFail: 2,
  /** clock skew between this host and the database */
  clockSkewWarnSeconds: 1,
  clockSkewFailSeconds: 5,
  /** "SSL certificate expiration > 30 days" */
  tlsMinDays: 30,
  /** "Restore last backup if needed (< 5 minutes)": a drill slower than this is a warning */
  restoreDrillMaxSeconds: 5 * 60,
  /** pool headroom: the server's free connections must cover this many API pools */
  poolInstances: 2,
  /** transactions open longer than this block migrations */
  longTransactionSeconds: 5 * 60,
} as const;

/** The live table: "Priority Monitoring (10-second refresh)"; rates over the coordinator guide's 1-minute interval. */
export const MONITOR = { refreshSeconds: 10, windowSeconds: 60 } as const;
