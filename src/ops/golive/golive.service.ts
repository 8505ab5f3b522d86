import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deleteMerchant } from '../../modules/integrity/integrity.service.ts';
import { inheritedEnvironment } from '../../platform/config.ts';
import type { Verdict } from '../deploy/canary-analysis.ts';
import {
  type CanaryOptions,
  canaryWindow,
  type DeployContext,
  deployCanary,
  finalize,
  loadState,
  promote,
  type RollbackResult,
  rollback,
} from '../deploy/deploy.service.ts';
import { finishDeployment, insertDeployment } from '../deploy/deployments.repo.ts';
import { DeployError, isReady, TOOLKIT_ROOT } from '../deploy/release.ts';
import type { Sample } from '../deploy/router.ts';
import { routerControl } from '../deploy/router-control.ts';
import { runSmoke, type SmokeReport } from '../smoke.ts';
import { quantile } from '../stats.ts';
import { GO_NO_GO, ROLLBACK_TRIGGERS } from '../thresholds.ts';
import { type Announcement, postAnnouncements, renderAnnouncements } from './announcements.ts';
import { renderMarkdown } from './golive.report.ts';

// `swipesavvy golive`: the runbook's phases as gates. Any gate that fails after traffic moved
// rolls back automatically; every step lands in the timeline of one report.

export const PHASES = [
  'preflight',
  'backup',
  'go/no-go',
  'canary',
  'analysis',
  'full',
  'smoke',
  'stabilisation',
  'finalize',
  'announcement',
] as const;
export type PhaseName = (typeof PHASES)[number];

export type TimelineEntry = {
  phase: PhaseName | 'rollback';
  status: 'pass' | 'fail' | 'skipped' | 'warn';
  startedAt: string;
  ms: number;
  detail: string;
  data?: unknown;
};

export type SignOff = { role: string; name: string; at: string };

export type GoliveOptions = Omit<CanaryOptions, 'windowSeconds' | 'autoRollback'> & {
  canaryWindowSeconds: number;
  watchSeconds: number;
  skip: Set<string>;
  signoffs: SignOff[];
  /** asks for a missing sign-off (interactive terminal); undefined = a missing one is a no-go */
  ask?: (role: string) => Promise<string | undefined>;
  /** multiplies every time budget: smoke tests, canary and watch latency limits (a slow staging machine) */
  smokeBudgetScale: number;
  /** a 19/20 smoke result ("review") proceeds instead of rolling back */
  acceptSmokeReview: boolean;
  onPhase?: (phase: string, index: number, total: number) => void;
};

export type GoliveReport = {
  kind: 'golive';
  deploymentId: number;
  version: string;
  previousVersion: string | undefined;
  startedAt: string;
  finishedAt: string;
  decision: 'live' | 'rolled-back' | 'no-go';
  reason: string | undefined;
  signoffs: SignOff[];
  timeline: TimelineEntry[];
  verdict: Verdict | undefined;
  smoke: SmokeReport | undefined;
  watch: { requests: number; errorRate: number; p99Ms: number } | undefined;
  rollback: RollbackResult | undefined;
  announcements: Announcement[];
  posted: { url: string; audience: string; status: number | string }[];
  reportPaths: { json: string; markdown: string };
};

class GateFailed extends Error {}

/** Runs a toolkit command in a child process (preflight, backup: another part of the toolkit). */
function runToolkit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(TOOLKIT_ROOT, 'src', 'cli', 'main.ts'), ...args], {
      env: inheritedEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function commandGate(args: string[]): Promise<{ detail: string; data: unknown }> {
  const r = await runToolkit(args);
  let data: unknown;
  try {
    data = JSON.parse(r.stdout);
  } catch {
    data = undefined;
  }
  if (r.code === 2 && /Unknown command/.test(r.stderr))
    throw new GateFailed(`\`swipesavvy ${args[0]}\` is not available in this build (Unknown command)`);
  if (r.code !== 0) {
    const last = `${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
    throw new GateFailed(`\`swipesavvy ${args.join(' ')}\` failed (exit ${r.code}): ${last}`);
  }
  return { detail: `\`swipesavvy ${args.join(' ')}\` passed`, data };
}

