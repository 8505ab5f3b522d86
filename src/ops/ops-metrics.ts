import { CRITICAL_METRICS, stateOf, type Threshold } from './thresholds.ts';

// The monitor, the API's overview and the alert evaluator read the same numbers: Prometheus text
// from /metrics (the request counters and histogram, and the gauges the API computes from the
// database and the host), turned into the critical-metrics table by deltas between two snapshots.

export const GAUGES = {
  dbPool: 'swipesavvy_db_pool_usage_ratio',
  cpu: 'swipesavvy_host_cpu_usage_ratio',
  memory: 'swipesavvy_host_memory_usage_ratio',
  queue: 'swipesavvy_notification_queue_depth',
  delivery: 'swipesavvy_notification_delivery_rate',
  replicationLag: 'swipesavvy_replication_lag_seconds',
} as const;

export const REQUESTS = 'swipesavvy_http_requests_total';
export const DURATION = 'swipesavvy_http_request_duration_seconds';
/** scrapes are not traffic: they would dilute the error rate and the latency */
export const NOT_TRAFFIC = ['/metrics'];

type Sample = { name: string; labels: Record<string, string>; value: number };

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

export type Snapshot = {
  at: number;
  requests: number;
  errors: number;
  /** cumulative request count per histogram upper bound */
  buckets: Map<number, number>;
  gauges: Record<string, number | undefined>;
};

export function snapshotOf(text: string, at = Date.now()): Snapshot {
  const snap: Snapshot = { at, requests: 0, errors: 0, buckets: new Map(), gauges: {} };
  const maxOf: Record<string, number> = {};
  for (const s of parsePrometheus(text)) {
    if (NOT_TRAFFIC.includes(s.labels['route'] ?? '')) continue;
    if (s.name === REQUESTS) {
      snap.requests += s.value;
      if (Number(s.labels['status_code']) >= 500) snap.errors += s.value;
    } else if (s.name === `${DURATION}_bucket`) {
      const le = s.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels['le']);
      snap.buckets.set(le, (snap.buckets.get(le) ?? 0) + s.value);
    } else if ((Object.values(GAUGES) as string[]).includes(s.name) && Number.isFinite(s.value)) {
      maxOf[s.name] = Math.max(maxOf[s.name] ?? Number.NEGATIVE_INFINITY, s.value);
    }
  }
  snap.gauges = maxOf;
  return snap;
}

export const EMPTY_SNAPSHOT: Snapshot = { at: 0, requests: 0, errors: 0, buckets: new Map(), gauges: {} };

/** Prometheus's histogram_quantile: linear interpolation inside the bucket that holds the quantile. */
export function quantileMs(buckets: Map<number, number>, q: number): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    const count = buckets.get(b)!;
    if (count >= rank) {
      if (b === Number.POSITIVE_INFINITY) return prevBound * 1000;
      const inBucket = count - prevCount;
      const frac = inBucket === 0 ? 0 : (rank - prevCount) / inBucket;
      return (prevBound + (b - prevBound) * frac) * 1000;
    }
    prevBound = b;
    prevCount = count;
  }
  return prevBound * 1000;
}

export type MetricValue = {
  key: string;
  label: string;
  target: string;
  value: number | null;
  unit: Threshold['unit'];
  state: 'green' | 'yellow' | 'red' | 'unknown';
};

export function formatValue(unit: Threshold['unit'], v: number | null): string {
  if (v === null) return 'n/a';
  if (unit === 'ratio') return `${(v * 100).toFixed(v < 0.01 ? 2 : 1)}%`;
  if (unit === 'ms') return `${Math.round(v)}ms`;
  if (unit === 'seconds') return `${v.toFixed(1)}s`;
  return String(Math.round(v));
}

export function targetOf(t: Threshold): string {
  return `${t.direction === 'below' ? '<' : '>'} ${formatValue(t.unit, t.green)}`;
}

/** The critical-metrics table from two snapshots: rates and p99 over the interval between them. */
export function criticalMetrics(base: Snapshot, current: Snapshot): MetricValue[] {
  const requests = current.requests - base.requests;
  const errors = current.errors - base.errors;
  const deltaBuckets = new Map<number, number>();
  for (const [le, n] of current.buckets) deltaBuckets.set(le, n - (base.buckets.get(le) ?? 0));
  const values: Record<string, number | null> = {
    error_rate: requests > 0 ? errors / requests : null,
    p99_latency: quantileMs(deltaBuckets, 0.99),
    db_pool_usage: current.gauges[GAUGES.dbPool] ?? null,
    cpu_usage: current.gauges[GAUGES.cpu] ?? null,
    memory_usage: current.gauges[GAUGES.memory] ?? null,
    notification_queue: current.gauges[GAUGES.queue] ?? null,
    replication_lag: current.gauges[GAUGES.replicationLag] ?? null,
    notification_delivery_rate: current.gauges[GAUGES.delivery] ?? null,
  };
  return CRITICAL_METRICS.map((t) => {
    const value = values[t.key] ?? null;
    return {
      key: t.key,
      label: t.label,
      target: targetOf(t),
      value,
      unit: t.unit,
      state: value === null ? 'unknown' : stateOf(t, value),
    };
  });
}

/** Keeps recent snapshots so a caller can ask for the rates over a window. */
export function createSampler(source: () => Promise<string>, keepMs = 10 * 60_000) {
  const ring: Snapshot[] = [];
  return {
    async sample(windowMs: number): Promise<{ base: Snapshot; current: Snapshot }> {
      const current = snapshotOf(await source());
      while (ring.length > 0 && ring[0]!.at < current.at - keepMs) ring.shift();
      const inWindow = ring.find((s) => s.at >= current.at - windowMs);
      const base = inWindow ?? ring.at(-1) ?? EMPTY_SNAPSHOT;
      ring.push(current);
      return { base, current };
    },
  };
}
