import { writeFileSync } from 'node:fs';
import { databaseStats, deleteMerchant, runIntegrityCheck } from '../modules/integrity/integrity.service.ts';
import { DeployError } from '../ops/deploy/release.ts';
import { runSmoke, type SmokeResult } from '../ops/smoke.ts';
import { type Config, ConfigError, describeConfig, loadConfig } from '../platform/config.ts';
import { createPool, type Db, redactUrl } from '../platform/db.ts';
import { resolveDatabase } from '../platform/embedded-db.ts';
import { MigrationError, migrate, pendingMigrations } from '../platform/migrate.ts';
import { parse, untilStopped } from './cli-output.ts';
import { color, phase, progressBar, say, UsageError, withDatabase } from './cli-support.ts';
import { DEPLOY_COMMANDS, DEPLOY_HELP } from './deploy-help.ts';
import { OPS_HELP, opsCommands } from './ops-commands.ts';

const HELP = `swipesavvy — the SwipeSavvy platform and its go-live toolkit

Usage: swipesavvy <command> [options]

Platform
  start                      run the API, workers and (by default) embedded PostgreSQL and mailbox
  worker                     run only the job workers (notification fan-out and delivery), no HTTP
  migrate [--dry-run]        apply pending migrations (--dry-run: apply and roll back)
  migrate --status           list applied and pending migrations
  db check [--json]          integrity check: every constraint and invariant; exit 1 on a violation
  db stats [--json]          row counts and database size
  seed-demo [--customers N] [--reset]
                             load the demo data set (merchants, customers, campaigns, events, sales)
  config                     the configuration variables and their defaults

Go-live
  smoke [--base-url URL] [--json FILE] [--budget-scale X] [--notify-channel email|webhook --notify-to ADDR] [--keep]
                             the runbook's 20 smoke tests against a running instance
${OPS_HELP}
${DEPLOY_HELP}

Every command reads the environment (see README); the database is DATABASE_URL, or the
embedded PostgreSQL in DATA_DIR — the running one, or one started for the command.`;

type Command = (args: string[], config: Config) => Promise<number>;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return n;
}

const start: Command = async (args, config) => {
  parse(args, {});
  const { startServer } = await import('../server.ts');
  const server = await startServer(config);
  say(
    `${color.green('●')} SwipeSavvy ${config.version} at ${color.bold(server.url)}  ${color.dim(`(API docs ${server.url}/docs · Ctrl-C stops)`)}`,
  );
  await untilStopped(() => server.close(), { announce: true });
  return 0;
};

const worker: Command = async (args, config) => {
  parse(args, {});
  const { startWorker } = await import('../worker.ts');
  const running = await startWorker(config);
  say(`${color.green('●')} SwipeSavvy worker ${process.pid} running  ${color.dim('(Ctrl-C stops)')}`);
  await untilStopped(() => running.close(), { announce: true });
  return 0;
};

const migrateCommand: Command = async (args, config) => {
  const flags = parse(args, { 'dry-run': { type: 'boolean' }, status: { type: 'boolean' } });
  return withDatabase(
    config,
    async (db) => {
      if (flags.status) {
        const client = await db.connect();
        try {
          const pending = await pendingMigrations(client);
          say(
            pending.length === 0
              ? 'No pending migrations.'
              : `Pending: ${pending.map((m) => `${m.version}_${m.name}`).join(', ')}`,
          );
          return 0;
        } finally {
          client.release();
        }
      }
      const result = await phase(
        flags['dry-run'] ? 'checking pending migrations (rolled back)' : 'applying migrations',
        () => migrate(db, { dryRun: flags['dry-run'] }),
      );
      for (const m of result.applied)
        say(`  ${flags['dry-run'] ? 'would apply' : 'applied'} ${m.version}_${m.name}`);
      if (result.pending.length === 0) say('The schema is up to date.');
      return 0;
    },
    { requireSchema: false },
  );
};

