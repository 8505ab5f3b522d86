import type { Config } from '../platform/config.ts';
import { createPool, type Db } from '../platform/db.ts';
import { resolveDatabase } from '../platform/embedded-db.ts';
import { migrate, pendingMigrations } from '../platform/migrate.ts';
import { color, say, UsageError } from './cli-output.ts';

export { color, say, UsageError } from './cli-output.ts';

const tty = process.stderr.isTTY;

export async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  if (tty) process.stderr.write(`${color.dim('▸')} ${name} …`);
  try {
    const result = await work();
    const ms = Math.round(performance.now() - t0);
    if (tty) process.stderr.write(`\r${color.green('✓')} ${name} ${color.dim(`(${ms} ms)`)}\n`);
    else say(`✓ ${name} (${ms} ms)`);
    return result;
  } catch (error) {
    if (tty) process.stderr.write(`\r${color.red('✗')} ${name}\n`);
    else say(`✗ ${name}`);
    throw error;
  }
}

/** A one-line progress bar on a terminal; a line per 10 % otherwise. */
export function progressBar(label: string, total: number) {
  let lastDecile = -1;
  return (done: number) => {
    const ratio = total === 0 ? 1 : Math.min(1, done / total);
    if (tty) {
      const width = 30;
      const filled = Math.round(ratio * width);
      process.stderr.write(
        `\r  ${label} [${'█'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${done}/${total}`,
      );
      if (done >= total) process.stderr.write('\n');
    } else {
      const decile = Math.floor(ratio * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        say(`  ${label} ${decile * 10}% (${done}/${total})`);
      }
    }
  };
}

/**
 * Runs `work` with a pool on the configured database: DATABASE_URL, or the embedded server —
 * the one a running `swipesavvy start` has up, or one started here for the command and stopped after.
 */
export async function withDatabase<T>(
  config: Config,
  work: (db: Db, info: { url: string; embedded: boolean; startedHere: boolean }) => Promise<T>,
  options: { migrate?: boolean; requireSchema?: boolean } = {},
): Promise<T> {
  const { url, embedded } = await resolveDatabase(config);
  const db = createPool(url, 5, 'swipesavvy-cli');
  try {
    if (options.migrate) {
      await migrate(db);
    } else if (options.requireSchema !== false) {
      const client = await db.connect();
      try {
        const pending = await pendingMigrations(client);
        if (pending.length > 0) {
          throw new UsageError(
            `The database has ${pending.length} pending migration(s) (${pending.map((m) => `${m.version}_${m.name}`).join(', ')}); run: swipesavvy migrate`,
          );
        }
      } finally {
        client.release();
      }
    }
    return await work(db, { url, embedded: embedded !== undefined, startedHere: embedded?.owned ?? false });
  } finally {
    await db.end();
    await embedded?.stop();
  }
}
