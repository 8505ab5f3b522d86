import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createPool } from '../../src/platform/db.ts';
import { createMailer } from '../../src/platform/mail.ts';
import { createMetrics } from '../../src/platform/metrics.ts';

/**
 * The server's OpenAPI document, from the app built on a throwaway configuration: no database is
 * reached (the pool connects lazily and no request is made), so this runs anywhere in a second.
 */
export async function openapiSpec(): Promise<Record<string, unknown>> {
  const config = loadConfig(
    {},
    {
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      // never signs anything: the spec is generated without a server; random so no key sits in the repo
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'silent',
      WORKERS: 'false',
      APP_VERSION: '0.0.0-spec',
    },
  );
  const db = createPool(config.databaseUrl!, 2);
  const app = await buildApp({
    config,
    db,
    queue: undefined,
    mailer: createMailer('smtp://127.0.0.1:1'),
    jwtSecret: config.jwtSecret!,
    metrics: createMetrics(),
    mailbox: true,
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
    await db.end();
  }
}
