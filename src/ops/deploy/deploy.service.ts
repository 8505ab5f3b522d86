import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../platform/config.ts';
import type { Db } from '../../platform/db.ts';
import { loadMigrations, pendingMigrations } from '../../platform/migrate.ts';
import { classifyMigration, type MigrationCompat, rollbackAdvice } from '../migration-compat.ts';
import { CANARY_ANALYSIS } from '../thresholds.ts';
import { analyse, type RssPoint, residentMemory, type Verdict } from './canary-analysis.ts';
import { finishDeployment, insertDeployment } from './deployments.repo.ts';
import {
  assertPortFree,
  DeployError,
  freePort,
  type Instance,
  prepareRelease,
  startInstance,
  stopProcess,
} from './release.ts';
import type { Sample } from './router.ts';
import { type RouterControl, routerControl } from './router-control.ts';
import { type Backend, weightsOf } from './router-policy.ts';

// Deploy, promote, finalize and roll back: the state machine of a release on one host.
//   idle ──deploy canary──▶ canary ──promote──▶ promoted ──finalize──▶ idle
//                             │                    │
//                             └──────rollback──────┴──▶ idle (the stable version serves 100 %)
// The previous stable version keeps running (weight 0) until finalize, so a rollback is a
// router policy change plus a drain: seconds.

export type DeployState = {
  phase: 'idle' | 'canary' | 'promoted';
  /** the version rollback returns to */
  stable: { version: string; url: string } | undefined;
  canary: { version: string; url: string } | undefined;
  /** instances this toolkit started (it stops only these) */
  instances: Instance[];
  /** migrations the release under way applied, with their expand/contract class */
  migrations: MigrationCompat[];
  deploymentId: number | undefined;
};

export type DeployContext = {
  config: Config;
  db: Db;
  /** the database URL the stable version uses; handed to release instances */
  databaseUrl: string | undefined;
  log: (line: string) => void;
  progress?: (label: string, done: number, total: number) => void;
  router?: RouterControl;
};

const stateFile = (config: Config) => path.join(config.dataDir, 'deploy', 'state.json');

export function loadState(config: Config): DeployState {
  const file = stateFile(config);
  if (!existsSync(file))
    return {
      phase: 'idle',
      stable: undefined,
      canary: undefined,
      instances: [],
      migrations: [],
      deploymentId: undefined,
    };
  return JSON.parse(readFileSync(file, 'utf8')) as DeployState;
}

