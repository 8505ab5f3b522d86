import pino from 'pino';
import { startAnalyticsJobs } from './modules/analytics/analytics.jobs.ts';
import { startNotificationWorkers } from './modules/notifications/notifications.jobs.ts';
import { createNotifier } from './modules/notifications/notifications.service.ts';
import type { Config } from './platform/config.ts';
import { logQueueErrors } from './platform/queue.ts';
import { startRuntime } from './platform/runtime.ts';

/**
 * The job workers without the HTTP server: `swipesavvy worker`, scaled out as separate processes
 * against one database. It neither migrates (the API does) nor starts a mailbox (it sends to
 * SMTP_URL, or to the API's local mailbox on MAILBOX_PORT).
 */
export async function startWorker(config: Config): Promise<{ close(): Promise<void> }> {
  const logger = pino({
    level: config.logLevel,
    base: { service: 'swipesavvy-worker', version: config.version },
  });
  const runtime = await startRuntime(config, { migrate: false, mailbox: false });
  const notifier = createNotifier(runtime);
  try {
    if (runtime.queue) logQueueErrors(runtime.queue, (fields, message) => logger.warn(fields, message));
    if (!runtime.queue) throw new Error('the job queue did not start');
    await startNotificationWorkers(runtime.queue, notifier, config.notify.jobConcurrency, (error) =>
      logger.warn({ err: error }, 'notification recovery failed'),
    );
    await startAnalyticsJobs(runtime.queue, runtime.db);
  } catch (error) {
    await notifier.close();
    await runtime.close();
    throw error;
  }
  logger.info({ pid: process.pid, jobConcurrency: config.notify.jobConcurrency }, 'worker ready');
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await runtime.close();
        await notifier.close();
        logger.info('worker stopped');
      })();
      return closing;
    },
  };
}