const dbCheck: Command = async (args, config) => {
  const flags = parse(args, { json: { type: 'boolean' } });
  return withDatabase(config, async (db) => {
    const result = await runIntegrityCheck(db);
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      for (const c of result.checks) {
        const mark = c.violations === 0 ? color.green('✓') : color.red('✗');
        say(
          `${mark} ${c.checkName.padEnd(42)} ${c.violations === 0 ? 'ok' : `${c.violations} violation(s)`}  ${color.dim(c.description)}`,
        );
      }
      say(result.ok ? color.green('Integrity check passed.') : color.red('Integrity check FAILED.'));
    }
    return result.ok ? 0 : 1;
  });
};

const dbStats: Command = async (args, config) => {
  const flags = parse(args, { json: { type: 'boolean' } });
  return withDatabase(config, async (db, info) => {
    const stats = await databaseStats(db);
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ database: info.embedded ? 'embedded' : redactUrl(info.url), ...stats }, null, 2)}\n`,
      );
      return 0;
    }
    say(`database   ${info.embedded ? `embedded (${config.dataDir}/pg)` : redactUrl(info.url)}`);
    for (const [key, value] of Object.entries(stats)) {
      const shown =
        key === 'databaseBytes'
          ? `${(Number(value) / 1_048_576).toFixed(1)} MiB`
          : typeof value === 'object' && value !== null
            ? Object.entries(value)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') || '0'
            : String(value ?? 'n/a');
      say(`${key.padEnd(16)} ${shown}`);
    }
    return 0;
  });
};

const seedDemoCommand: Command = async (args, config) => {
  const flags = parse(args, { customers: { type: 'string' }, reset: { type: 'boolean' } });
  const customers = positiveInt(flags.customers, '--customers', 2000);
  return withDatabase(
    config,
    async (db) => {
      const { DemoExistsError, seedDemo } = await import('../modules/demo/demo.service.ts');
      const bars = new Map<string, (done: number) => void>();
      try {
        const result = await seedDemo(db, {
          customers,
          reset: flags.reset ?? false,
          onPhase: (name) => say(`${color.dim('▸')} ${name}`),
          onProgress: (label, done, total) => {
            const key = `${label}:${total}`;
            if (!bars.has(key)) bars.set(key, progressBar(label, total));
            bars.get(key)!(done);
          },
        });
        say(
          color.green(
            `Demo data loaded: ${result.customers} customers, ${result.campaigns} campaigns, ${result.notifications} notifications, ${result.events} events, ${result.transactions} transactions (${result.attributed} attributed).`,
          ),
        );
        say(`Log in as ${color.bold(result.owner.email)} with password ${color.bold(result.owner.password)}`);
        return 0;
      } catch (error) {
        if (error instanceof DemoExistsError) throw new UsageError(error.message);
        throw error;
      }
    },
    { migrate: true },
  );
};

const smoke: Command = async (args, config) => {
  const flags = parse(args, {
    'base-url': { type: 'string' },
    json: { type: 'string' },
    'budget-scale': { type: 'string' },
    'notify-channel': { type: 'string' },
    'notify-to': { type: 'string' },
    keep: { type: 'boolean' },
  });
  const baseUrl = flags['base-url'] ?? `http://127.0.0.1:${config.port}`;
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`--base-url is not a URL: ${baseUrl}`);
  }
  const scale = flags['budget-scale'] === undefined ? 1 : Number(flags['budget-scale']);
  if (!(scale > 0)) throw new UsageError('--budget-scale must be a positive number');
  const channel = flags['notify-channel'];
  if (channel !== undefined && channel !== 'email' && channel !== 'webhook') {
    throw new UsageError('--notify-channel must be email or webhook');
  }
  if ((channel === undefined) !== (flags['notify-to'] === undefined)) {
    throw new UsageError('--notify-channel and --notify-to go together');
  }

  // Tests 6.1 and 6.2 use the database the CLI is configured with; it is opened on first use.
  let db: Db | undefined;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dbError: Error | undefined;
  const database = async () => {
    if (dbError) throw dbError;
    if (!db) {
      try {
        const resolved = await resolveDatabase(config);
        stopEmbedded = resolved.embedded?.stop;
        db = createPool(resolved.url, 2, 'swipesavvy-smoke');
        await db.query('SELECT 1');
      } catch (error) {
        dbError = new Error(`cannot reach the database: ${(error as Error).message}`);
        throw dbError;
      }
    }
    return db;
  };

  say('========================================');
  say(`SMOKE TEST RESULTS - ${baseUrl}`);
  say('========================================');
  const line = (r: SmokeResult) => {
    const label = `Test ${r.id}: ${r.name}`.padEnd(40);
    const mark = r.status === 'pass' ? `✅ ${color.green('PASS')}` : `❌ ${color.red('FAIL')}`;
    say(`${label}${mark} (${r.ms}ms)${r.status === 'fail' ? `  ${color.red(r.detail)}` : ''}`);
  };
  try {
    const report = await runSmoke({
      baseUrl,
      database,
      budgetScale: scale,
      notify: channel ? { channel, to: flags['notify-to']! } : undefined,
      onResult: line,
      cleanup: flags.keep ? undefined : async (merchantId) => deleteMerchant(await database(), merchantId),
    });
    say('');
    say(`RESULTS: ${report.passed}/${report.total} PASS ${report.passed === report.total ? '✅' : '❌'}`);
    say(`TOTAL TIME: ${(report.durationMs / 1000).toFixed(1)}s`);
    const decision = {
      proceed: color.green('STATUS: DEPLOYMENT SUCCESSFUL ✅ — proceed'),
      review: color.yellow(
        'STATUS: REVIEW ⚠️ — one test failed: proceed with caution if non-critical, else roll back',
      ),
      rollback: color.red('STATUS: ROLLBACK ❌ — fewer than 19/20 passed'),
    }[report.decision];
    say(decision);
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
    return report.decision === 'proceed' ? 0 : 1;
  } finally {
    await db?.end();
    await stopEmbedded?.();
  }
};

