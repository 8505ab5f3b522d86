import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { argoRollout } from '../ops/deploy/argo.ts';
import { formatVerdict } from '../ops/deploy/canary-analysis.ts';
import {
  type DeployContext,
  deployCanary,
  finalize,
  promote,
  rollback,
} from '../ops/deploy/deploy.service.ts';
import { listDeployments } from '../ops/deploy/deployments.repo.ts';
import { DeployError } from '../ops/deploy/release.ts';
import { golive, PHASES, type SignOff } from '../ops/golive/golive.service.ts';
import { GO_NO_GO } from '../ops/thresholds.ts';
import type { Config } from '../platform/config.ts';
import { keyValues, parse, portOf } from './cli-output.ts';
import { color, progressBar, say, UsageError, withDatabase } from './cli-support.ts';
import { routerCommand } from './router-command.ts';

// The go-live toolkit's traffic commands: router, deploy, rollback, deployments, golive.

type Command = (args: string[], config: Config) => Promise<number>;

/** "30s", "2m", "500ms" or plain seconds → seconds. */
export function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${name} must be a duration like 30s, 2m or 500ms, got ${value}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function scaleOf(value: string | undefined): number {
  const scale = value === undefined ? 1 : Number(value);
  if (!(scale > 0)) throw new UsageError('--budget-scale must be a positive number');
  return scale;
}

async function withDeploy<T>(config: Config, work: (ctx: DeployContext) => Promise<T>): Promise<T> {
  return withDatabase(config, async (db, info) => {
    if (info.startedHere)
      throw new DeployError(
        `the embedded database in ${config.dataDir} is not running: start the stable version (swipesavvy start) first, or set DATABASE_URL`,
      );
    const bars = new Map<string, (done: number) => void>();
    return work({
      config,
      db,
      databaseUrl: config.databaseUrl,
      log: (line) => say(`  ${line}`),
      progress: (label, done, total) => {
        if (!bars.has(label)) bars.set(label, progressBar(label, total));
        bars.get(label)!(done);
      },
    });
  });
}

