import { fisherExactGreater, mannWhitneyGreater, median, quantile, slope } from '../stats.ts';
import { CANARY, CANARY_ANALYSIS } from '../thresholds.ts';
import type { Sample } from './router.ts';

// The canary verdict: the runbook's limits from the thresholds table, plus tests that hold on
// low traffic. Every metric is listed with both versions' raw values. Too little data is
// "inconclusive" — never a pass.

export type MetricStatus = 'pass' | 'fail' | 'warn' | 'inconclusive';
export type MetricVerdict = {
  key: string;
  label: string;
  stable: number | string | null;
  canary: number | string | null;
  limit: string;
  status: MetricStatus;
  detail: string;
};
export type Verdict = {
  decision: 'pass' | 'fail' | 'inconclusive';
  confidence: number;
  windowSeconds: number;
  requests: { stable: number; canary: number };
  metrics: MetricVerdict[];
  reasons: string[];
};

export type RssPoint = { at: number; bytes: number };

export type VersionData = { version: string; samples: Sample[]; rss: RssPoint[] };

const round = (n: number, d = 3) => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);
const isError = (s: Sample) => s.status >= 500;

export function memoryGrowth(points: RssPoint[]): number {
  if (points.length < 3) return Number.NaN;
  const perMs = slope(points.map((p) => ({ x: p.at, y: p.bytes })));
  const span = points.at(-1)!.at - points[0]!.at;
  return (perMs * span) / points[0]!.bytes;
}

