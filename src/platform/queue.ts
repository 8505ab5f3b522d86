import type pg from 'pg';
import { PgBoss } from 'pg-boss';

export type Queue = PgBoss;

/** Queue names and their retry policy, in one place. */
export const Queues = {
  fanout: { name: 'notifications.fanout', retryLimit: 10, retryDelay: 2, retryBackoff: true },
  deliver: { name: 'notifications.deliver', retryLimit: 10, retryDelay: 2, retryBackoff: true },
  analyticsPartitions: { name: 'analytics.partitions', retryLimit: 3, retryDelay: 60, retryBackoff: false },
  analyticsLift: { name: 'analytics.lift', retryLimit: 1, retryDelay: 60, retryBackoff: false },
  analyticsAllocation: { name: 'analytics.allocation', retryLimit: 1, retryDelay: 60, retryBackoff: false },
} as const;

export async function startQueue(connectionString: string, options: { max?: number } = {}): Promise<Queue> {
  const boss = new PgBoss({
    connectionString,
    schema: 'pgboss',
    max: options.max ?? 4,
    application_name: 'swipesavvy-queue',
  });
  // Errors of the queue's own maintenance are logged by the caller's 'error' listener;
  // without a listener EventEmitter would throw them.
  boss.on('error', () => {});
  await boss.start();
  for (const q of Object.values(Queues)) {
    const { name, ...policy } = q;
    await boss.createQueue(name, policy);
  }
  return boss;
}

/**
 * Logs the queue's own errors (maintenance, lost connections) as message and code: pg's errors
 * carry their client object, which would fill a log line with the connection's internals.
 */
export function logQueueErrors(queue: Queue, warn: (fields: object, message: string) => void): void {
  queue.on('error', (error: Error & { code?: string }) =>
    warn({ err: { type: error.name, message: error.message, code: error.code } }, 'job queue error'),
  );
}

/** The pg-boss `db` option that makes a send part of the caller's transaction. */
export function inTransaction(client: pg.PoolClient) {
  return { db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) } };
}
