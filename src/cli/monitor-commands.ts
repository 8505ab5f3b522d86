import { setTimeout as sleep } from 'node:timers/promises';
import { evaluateAlerts } from '../modules/ops/alerts.service.ts';
import { createSampler, criticalMetrics, formatValue, type MetricValue } from '../ops/ops-metrics.ts';
import { renderOps } from '../ops/ops-render.ts';
import { MONITOR } from '../ops/thresholds.ts';
import type { Config } from '../platform/config.ts';
import { parseFlags } from './backup-commands.ts';
import { color, say, UsageError, withDatabase } from './cli-support.ts';

function baseUrlOf(value: string | undefined, config: Config): string {
  const url = (value ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--base-url is not a URL: ${url}`);
  }
  return url;
}

function seconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`${flag} must be a positive number of seconds, got ${value}`);
  return n;
}

function count(value: string | undefined): number {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--count must be a positive integer, got ${value}`);
  return n;
}

/** The API's /metrics text; an unreachable API is the operator's problem to see, not a crash. */
function metricsSource(baseUrl: string) {
  return async () => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    } catch (error) {
      throw new Error(
        `cannot reach ${baseUrl}/metrics: ${(error as Error).cause ?? (error as Error).message}`,
      );
    }
    if (!res.ok) throw new Error(`${baseUrl}/metrics answered HTTP ${res.status}`);
    return res.text();
  };
}

const DOT = { green: '🟢', yellow: '🟡', red: '🔴', unknown: '⚪' };

export function metricsTable(rows: MetricValue[]): string[] {
  return [
    `${'Metric'.padEnd(28)}${'Target'.padEnd(16)}${'Current'.padEnd(12)}Status`,
    '─'.repeat(62),
    ...rows.map(
      (m) =>
        `${m.label.padEnd(28)}${m.target.padEnd(16)}${formatValue(m.unit, m.value).padEnd(12)}${DOT[m.state]}`,
    ),
  ];
}

export async function monitorCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseFlags(args, {
    'base-url': { type: 'string' },
    interval: { type: 'string' },
    json: { type: 'boolean' },
    count: { type: 'string' },
  });
  const baseUrl = baseUrlOf(values['base-url'], config);
  const interval = seconds(values.interval, '--interval', MONITOR.refreshSeconds);
  const refreshes = count(values.count);
  const sampler = createSampler(metricsSource(baseUrl));
  await sampler.sample(interval * 1000);
  if (values.json) {
    await sleep(interval * 1000);
    const { base, current } = await sampler.sample(interval * 1500);
    process.stdout.write(
      `${JSON.stringify({ baseUrl, at: new Date(current.at).toISOString(), windowSeconds: (current.at - base.at) / 1000, metrics: criticalMetrics(base, current) }, null, 2)}\n`,
    );
    return 0;
  }
  const tty = process.stdout.isTTY;
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let drawn = 0;
  for (let i = 0; i < refreshes && !stopped; i++) {
    await sleep(interval * 1000);
    const { base, current } = await sampler.sample(MONITOR.windowSeconds * 1000);
    const lines = [
      `CRITICAL METRICS — ${baseUrl} — ${new Date(current.at).toISOString()} (over ${Math.round((current.at - base.at) / 1000)} s)`,
      ...metricsTable(criticalMetrics(base, current)),
    ];
    // redraw in place on a terminal; a log gets one table per refresh
    if (tty && drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    process.stdout.write(`${lines.join('\n')}\n${tty ? '' : '\n'}`);
    drawn = lines.length;
  }
  return 0;
}

export async function opsRenderCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { out: { type: 'string' } });
  if (!values.out) throw new UsageError('ops render needs --out DIR');
  const r = renderOps(values.out);
  say(`${color.green('✓')} ${r.rulesFile} (${r.rules} alert rules)`);
  say(`${color.green('✓')} ${r.dashboardFile} (${r.panels} panels)`);
  return 0;
}

export async function alertsRunCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseFlags(args, {
    'base-url': { type: 'string' },
    interval: { type: 'string' },
    count: { type: 'string' },
  });
  const baseUrl = baseUrlOf(values['base-url'], config);
  const interval = seconds(
    values.interval,
    '--interval',
    config.alertsIntervalSeconds || MONITOR.refreshSeconds,
  );
  const ticks = count(values.count);
  const sampler = createSampler(metricsSource(baseUrl));
  await sampler.sample(interval * 1000);
  return withDatabase(config, async (db) => {
    let stopped = false;
    const stop = () => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    say(
      `Evaluating alert rules against ${baseUrl} every ${interval} s (time scale ${config.alertTimeScale})`,
    );
    for (let i = 0; i < ticks && !stopped; i++) {
      await sleep(interval * 1000);
      const { base, current } = await sampler.sample(interval * 1500);
      const r = await evaluateAlerts(db, config, base, current);
      for (const x of r.opened) say(color.red(`OPENED    ${x.id} ${x.title}`));
      for (const x of r.escalated) say(color.yellow(`ESCALATED ${x.id} level ${x.level}`));
      for (const x of r.resolved) say(color.green(`RESOLVED  ${x.id} ${x.title}`));
    }
    return 0;
  });
}
