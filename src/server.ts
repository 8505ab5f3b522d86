import pino from 'pino';
import { type App, appDeps, buildApp } from './app.ts';
import { startAnalyticsJobs } from './modules/analytics/analytics.jobs.ts';
import { startNotificationWorkers } from './modules/notifications/notifications.jobs.ts';
import { createNotifier } from './modules/notifications/notifications.service.ts';
import type { Config } from './platform/config.ts';
import { redactUrl } from './platform/db.ts';
import { logQueueErrors } from './platform/queue.ts';
import { startRuntime } from './platform/runtime.ts';

export type RunningServer = { url: string; close(): Promise<void> };

/** Starts the whole product: database, migrations, queue and workers, mailbox, API. */
export async function startServer(config: Config): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, base: { service: 'swipesavvy', version: config.version } });
  const started = performance.now();
  const runtime = await startRuntime(config, { log: (line) => logger.info(line) });
  let app: App | undefined;
  const workerNotifier = createNotifier(runtime);
  try {
    app = await buildApp(appDeps(runtime, logger));
    if (runtime.queue) logQueueErrors(runtime.queue, (fields, message) => logger.warn(fields, message));
    if (config.workers && runtime.queue)
      await startNotificationWorkers(runtime.queue, workerNotifier, config.notify.jobConcurrency, (error) =>
        logger.warn({ err: error }, 'notification recovery failed'),
      );
    if (config.workers && runtime.queue) await startAnalyticsJobs(runtime.queue, runtime.db);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app?.close();
    await workerNotifier.close();
    await runtime.close();
    throw error;
  }
  const server = app;
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info(
    {
      url,
      database: runtime.embedded
        ? `embedded (${config.dataDir}/pg, port ${runtime.embedded.port})`
        : redactUrl(runtime.databaseUrl),
      mailbox: runtime.mailbox?.url ?? 'SMTP_URL',
      startupMs: Math.round(performance.now() - started),
    },
    'SwipeSavvy is ready',
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Stop taking requests and let those in flight finish; then the queue (waiting for running
      // jobs), the mailbox and the database, in the reverse order of their start.
      await server.close();
      await workerNotifier.close();
      await runtime.close();
      logger.info('stopped');
    })();
    return closing;
  };
  return { url, close };
}