const configCommand: Command = async (args) => {
  parse(args, {});
  for (const v of describeConfig())
    say(`${v.name.padEnd(30)} ${v.default === undefined ? color.dim('(unset)') : String(v.default)}`);
  return 0;
};

const commands: Record<string, Command> = {
  start,
  worker,
  migrate: migrateCommand,
  'db check': dbCheck,
  'db stats': dbStats,
  'seed-demo': seedDemoCommand,
  smoke,
  config: configCommand,
  ...opsCommands,
  ...Object.fromEntries(
    DEPLOY_COMMANDS.map((name): [string, Command] => [
      name,
      async (args, config) => (await import('./deploy-commands.ts')).deployCommands[name]!(args, config),
    ]),
  ),
};

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    say(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  const two = `${argv[0]} ${argv[1] ?? ''}`.trim();
  const [name, rest] = commands[two] ? [two, argv.slice(2)] : [argv[0]!, argv.slice(1)];
  const command = commands[name];
  if (!command) {
    say(`Unknown command: ${argv.join(' ')}\n\n${HELP}`);
    return 2;
  }
  try {
    const config = loadConfig();
    return await command(rest, config);
  } catch (error) {
    if (error instanceof ConfigError) {
      say(color.red(error.message));
      return 2;
    }
    if (error instanceof UsageError) {
      say(`${color.red('error:')} ${error.message}`);
      return 2;
    }
    if (error instanceof DeployError) {
      say(`${color.red('error:')} ${error.message}`);
      return 1;
    }
    if (error instanceof MigrationError) {
      say(`${color.red('migration error:')} ${error.message}`);
      return 1;
    }
    say(`${color.red('error:')} ${(error as Error).message}`);
    if (process.env['SWIPESAVVY_DEBUG']) console.error(error);
    return 1;
  }
}