function saveState(config: Config, state: DeployState): void {
  const file = stateFile(config);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function writeReport(config: Config, name: string, body: unknown): string {
  const dir = path.join(config.dataDir, 'deployments');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

export type CanaryOptions = {
  version: string;
  from: string | undefined;
  traffic: number;
  windowSeconds: number;
  port: number | undefined;
  readyTimeoutMs: number;
  releaseEnv: Record<string, string>;
  /** roll back by itself when the verdict is not a pass */
  autoRollback: boolean;
  /** multiplies the latency limits (a slow staging machine) */
  latencyScale?: number;
};

export type CanaryResult = {
  deploymentId: number;
  instance: Instance;
  verdict: Verdict | undefined;
  rolledBack: RollbackResult | undefined;
  reportPath: string;
};

function stableOf(backends: Backend[]): Backend {
  return [...backends].sort((a, b) => b.weight - a.weight)[0]!;
}

export async function deployCanary(ctx: DeployContext, options: CanaryOptions): Promise<CanaryResult> {
  const { config, log } = ctx;
  if (!(options.traffic > 0 && options.traffic < 100))
    throw new DeployError('--traffic must be between 0 and 100 (exclusive)');
  const router = ctx.router ?? routerControl(config);
  const backends = await router.backends();
  const stable = stableOf(backends);
  const state = loadState(config);
  if (state.phase === 'canary' && state.canary)
    throw new DeployError(
      `a canary (${state.canary.version}) is under way: promote it (deploy --mode=full) or roll it back first`,
    );
  if (stable.version === options.version)
    throw new DeployError(`version ${options.version} is already the stable version`);
  if (backends.some((b) => b.version === options.version))
    throw new DeployError(
      `version ${options.version} is already behind the router (finalize or roll back first)`,
    );

  log(`stable: ${stable.version} at ${stable.url} (router: ${router.kind} ${router.where})`);
  const release = await prepareRelease(options.version, options.from, path.join(config.dataDir, 'releases'));
  log(
    `release ${release.version}: ${release.dir} (from ${release.source}; dependencies ${release.dependencies})`,
  );
  const migrations = await migrationsOf(ctx.db, release.dir);
  for (const m of migrations)
    log(`migration ${m.name}: ${m.class}${m.class === 'contract' ? ' — NOT backward compatible' : ''}`);
  const port = options.port ?? (await freePort());
  if (options.port !== undefined) await assertPortFree(options.port);

  const env: Record<string, string> = {
    DATA_DIR: config.dataDir,
    EMBEDDED_PG_PORT: String(config.embeddedPgPort),
    MAILBOX_PORT: '0',
    ...(ctx.databaseUrl ? { DATABASE_URL: ctx.databaseUrl } : {}),
    ...options.releaseEnv,
  };
  const instance = await startInstance({
    release,
    port,
    env,
    logDir: path.join(config.dataDir, 'deploy', 'logs'),
    readyTimeoutMs: options.readyTimeoutMs,
  });
  log(`${release.version} ready at ${instance.url} (pid ${instance.pid})`);

  const startedAt = new Date();
  const weights = [
    { version: options.version, url: instance.url, weight: options.traffic },
    { version: stable.version, url: stable.url, weight: 100 - options.traffic },
  ];
  const next: DeployState = {
    phase: 'canary',
    stable: { version: stable.version, url: stable.url },
    canary: { version: options.version, url: instance.url },
    instances: [...state.instances.filter((i) => i.version !== options.version), instance],
    migrations,
    deploymentId: undefined,
  };
  saveState(config, next);
  try {
    await router.apply(weights);
  } catch (error) {
    await stopProcess(instance.pid, config.shutdownGraceMs);
    saveState(config, { ...state, instances: state.instances.filter((i) => i.version !== options.version) });
    throw error;
  }
  log(`traffic: ${options.version} ${options.traffic} %, ${stable.version} ${100 - options.traffic} %`);
  const deploymentId = await insertDeployment(ctx.db, {
    kind: 'deploy',
    version: options.version,
    previousVersion: stable.version,
    mode: 'canary',
    router: router.kind,
    weights: weightsOf(weights),
    startedAt,
    decision: 'running',
  });
  next.deploymentId = deploymentId;
  saveState(config, next);

  let verdict: Verdict | undefined;
  let rolledBack: RollbackResult | undefined;
  if (options.windowSeconds > 0) {
    verdict = await canaryWindow(ctx, router, next, options.windowSeconds, options.latencyScale);
    if (verdict.decision !== 'pass' && options.autoRollback) {
      log(`verdict ${verdict.decision}: rolling back automatically`);
      rolledBack = await rollback(ctx, { reason: `canary analysis: ${verdict.decision}` });
    }
  }
  const decision = verdict
    ? verdict.decision === 'pass'
      ? 'canary-passed'
      : `canary-${verdict.decision}`
    : 'canary-started';
  const report = {
    deploymentId,
    kind: 'deploy',
    mode: 'canary',
    version: options.version,
    stable: stable.version,
    router: { kind: router.kind, where: router.where },
    release: { dir: release.dir, source: release.source, dependencies: release.dependencies },
    instance,
    weights: weightsOf(weights),
    migrations,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    verdict,
    decision: rolledBack ? `${decision}; rolled back` : decision,
    rollback: rolledBack,
  };
  const reportPath = writeReport(config, `${deploymentId}-deploy-${options.version}`, report);
  await finishDeployment(ctx.db, deploymentId, {
    decision: report.decision,
    verdict,
    rollbackMs: rolledBack?.rollbackMs,
    reportPath,
    detail: { instance, release: report.release, migrations },
  });
  return { deploymentId, instance, verdict, rolledBack, reportPath };
}

async function migrationsOf(db: Db, releaseDir: string): Promise<MigrationCompat[]> {
  const dir = path.join(releaseDir, 'migrations');
  if (!existsSync(dir)) return [];
  const client = await db.connect();
  try {
    const pending = await pendingMigrations(client, loadMigrations(dir));
    return pending.map((m) => classifyMigration(`${String(m.version).padStart(3, '0')}_${m.name}`, m.sql));
  } catch (error) {
    throw new DeployError(`the release's migrations do not fit this database: ${(error as Error).message}`);
  } finally {
    client.release();
  }
}

/** Watches the canary for the window and judges it against the stable version. */
export async function canaryWindow(
  ctx: DeployContext,
  router: RouterControl,
  state: DeployState,
  windowSeconds: number,
  latencyScale = 1,
): Promise<Verdict> {
  const { stable, canary } = state;
  if (!stable || !canary) throw new DeployError('no canary is under way');
  let cursor = await router.cursor();
  const samples: Sample[] = [];
  const rss: Record<'stable' | 'canary', RssPoint[]> = { stable: [], canary: [] };
  const t0 = Date.now();
  const end = t0 + windowSeconds * 1000;
  ctx.log(`canary analysis: ${windowSeconds}s window, ${canary.version} against ${stable.version}`);
  while (Date.now() < end) {
    const [s, c] = await Promise.all([residentMemory(stable.url), residentMemory(canary.url)]);
    const at = Date.now();
    if (s !== undefined) rss.stable.push({ at, bytes: s });
    if (c !== undefined) rss.canary.push({ at, bytes: c });
    const batch = await router.samples(cursor);
    cursor = batch.cursor;
    samples.push(...batch.samples);
    ctx.progress?.(
      'canary window',
      Math.min(windowSeconds, Math.round((Date.now() - t0) / 1000)),
      windowSeconds,
    );
    await new Promise((r) =>
      setTimeout(r, Math.min(CANARY_ANALYSIS.sampleIntervalMs, Math.max(0, end - Date.now()))),
    );
  }
  const batch = await router.samples(cursor);
  samples.push(...batch.samples);
  ctx.progress?.('canary window', windowSeconds, windowSeconds);
  return analyse(
    {
      version: stable.version,
      samples: samples.filter((x) => x.version === stable.version),
      rss: rss.stable,
    },
    {
      version: canary.version,
      samples: samples.filter((x) => x.version === canary.version),
      rss: rss.canary,
    },
    windowSeconds,
    latencyScale,
  );
}

export async function promote(
  ctx: DeployContext,
): Promise<{ deploymentId: number; version: string; previous: string }> {
  const { config } = ctx;
  const state = loadState(config);
  if (state.phase !== 'canary' || !state.canary || !state.stable)
    throw new DeployError(`nothing to promote: no canary is under way (phase ${state.phase})`);
  const router = ctx.router ?? routerControl(config);
  const startedAt = new Date();
  const weights = [
    { version: state.canary.version, url: state.canary.url, weight: 100 },
    { version: state.stable.version, url: state.stable.url, weight: 0 },
  ];
  await router.apply(weights);
  ctx.log(`traffic: ${state.canary.version} 100 %; ${state.stable.version} kept warm (0 %) until finalize`);
  const deploymentId = await insertDeployment(ctx.db, {
    kind: 'deploy',
    version: state.canary.version,
    previousVersion: state.stable.version,
    mode: 'full',
    router: router.kind,
    weights: weightsOf(weights),
    startedAt,
    decision: 'promoted',
  });
  const reportPath = writeReport(config, `${deploymentId}-promote-${state.canary.version}`, {
    deploymentId,
    kind: 'deploy',
    mode: 'full',
    version: state.canary.version,
    previous: state.stable.version,
    weights: weightsOf(weights),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  });
  await finishDeployment(ctx.db, deploymentId, { decision: 'promoted', reportPath });
  saveState(config, { ...state, phase: 'promoted', deploymentId });
  return { deploymentId, version: state.canary.version, previous: state.stable.version };
}

/** Makes a promotion final: the previous version leaves the router and, if this toolkit started it, stops. */
export async function finalize(
  ctx: DeployContext,
): Promise<{ version: string; stopped: string | undefined }> {
  const { config } = ctx;
  const state = loadState(config);
  if (state.phase !== 'promoted' || !state.canary || !state.stable)
    throw new DeployError(`nothing to finalize: no promotion is under way (phase ${state.phase})`);
  const router = ctx.router ?? routerControl(config);
  await router.apply([{ version: state.canary.version, url: state.canary.url, weight: 100 }]);
  const old = state.instances.find((i) => i.version === state.stable!.version);
  if (old) await stopProcess(old.pid, config.shutdownGraceMs);
  else
    ctx.log(
      `${state.stable.version} at ${state.stable.url} was not started by the toolkit: stop it yourself`,
    );
  saveState(config, {
    phase: 'idle',
    stable: state.canary,
    canary: undefined,
    instances: state.instances.filter((i) => i !== old),
    migrations: [],
    deploymentId: undefined,
  });
  return { version: state.canary.version, stopped: old?.version };
}

export type RollbackResult = {
  deploymentId: number;
  to: string;
  from: string[];
  /** from the decision to 100 % of new requests on the stable version */
  rollbackMs: number;
  /** until the rolled-back versions had no request in flight and were stopped */
  drainMs: number;
  databaseAdvice: string[];
  reportPath: string;
};

export async function rollback(
  ctx: DeployContext,
  options: { version?: string; reason?: string } = {},
): Promise<RollbackResult> {
  const decidedAt = performance.now();
  const startedAt = new Date();
  const { config } = ctx;
  const router = ctx.router ?? routerControl(config);
  const backends = await router.backends();
  const state = loadState(config);
  const targetVersion = options.version ?? state.stable?.version;
  if (!targetVersion)
    throw new DeployError('nothing to roll back to: no deploy is recorded (give --version)');
  const target = backends.find((b) => b.version === targetVersion);
  if (!target) {
    throw new DeployError(
      `version ${targetVersion} is not running behind the router (running: ${backends.map((b) => `${b.version} ${b.weight} %`).join(', ')})`,
    );
  }
  const others = backends.filter((b) => b.version !== targetVersion);
  // first every new request to the target; versions at weight 0 stay listed until drained
  await router.apply([{ ...target, weight: 100 }, ...others.map((b) => ({ ...b, weight: 0 }))], {
    drain: false,
  });
  const rollbackMs = performance.now() - decidedAt;
  ctx.log(`traffic: ${targetVersion} 100 % after ${Math.round(rollbackMs)} ms`);
  await router.apply([{ ...target, weight: 100 }]);
  const stopped: string[] = [];
  for (const b of others) {
    const instance = state.instances.find((i) => i.version === b.version);
    if (instance) {
      await stopProcess(instance.pid, config.shutdownGraceMs);
      stopped.push(b.version);
    } else ctx.log(`${b.version} at ${b.url} was not started by the toolkit: left running, without traffic`);
  }
  const drainMs = performance.now() - decidedAt;
  const databaseAdvice = state.phase === 'idle' ? [] : rollbackAdvice(state.migrations);
  for (const line of databaseAdvice) ctx.log(`database: ${line}`);
  const weights = { [targetVersion]: 100 };
  const deploymentId = await insertDeployment(ctx.db, {
    kind: 'rollback',
    version: targetVersion,
    previousVersion: others.map((b) => b.version).join(',') || null,
    mode: 'rollback',
    router: router.kind,
    weights,
    startedAt,
    decision: 'rolled-back',
  });
  const result = {
    deploymentId,
    to: targetVersion,
    from: others.map((b) => b.version),
    rollbackMs: Math.round(rollbackMs),
    drainMs: Math.round(drainMs),
    databaseAdvice,
    reportPath: '',
  };
  result.reportPath = writeReport(config, `${deploymentId}-rollback-${targetVersion}`, {
    ...result,
    kind: 'rollback',
    reason: options.reason ?? 'requested',
    stopped,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  });
  await finishDeployment(ctx.db, deploymentId, {
    decision: 'rolled-back',
    rollbackMs,
    reportPath: result.reportPath,
    detail: { reason: options.reason ?? 'requested', drainMs: result.drainMs, databaseAdvice, stopped },
  });
  if (state.deploymentId !== undefined) {
    await finishDeployment(ctx.db, state.deploymentId, { decision: 'rolled-back' });
  }
  saveState(config, {
    phase: 'idle',
    stable: { version: target.version, url: target.url },
    canary: undefined,
    instances: state.instances.filter((i) => !stopped.includes(i.version)),
    migrations: [],
    deploymentId: undefined,
  });
  return result;
}