const deploy: Command = async (args, config) => {
  const flags = parse(args, {
    version: { type: 'string' },
    from: { type: 'string' },
    mode: { type: 'string' },
    traffic: { type: 'string' },
    window: { type: 'string' },
    port: { type: 'string' },
    'ready-timeout': { type: 'string' },
    'release-env': { type: 'string', multiple: true },
    'no-rollback': { type: 'boolean' },
    'budget-scale': { type: 'string' },
    json: { type: 'boolean' },
    emit: { type: 'string' },
    image: { type: 'string' },
    out: { type: 'string' },
  });
  const mode = flags.mode ?? 'canary';
  const traffic = flags.traffic === undefined ? 5 : Number(flags.traffic);
  if (!(traffic > 0 && traffic < 100))
    throw new UsageError(`--traffic must be a percentage between 0 and 100, got ${flags.traffic}`);
  const windowSeconds = seconds(flags.window, '--window', 30);
  if (flags.emit !== undefined) {
    if (flags.emit !== 'argo') throw new UsageError('--emit supports: argo');
    if (!flags.version) throw new UsageError('--emit argo needs --version');
    const yaml = argoRollout({
      version: flags.version,
      image: flags.image ?? `swipesavvy:${flags.version}`,
      traffic,
      windowSeconds,
    });
    if (flags.out) writeFileSync(flags.out, yaml);
    else process.stdout.write(yaml);
    return 0;
  }
  if (mode === 'full' || mode === 'finalize') {
    return withDeploy(config, async (ctx) => {
      if (mode === 'full') {
        const r = await promote(ctx);
        say(
          color.green(
            `Promoted ${r.version} to 100 % (${r.previous} kept warm until: deploy --mode finalize).`,
          ),
        );
        if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      } else {
        const r = await finalize(ctx);
        say(color.green(`${r.version} is final${r.stopped ? `; ${r.stopped} stopped` : ''}.`));
        if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      return 0;
    });
  }
  if (mode !== 'canary') throw new UsageError(`--mode must be canary, full or finalize, got ${mode}`);
  if (!flags.version) throw new UsageError('deploy --mode canary needs --version');
  return withDeploy(config, async (ctx) => {
    const r = await deployCanary(ctx, {
      version: flags.version!,
      from: flags.from,
      traffic,
      windowSeconds,
      port: portOf(flags.port, '--port'),
      readyTimeoutMs: seconds(flags['ready-timeout'], '--ready-timeout', 60) * 1000,
      releaseEnv: keyValues(flags['release-env'], '--release-env'),
      autoRollback: !flags['no-rollback'],
      latencyScale: scaleOf(flags['budget-scale']),
    });
    if (r.verdict) for (const line of formatVerdict(r.verdict)) say(line);
    if (r.rolledBack) say(color.red(`Rolled back to ${r.rolledBack.to} in ${r.rolledBack.rollbackMs} ms.`));
    say(`report: ${r.reportPath}`);
    if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    if (!r.verdict) return 0;
    return r.verdict.decision === 'pass' ? 0 : r.verdict.decision === 'inconclusive' ? 3 : 1;
  });
};

const rollbackCommand: Command = async (args, config) => {
  const flags = parse(args, { version: { type: 'string' }, json: { type: 'boolean' } });
  return withDeploy(config, async (ctx) => {
    const r = await rollback(ctx, { version: flags.version });
    say(
      color.green(
        `Rolled back to ${r.to}: 100 % after ${r.rollbackMs} ms; ${r.from.join(', ') || 'nothing'} drained and stopped after ${r.drainMs} ms.`,
      ),
    );
    say(`report: ${r.reportPath}`);
    if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  });
};

const deploymentsCommand: Command = async (args, config) => {
  const flags = parse(args, { limit: { type: 'string' }, json: { type: 'boolean' } });
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
  return withDatabase(config, async (db) => {
    const rows = await listDeployments(db, limit);
    if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else
      for (const r of rows)
        say(
          `#${String(r.id).padEnd(4)} ${r.kind.padEnd(8)} ${r.version.padEnd(12)} ${r.mode.padEnd(8)} ${r.decision.padEnd(22)} ${JSON.stringify(r.weights)}${r.rollbackMs === null ? '' : `  rollback ${r.rollbackMs} ms`}`,
        );
    return 0;
  });
};

const goliveCommand: Command = async (args, config) => {
  const flags = parse(args, {
    version: { type: 'string' },
    from: { type: 'string' },
    approve: { type: 'string', multiple: true },
    traffic: { type: 'string' },
    'canary-window': { type: 'string' },
    watch: { type: 'string' },
    skip: { type: 'string' },
    port: { type: 'string' },
    'ready-timeout': { type: 'string' },
    'release-env': { type: 'string', multiple: true },
    'accept-smoke-review': { type: 'boolean' },
    'budget-scale': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!flags.version) throw new UsageError('golive needs --version');
  const traffic = flags.traffic === undefined ? 5 : Number(flags.traffic);
  if (!(traffic > 0 && traffic < 100)) throw new UsageError('--traffic must be between 0 and 100');
  const skip = new Set(
    (flags.skip ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  for (const s of skip)
    if (!(PHASES as readonly string[]).includes(s))
      throw new UsageError(`--skip: unknown phase ${s} (phases: ${PHASES.join(', ')})`);
  const at = new Date().toISOString();
  const signoffs: SignOff[] = Object.entries(keyValues(flags.approve, '--approve')).map(([role, name]) => {
    const known = [...GO_NO_GO.requiredRoles, ...GO_NO_GO.decisionRoles] as string[];
    if (!known.includes(role))
      throw new UsageError(`--approve: unknown role ${role} (roles: ${known.join(', ')})`);
    return { role, name, at };
  });
  const scale = scaleOf(flags['budget-scale']);
  const tty = process.stdin.isTTY && process.stderr.isTTY;
  return withDeploy(config, async (ctx) => {
    const ask = tty
      ? async (role: string) => {
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          try {
            return await rl.question(`  ${role} lead sign-off — your name (empty = NO-GO): `);
          } finally {
            rl.close();
          }
        }
      : undefined;
    const report = await golive(ctx, {
      version: flags.version!,
      from: flags.from,
      traffic,
      port: portOf(flags.port, '--port'),
      readyTimeoutMs: seconds(flags['ready-timeout'], '--ready-timeout', 60) * 1000,
      releaseEnv: keyValues(flags['release-env'], '--release-env'),
      canaryWindowSeconds: seconds(flags['canary-window'], '--canary-window', 30),
      watchSeconds: seconds(flags.watch, '--watch', 60),
      skip,
      signoffs,
      ask,
      smokeBudgetScale: scale,
      acceptSmokeReview: flags['accept-smoke-review'] ?? false,
      onPhase: (phase, i, total) => say(color.bold(`[${i}/${total}] ${phase}`)),
    });
    if (report.verdict) for (const line of formatVerdict(report.verdict)) say(`  ${line}`);
    const summary = {
      live: color.green(`GO-LIVE COMPLETE ✅ ${report.version} is live`),
      'rolled-back': color.red(
        `ROLLED BACK ❌ ${report.reason} — ${report.previousVersion} serves all traffic (rollback ${report.rollback?.rollbackMs} ms)`,
      ),
      'no-go': color.red(`NO-GO ❌ ${report.reason} — nothing was deployed`),
    }[report.decision];
    say(summary);
    say(`report: ${report.reportPaths.markdown}`);
    if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.decision === 'live' ? 0 : 1;
  });
};

export const deployCommands: Record<string, Command> = {
  router: routerCommand,
  deploy,
  rollback: rollbackCommand,
  deployments: deploymentsCommand,
  golive: goliveCommand,
};
