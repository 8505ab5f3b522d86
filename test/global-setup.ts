// Runs once per `node --test` run: a PostgreSQL for the whole run (the embedded one, or the
// server at TEST_DATABASE_URL) and a template database with every migration and the job queue's
// schema applied. Each test file then copies the template into a database of its own.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createPool, withDatabase } from '../src/platform/db.ts';
import { type EmbeddedDatabase, useEmbeddedDatabase } from '../src/platform/embedded-db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { startQueue } from '../src/platform/queue.ts';

let embedded: EmbeddedDatabase | undefined;
let dataDir: string | undefined;
let adminUrl: string;
let template: string;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function globalSetup() {
  const external = process.env['TEST_DATABASE_URL'];
  if (external) {
    adminUrl = external;
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-test-'));
    chmodSync(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user and must enter it
    embedded = await useEmbeddedDatabase({
      dataDir,
      port: await freePort(),
      // a throwaway cluster: durability buys nothing here
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' },
    });
    adminUrl = embedded.url;
  }
  template = `swipesavvy_tpl_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  const url = withDatabase(adminUrl, template);
  const pool = createPool(url, 2);
  await migrate(pool);
  await pool.end();
  const queue = await startQueue(url);
  await queue.stop({ graceful: false });
  process.env['SWIPESAVVY_TEST_ADMIN_URL'] = adminUrl;
  process.env['SWIPESAVVY_TEST_TEMPLATE'] = template;
}

export async function globalTeardown() {
  if (embedded) {
    await embedded.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    return;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const { rows } = await admin.query<{ name: string }>(
    "SELECT datname AS name FROM pg_database WHERE datname LIKE 'swipesavvy\\_t\\_%'",
  );
  for (const { name } of rows) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  await admin.end();
}