export async function golive(ctx: DeployContext, options: GoliveOptions): Promise<GoliveReport> {
  const { config } = ctx;
  const router = ctx.router ?? routerControl(config);
  const started = new Date();
  const timeline: TimelineEntry[] = [];
  const before = await router.backends();
  const previous = [...before].sort((a, b) => b.weight - a.weight)[0]?.version;
  const deploymentId = await insertDeployment(ctx.db, {
    kind: 'golive',
    version: options.version,
    previousVersion: previous ?? null,
    mode: 'golive',
    router: router.kind,
    weights: Object.fromEntries(before.map((b) => [b.version, b.weight])),
    startedAt: started,
    decision: 'running',
  });
  const report: GoliveReport = {
    kind: 'golive',
    deploymentId,
    version: options.version,
    previousVersion: previous,
    startedAt: started.toISOString(),
    finishedAt: '',
    decision: 'live',
    reason: undefined,
    signoffs: [],
    timeline,
    verdict: undefined,
    smoke: undefined,
    watch: undefined,
    rollback: undefined,
    announcements: [],
    posted: [],
    reportPaths: { json: '', markdown: '' },
  };
  let trafficMoved = false;
  let index = 0;
  const gate = async (
    phase: PhaseName,
    work: () => Promise<{ detail: string; data?: unknown; status?: 'pass' | 'warn' }>,
  ) => {
    options.onPhase?.(phase, ++index, PHASES.length);
    const t0 = performance.now();
    const startedAt = new Date().toISOString();
    if (options.skip.has(phase)) {
      timeline.push({ phase, status: 'skipped', startedAt, ms: 0, detail: 'skipped (--skip)' });
      ctx.log(`- ${phase}: skipped`);
      return;
    }
    try {
      const r = await work();
      timeline.push({
        phase,
        status: r.status ?? 'pass',
        startedAt,
        ms: Math.round(performance.now() - t0),
        detail: r.detail,
        data: r.data,
      });
      ctx.log(`${r.status === 'warn' ? '⚠' : '✓'} ${phase}: ${r.detail}`);
    } catch (error) {
      const detail = (error as Error).message;
      timeline.push({ phase, status: 'fail', startedAt, ms: Math.round(performance.now() - t0), detail });
      ctx.log(`✗ ${phase}: ${detail}`);
      throw error instanceof GateFailed || error instanceof DeployError
        ? new GateFailed(`${phase}: ${detail}`)
        : error;
    }
  };

  try {
    await gate('preflight', () => commandGate(['preflight', '--json']));
    await gate('backup', () => commandGate(['backup', '--verify', '--json']));
    await gate('go/no-go', async () => {
      const given = new Map(options.signoffs.map((s) => [s.role, s]));
      for (const role of GO_NO_GO.requiredRoles) {
        if (!given.has(role) && options.ask) {
          const name = (await options.ask(role))?.trim();
          if (name) given.set(role, { role, name, at: new Date().toISOString() });
        }
      }
      report.signoffs = [...given.values()];
      const missing = GO_NO_GO.requiredRoles.filter((r) => !given.has(r));
      if (missing.length > 0) throw new GateFailed(`NO-GO: missing sign-off from ${missing.join(', ')}`);
      return {
        detail: `GO: signed by ${report.signoffs.map((s) => `${s.role}=${s.name}`).join(', ')}`,
        data: report.signoffs,
      };
    });
    await gate('canary', async () => {
      const r = await deployCanary(
        { ...ctx, router },
        {
          version: options.version,
          from: options.from,
          traffic: options.traffic,
          port: options.port,
          readyTimeoutMs: options.readyTimeoutMs,
          releaseEnv: options.releaseEnv,
          windowSeconds: 0,
          autoRollback: false,
        },
      );
      trafficMoved = true;
      return {
        detail: `${options.version} at ${r.instance.url} takes ${options.traffic} % of traffic`,
        data: r.instance,
      };
    });
    await gate('analysis', async () => {
      const verdict = await canaryWindow(
        ctx,
        router,
        loadState(config),
        options.canaryWindowSeconds,
        options.smokeBudgetScale,
      );
      report.verdict = verdict;
      if (verdict.decision !== 'pass')
        throw new GateFailed(`canary verdict ${verdict.decision}: ${verdict.reasons.join('; ')}`);
      return {
        detail: `canary verdict PASS (${verdict.requests.canary} canary / ${verdict.requests.stable} stable requests, confidence ${verdict.confidence})`,
        data: verdict,
      };
    });
    await gate('full', async () => {
      const r = await promote({ ...ctx, router });
      return { detail: `${r.version} takes 100 %; ${r.previous} kept warm` };
    });
    await gate('smoke', async () => {
      const smoke = await runSmoke({
        baseUrl: await router.publicUrl(),
        database: async () => ctx.db,
        budgetScale: options.smokeBudgetScale,
        cleanup: (merchantId) => deleteMerchant(ctx.db, merchantId),
      });
      report.smoke = smoke;
      const failed = smoke.results
        .filter((r) => r.status === 'fail')
        .map((r) => `${r.id} ${r.name}: ${r.detail}`);
      if (smoke.decision === 'rollback' || (smoke.decision === 'review' && !options.acceptSmokeReview))
        throw new GateFailed(
          `smoke tests ${smoke.passed}/${smoke.total} (${smoke.decision}): ${failed.join('; ')}`,
        );
      return {
        detail: `smoke tests ${smoke.passed}/${smoke.total} (${smoke.decision})`,
        status: smoke.decision === 'proceed' ? 'pass' : 'warn',
        data: { passed: smoke.passed, total: smoke.total, decision: smoke.decision, failed },
      };
    });
    await gate('stabilisation', async () => {
      report.watch = await stabilisationWatch(
        ctx,
        router,
        options.version,
        options.watchSeconds,
        options.smokeBudgetScale,
      );
      return {
        detail: `${options.watchSeconds}s watch: ${report.watch.requests} requests, error rate ${(report.watch.errorRate * 100).toFixed(2)} %, p99 ${report.watch.p99Ms.toFixed(1)} ms`,
        data: report.watch,
      };
    });
    await gate('finalize', async () => {
      const r = await finalize({ ...ctx, router });
      trafficMoved = false;
      return { detail: `promotion final${r.stopped ? `; ${r.stopped} stopped` : ''}` };
    });
  } catch (error) {
    if (!(error instanceof GateFailed)) throw error;
    report.reason = error.message;
    report.decision = trafficMoved ? 'rolled-back' : 'no-go';
    if (trafficMoved) {
      const t0 = performance.now();
      const startedAt = new Date().toISOString();
      report.rollback = await rollback({ ...ctx, router }, { reason: error.message });
      timeline.push({
        phase: 'rollback',
        status: 'pass',
        startedAt,
        ms: Math.round(performance.now() - t0),
        detail: `traffic back on ${report.rollback.to} in ${report.rollback.rollbackMs} ms (drained and stopped in ${report.rollback.drainMs} ms)`,
        data: report.rollback,
      });
      ctx.log(`⏪ rolled back to ${report.rollback.to} in ${report.rollback.rollbackMs} ms`);
    }
  }

  if (report.decision !== 'no-go') {
    await gate('announcement', async () => {
      report.announcements = renderAnnouncements({
        version: options.version,
        at: new Date(),
        smoke: report.smoke,
        errorRate: report.watch?.errorRate,
        p99Ms: report.watch?.p99Ms,
        rolledBack: report.decision === 'rolled-back',
        reason: report.reason,
      });
      report.posted = await postAnnouncements(config.announceWebhookUrls, report.announcements);
      const failed = report.posted.filter((p) => typeof p.status !== 'number' || p.status >= 300);
      return {
        detail: `${report.announcements.length} announcement(s) rendered; posted to ${config.announceWebhookUrls.length} webhook(s)${failed.length ? `, ${failed.length} post(s) failed` : ''}`,
        status: failed.length ? 'warn' : 'pass',
        data: report.posted,
      };
    }).catch(() => {});
  }

  report.finishedAt = new Date().toISOString();
  const dir = path.join(config.dataDir, 'deployments');
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${deploymentId}-golive-${options.version}`);
  report.reportPaths = { json: `${base}.json`, markdown: `${base}.md` };
  writeFileSync(report.reportPaths.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(report.reportPaths.markdown, renderMarkdown(report));
  await finishDeployment(ctx.db, deploymentId, {
    decision: report.decision,
    verdict: report.verdict,
    rollbackMs: report.rollback?.rollbackMs,
    signoffs: report.signoffs,
    reportPath: report.reportPaths.json,
    detail: {
      reason: report.reason,
      timeline: timeline.map((t) => ({ phase: t.phase, status: t.status, ms: t.ms })),
    },
  });
  return report;
}

/** After promotion: the rollback triggers, scaled to the watch window, on the new version's traffic. */
async function stabilisationWatch(
  ctx: DeployContext,
  router: ReturnType<typeof routerControl>,
  version: string,
  seconds: number,
  latencyScale: number,
) {
  const state = loadState(ctx.config);
  let cursor = await router.cursor();
  const samples: Sample[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - Date.now()))));
    const batch = await router.samples(cursor);
    cursor = batch.cursor;
    samples.push(...batch.samples.filter((s) => s.version === version));
    if (state.canary && !(await isReady(state.canary.url)))
      throw new GateFailed(`${version} stopped answering its health checks`);
    const errors = samples.filter((s) => s.status >= 500).length;
    if (samples.length >= 20 && errors / samples.length > ROLLBACK_TRIGGERS.errorRate.above)
      throw new GateFailed(
        `error rate ${((errors / samples.length) * 100).toFixed(2)} % > ${ROLLBACK_TRIGGERS.errorRate.above * 100} % (rollback trigger)`,
      );
  }
  const errors = samples.filter((s) => s.status >= 500).length;
  const p99 = samples.length
    ? quantile(
        samples.map((s) => s.ms),
        0.99,
      )
    : 0;
  const p99Limit = ROLLBACK_TRIGGERS.responseTimeMs.above * latencyScale;
  if (samples.length >= 20 && p99 > p99Limit)
    throw new GateFailed(`p99 ${p99.toFixed(0)} ms > ${p99Limit} ms (rollback trigger)`);
  return { requests: samples.length, errorRate: samples.length ? errors / samples.length : 0, p99Ms: p99 };
}