export function analyse(
  stable: VersionData,
  canary: VersionData,
  windowSeconds: number,
  /** multiplies the latency limits (a slow staging machine), like the smoke tests' budget scale */
  latencyScale = 1,
): Verdict {
  const passP99Ms = CANARY.passP99Ms * latencyScale;
  const failP99Ms = CANARY.failP99Ms * latencyScale;
  const alpha = 1 - CANARY.confidence;
  const s = stable.samples;
  const c = canary.samples;
  const metrics: MetricVerdict[] = [];
  const enough = c.length >= CANARY.minRequests && s.length >= CANARY.minRequests;
  const pct = (n: number) => `${(n * 100).toFixed(2)} %`;

  const sErr = s.filter(isError).length;
  const cErr = c.filter(isError).length;
  const sRate = s.length ? sErr / s.length : Number.NaN;
  const cRate = c.length ? cErr / c.length : Number.NaN;
  metrics.push({
    key: 'requests',
    label: 'Requests in the window',
    stable: s.length,
    canary: c.length,
    limit: `≥ ${CANARY.minRequests} each`,
    status: enough ? 'pass' : 'inconclusive',
    detail: enough
      ? 'enough data'
      : `too little traffic for a verdict (canary ${c.length}, stable ${s.length})`,
  });
  metrics.push({
    key: 'error_rate',
    label: 'Error rate (5xx)',
    stable: round(sRate, 5),
    canary: round(cRate, 5),
    limit: `pass ≤ ${pct(CANARY.passErrorRate)}, fail ≥ ${pct(CANARY.failErrorRate)}`,
    status: !enough
      ? 'inconclusive'
      : cRate >= CANARY.failErrorRate
        ? 'fail'
        : cRate <= CANARY.passErrorRate
          ? 'pass'
          : 'warn',
    detail: `canary ${cErr}/${c.length}, stable ${sErr}/${s.length}`,
  });
  const fisher = fisherExactGreater(cErr, c.length, sErr, s.length);
  metrics.push({
    key: 'error_rate_fisher',
    label: "Fisher's exact test: canary errors > stable",
    stable: sErr,
    canary: cErr,
    limit: `fail if p < ${round(alpha, 4)} (confidence ${CANARY.confidence})`,
    status: !enough ? 'inconclusive' : fisher.p < alpha ? 'fail' : 'pass',
    detail: `one-sided p = ${fisher.p.toPrecision(4)}, odds ratio ${Number.isFinite(fisher.oddsRatio) ? fisher.oddsRatio.toFixed(2) : fisher.oddsRatio}`,
  });

  const sLat = s.map((x) => x.ms);
  const cLat = c.map((x) => x.ms);
  const sP99 = quantile(sLat, 0.99);
  const cP99 = quantile(cLat, 0.99);
  metrics.push({
    key: 'p99_latency',
    label: 'P99 latency (ms, through the router)',
    stable: round(sP99, 1),
    canary: round(cP99, 1),
    limit: `pass ≤ ${passP99Ms} ms, fail > ${failP99Ms} ms`,
    status: !enough ? 'inconclusive' : cP99 > failP99Ms ? 'fail' : cP99 <= passP99Ms ? 'pass' : 'warn',
    detail: `medians: canary ${round(median(cLat), 1)} ms, stable ${round(median(sLat), 1)} ms`,
  });
  const mw = mannWhitneyGreater(cLat, sLat);
  const shift = median(cLat) - median(sLat);
  metrics.push({
    key: 'latency_mann_whitney',
    label: 'Mann-Whitney U: canary slower than stable',
    stable: round(median(sLat), 2),
    canary: round(median(cLat), 2),
    limit: `fail if p < ${round(alpha, 4)} and the median shift > ${CANARY_ANALYSIS.minLatencyShiftMs} ms`,
    status: !enough
      ? 'inconclusive'
      : mw.p < alpha && shift > CANARY_ANALYSIS.minLatencyShiftMs
        ? 'fail'
        : 'pass',
    detail: `U = ${mw.u}, z = ${round(mw.z, 3)}, one-sided p = ${Number.isFinite(mw.p) ? mw.p.toPrecision(4) : 'n/a'}, median shift ${round(shift, 2)} ms`,
  });

  const codes = (xs: Sample[]) => new Set(xs.filter((x) => x.code && x.status >= 500).map((x) => x.code));
  const stableCodes = codes(s);
  const newCodes = [...codes(c)].filter((code) => !stableCodes.has(code));
  const clientCodes = (xs: Sample[]) =>
    new Set(xs.filter((x) => x.code && x.status < 500).map((x) => x.code));
  const sClient = clientCodes(s);
  const newClient = [...clientCodes(c)].filter((code) => !sClient.has(code));
  metrics.push({
    key: 'new_error_codes',
    label: 'Error codes the stable version does not produce',
    stable: [...stableCodes].join(', ') || '—',
    canary: [...codes(c)].join(', ') || '—',
    limit: 'no new 5xx code',
    status: newCodes.length > 0 ? 'fail' : newClient.length > 0 ? 'warn' : 'pass',
    detail:
      newCodes.length > 0
        ? `new: ${newCodes.join(', ')}`
        : newClient.length > 0
          ? `new 4xx codes (not failing): ${newClient.join(', ')}`
          : 'none',
  });

  const sGrowth = memoryGrowth(stable.rss);
  const cGrowth = memoryGrowth(canary.rss);
  metrics.push({
    key: 'memory_growth',
    label: 'RSS growth over the window (trend)',
    stable: round(sGrowth, 4),
    canary: round(cGrowth, 4),
    limit: `fail if canary > ${pct(CANARY_ANALYSIS.maxMemoryGrowth)} and above stable's`,
    status: !Number.isFinite(cGrowth)
      ? 'inconclusive'
      : cGrowth > CANARY_ANALYSIS.maxMemoryGrowth && !(cGrowth <= sGrowth)
        ? 'fail'
        : 'pass',
    detail: `${canary.rss.length} canary and ${stable.rss.length} stable samples of process_resident_memory_bytes; last canary RSS ${canary.rss.length ? Math.round(canary.rss.at(-1)!.bytes / 1_048_576) : '?'} MiB`,
  });

  const reasons = metrics.filter((m) => m.status === 'fail').map((m) => `${m.label}: ${m.detail}`);
  const inconclusive = metrics
    .filter((m) => m.status === 'inconclusive' && (m.key === 'requests' || enough))
    .map((m) => `${m.label}: ${m.detail}`);
  const decision = reasons.length > 0 ? 'fail' : inconclusive.length > 0 ? 'inconclusive' : 'pass';
  return {
    decision,
    confidence: CANARY.confidence,
    windowSeconds,
    requests: { stable: s.length, canary: c.length },
    metrics,
    reasons: decision === 'inconclusive' ? inconclusive : reasons,
  };
}

/** Reads process_resident_memory_bytes from an instance's /metrics. */
export async function residentMemory(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    const m = /^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function formatVerdict(v: Verdict): string[] {
  const lines = [
    `${'metric'.padEnd(46)} ${'stable'.padStart(14)} ${'canary'.padStart(14)}  status  limit / detail`,
  ];
  for (const m of v.metrics) {
    lines.push(
      `${m.label.padEnd(46)} ${String(m.stable ?? 'n/a').padStart(14)} ${String(m.canary ?? 'n/a').padStart(14)}  ${m.status.padEnd(6)}  ${m.limit}; ${m.detail}`,
    );
  }
  lines.push(
    `VERDICT: ${v.decision.toUpperCase()} (confidence ${v.confidence}, window ${v.windowSeconds}s, ${v.requests.canary} canary / ${v.requests.stable} stable requests)`,
  );
  for (const r of v.reasons) lines.push(`  - ${r}`);
  return lines;
}
