import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { createPool, type Db } from './db.ts';
import { type EmbeddedDatabase, resolveDatabase } from './embedded-db.ts';
import { createMailer, type LocalMailbox, type Mailer, startLocalMailbox } from './mail.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { migrate } from './migrate.ts';
import { type Queue, startQueue } from './queue.ts';

export type Runtime = {
  config: Config;
  databaseUrl: string;
  embedded: EmbeddedDatabase | undefined;
  db: Db;
  queue: Queue | undefined;
  mailer: Mailer;
  mailbox: LocalMailbox | undefined;
  jwtSecret: string;
  metrics: Metrics;
  close(): Promise<void>;
};

export type RuntimeOptions = {
  log?: (line: string) => void;
  /** apply pending migrations (the server does; `migrate --dry-run` does not) */
  migrate?: boolean;
  queue?: boolean;
  mailbox?: boolean;
  poolMax?: number;
};

/** The embedded default keeps a generated JWT secret in the data directory, readable by its owner only. */
function localJwtSecret(dataDir: string): string {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret: string }).jwtSecret;
  mkdirSync(dataDir, { recursive: true });
  const jwtSecret = randomBytes(48).toString('base64url');
  writeFileSync(file, JSON.stringify({ jwtSecret }, null, 2), { mode: 0o600 });
  return jwtSecret;
}

/** Starts what the server and the CLI share: database, migrations, job queue, mail. */
export async function startRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const log = options.log ?? (() => {});
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const fn of [...closers].reverse())
      await fn().catch((e) => log(`shutdown: ${(e as Error).message}`));
  };
  try {
    const { url, embedded } = await resolveDatabase(config, log);
    if (embedded) closers.push(() => embedded.stop());
    const db = createPool(url, options.poolMax ?? config.dbPoolMax);
    closers.push(() => db.end());
    if (options.migrate !== false) {
      const result = await migrate(db, { log });
      if (result.applied.length === 0) log('database schema is up to date');
    }
    let queue: Queue | undefined;
    if (options.queue !== false) {
      queue = await startQueue(url);
      const q = queue;
      closers.push(async () => {
        await q.stop({ graceful: true, timeout: config.shutdownGraceMs });
        // from here the database stops: its connections' last errors are the shutdown, not news
        q.removeAllListeners('error');
        q.on('error', () => {});
      });
    }
    let mailbox: LocalMailbox | undefined;
    let smtpUrl = config.smtpUrl;
    if (!smtpUrl && options.mailbox !== false) {
      mailbox = await startLocalMailbox(db, config.mailboxPort);
      const m = mailbox;
      closers.push(() => m.close());
      smtpUrl = mailbox.url;
      log(`local mailbox listening on ${mailbox.url}`);
    }
    const mailer = createMailer(smtpUrl ?? `smtp://127.0.0.1:${config.mailboxPort}`);
    closers.push(async () => mailer.close());
    return {
      config,
      databaseUrl: url,
      embedded,
      db,
      queue,
      mailer,
      mailbox,
      jwtSecret: config.jwtSecret ?? localJwtSecret(config.dataDir),
      metrics: createMetrics(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
