import path from 'node:path';
import { type CheckResult, GROUPS, type Group, runPreflight } from '../ops/preflight.ts';
import type { Config } from '../platform/config.ts';
import { MIGRATIONS_DIR } from '../platform/migrate.ts';
import { parseFlags } from './backup-commands.ts';
import { color, say, UsageError, withDatabase } from './cli-support.ts';

function groupList(value: string | undefined, flag: string): Group[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(GROUPS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0)
    throw new UsageError(
      `${flag}: unknown group ${unknown.join(', ') || '(empty)'}; groups are ${GROUPS.join(', ')}`,
    );
  return names as Group[];
}

const mark = { pass: color.green('✓'), warn: color.yellow('⚠'), fail: color.red('✗') };

export async function preflightCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseFlags(args, {
    json: { type: 'boolean' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'base-url': { type: 'string' },
    'migrations-dir': { type: 'string' },
    'release-dir': { type: 'string' },
    'budget-scale': { type: 'string' },
  });
  const budgetScale = values['budget-scale'] === undefined ? 1 : Number(values['budget-scale']);
  if (!(budgetScale > 0)) throw new UsageError('--budget-scale must be a positive number');
  const only = groupList(values.only, '--only');
  const skip = groupList(values.skip, '--skip') ?? [];
  const groups = (only ?? GROUPS).filter((g) => !skip.includes(g));
  const baseUrl = (values['base-url'] ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '');
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`--base-url is not a URL: ${baseUrl}`);
  }
  return withDatabase(
    config,
    async (db, info) => {
      let current = '';
      const report = await runPreflight(
        {
          config,
          url: info.url,
          db,
          embedded: info.embedded,
          baseUrl,
          migrationsDir: path.resolve(values['migrations-dir'] ?? MIGRATIONS_DIR),
          releaseDir: path.resolve(values['release-dir'] ?? path.join(import.meta.dirname, '..', '..')),
          smokeBudgetScale: budgetScale,
        },
        {
          groups,
          onCheck: (c: CheckResult) => {
            if (values.json) return;
            if (c.group !== current) {
              current = c.group;
              say(color.bold(`\n${c.group.toUpperCase()}`));
            }
            say(`  ${mark[c.status]} ${c.name.padEnd(44)} ${c.value.padEnd(26)} ${color.dim(c.reason)}`);
          },
        },
      );
      if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      const status = report.status === 'ready' ? color.green('READY FOR DEPLOYMENT') : color.red('NOT READY');
      say(
        `\n✓ Checks Passed: ${report.passed}  ⚠ Warnings: ${report.warnings}  ✗ Checks Failed: ${report.failed}  Status: ${status}`,
      );
      return report.failed === 0 ? 0 : 1;
    },
    { requireSchema: false },
  );
}
