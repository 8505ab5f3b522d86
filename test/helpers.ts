import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type App, appDeps, buildApp } from '../src/app.ts';
import { startAnalyticsJobs } from '../src/modules/analytics/analytics.jobs.ts';
import { startNotificationWorkers } from '../src/modules/notifications/notifications.jobs.ts';
import { createNotifier } from '../src/modules/notifications/notifications.service.ts';
import { type Config, loadConfig } from '../src/platform/config.ts';
import { withDatabase } from '../src/platform/db.ts';
import { type Runtime, startRuntime } from '../src/platform/runtime.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through npm test (it sets up the database)`);
  return value;
}

/**
 * A database of this test file's own, copied from the migrated template (or empty, with
 * `{ empty: true }`). The global teardown drops them all once every file has ended: dropping
 * one here, while the file's servers and pools may still be closing, would cut their connections.
 */
export async function testDatabase(options: { empty?: boolean } = {}): Promise<string> {
  const adminUrl = required('SWIPESAVVY_TEST_ADMIN_URL');
  const template = options.empty ? 'template0' : required('SWIPESAVVY_TEST_TEMPLATE');
  const name = `swipesavvy_t_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  await admin.end();
  return withDatabase(adminUrl, name);
}

export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): Config {
  return loadConfig(
    {},
    {
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      MAILBOX_PORT: '0',
      PORT: '0',
      JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
      AUTH_RATE_LIMIT_PER_MINUTE: '10000',
      LOG_LEVEL: 'silent',
      DB_POOL_MAX: '10',
      SHUTDOWN_GRACE_MS: '2000',
      ALERTS_INTERVAL_SECONDS: '0',
      ...overrides,
    },
  );
}

export type TestApp = { app: App; runtime: Runtime; config: Config; db: Runtime['db'] };

/** The real app on a database of its own, with its queue, workers and local mailbox. */
export async function startTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const config = testConfig(await testDatabase(), overrides);
  const runtime = await startRuntime(config, { migrate: false });
  const app = await buildApp(appDeps(runtime));
  const notifier = createNotifier(runtime);
  if (config.workers && runtime.queue) await startNotificationWorkers(runtime.queue, notifier);
  if (config.workers && runtime.queue) await startAnalyticsJobs(runtime.queue, runtime.db);
  after(async () => {
    await app.close();
    await notifier.close();
    await runtime.close();
  });
  return { app, runtime, config, db: runtime.db };
}

export type Session = { token: string; userId: string; merchantId: string; email: string; password: string };

let counter = 0;
export async function signup(app: App, fields: Record<string, unknown> = {}): Promise<Session> {
  const email = `user${++counter}-${randomBytes(3).toString('hex')}@example.test`;
  const password = 'correct horse battery';
  const res = await app.inject({
    method: 'POST',
    url: '/api/users/signup',
    payload: { email, password, name: 'Test User', ...fields },
  });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  const user = res.json();
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
  return { token: login.json().token, userId: user.id, merchantId: user.merchantId, email, password };
}

export { runCli } from './cli.ts';

export const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** A staff user of `owner`'s merchant with the given role, logged in. */
export async function staff(
  app: App,
  owner: Session,
  role: 'owner' | 'admin' | 'analyst' | 'viewer',
): Promise<Session> {
  const email = `${role}-${randomBytes(4).toString('hex')}@example.test`;
  const password = 'staff password';
  const res = await app.inject({
    method: 'POST',
    url: '/api/users',
    headers: auth(owner),
    payload: { email, password, name: role, role },
  });
  if (res.statusCode !== 201) throw new Error(`adding a ${role} failed: ${res.statusCode} ${res.body}`);
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
  return { token: login.json().token, userId: res.json().id, merchantId: owner.merchantId, email, password };
}

export function auth(session: { token: string }) {
  return { authorization: `Bearer ${session.token}` };
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(
  check: () => Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<Exclude<T, false>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<Exclude<T, false>>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
