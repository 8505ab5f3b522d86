import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { BackupError, createBackup, openArchive, restoreInto, verifyBackup } from '../ops/backup.service.ts';
import type { Config } from '../platform/config.ts';
import { redactUrl } from '../platform/db.ts';
import { color, phase, say, UsageError, withDatabase } from './cli-support.ts';

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export function parseFlags<T extends Options>(args: string[], options: T, positionals = 0) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true });
    if (parsed.positionals.length > positionals) {
      throw new Error(`Unexpected argument: ${parsed.positionals[positionals]}`);
    }
    return parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

function json(value: unknown) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Backup and restore failures are the operator's to read: message, exit 1, nothing touched. */
async function reported<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BackupError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  }
}

export async function backupCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseFlags(args, { verify: { type: 'boolean' }, json: { type: 'boolean' } });
  return withDatabase(
    config,
    (_db, info) =>
      reported(async () => {
        say(
          `Backing up ${info.embedded ? `the embedded database (${config.dataDir}/pg)` : redactUrl(info.url)}`,
        );
        const result = await createBackup({ url: info.url, config, phase });
        const m = result.manifest;
        say(
          `${color.green('✓')} backup ${result.dir} — ${m.method === 'pg_dump' ? m.tool : 'COPY archive'}, ${mib(result.sizeBytes)}, ${m.tables.reduce((s, t) => s + t.rows, 0)} rows in ${m.tables.length} tables, ${m.durationMs} ms`,
        );
        if (result.removed.length > 0)
          say(`  retention (keep ${config.backupKeep}): removed ${result.removed.length} older archive(s)`);
        let verification: Awaited<ReturnType<typeof verifyBackup>> | undefined;
        if (values.verify) {
          verification = await verifyBackup(info.url, result.dir, { phase, backupId: result.id });
          for (const t of verification.tables.filter((t) => t.expected !== t.actual))
            say(color.red(`  ✗ ${t.table}: ${t.actual} rows restored, ${t.expected} expected`));
          if (!verification.integrity.ok)
            say(color.red(`  ✗ integrity: ${verification.integrity.failed.join(', ')}`));
          say(
            verification.ok
              ? color.green(
                  `✓ verified: restore drill took ${verification.restoreMs} ms, row counts match, integrity check passed`,
                )
              : color.red('✗ verification FAILED'),
          );
        }
        if (values.json) {
          json({
            id: result.id,
            dir: result.dir,
            method: m.method,
            sizeBytes: result.sizeBytes,
            durationMs: m.durationMs,
            tables: m.tables,
            removed: result.removed,
            verification,
          });
        }
        return verification && !verification.ok ? 1 : 0;
      }),
    // a backup is what one takes before migrating: pending migrations must not stop it
    { requireSchema: false },
  );
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

export async function restoreCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { yes: { type: 'boolean' }, json: { type: 'boolean' } },
    1,
  );
  const location = positionals[0];
  if (!location)
    throw new UsageError('restore needs the archive: swipesavvy restore <backup directory> [--yes]');
  // the checksums first: a corrupt archive is refused before anything is asked or touched
  const archive = await reported(() => phase('checksums', () => openArchive(location)));
  return withDatabase(
    config,
    (_db, info) =>
      reported(async () => {
        const target = info.embedded ? `the embedded database (${config.dataDir}/pg)` : redactUrl(info.url);
        const m = archive.manifest;
        say(
          `Archive of ${m.createdAt} (${m.method}, ${m.tables.reduce((s, t) => s + t.rows, 0)} rows) → ${target}`,
        );
        if (!values.yes) {
          if (!process.stdin.isTTY) throw new UsageError('restore replaces the database: confirm with --yes');
          if (!(await confirm(`This REPLACES every table of ${target}. Type "yes" to go on: `))) {
            say('Restore cancelled; nothing was changed.');
            return 1;
          }
        }
        const result = await restoreInto(info.url, archive, { phase });
        const mismatched = result.tables.filter((t) => t.expected !== t.actual);
        for (const t of mismatched)
          say(color.red(`  ✗ ${t.table}: ${t.actual} rows, ${t.expected} expected`));
        const ok = mismatched.length === 0 && result.integrity.ok;
        say(
          ok
            ? color.green(`✓ restored in ${result.restoreMs} ms; row counts match; integrity check passed`)
            : color.red(
                `✗ restore finished with problems${result.integrity.ok ? '' : `: integrity ${result.integrity.failed.join(', ')}`}`,
              ),
        );
        if (values.json) json(result);
        return ok ? 0 : 1;
      }),
    { requireSchema: false },
  );
}
