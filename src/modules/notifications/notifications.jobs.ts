import type { JobWithMetadata } from 'pg-boss';
import { type Queue, Queues } from '../../platform/queue.ts';
import type { DeliverJob, FanoutJob, Notifier } from './notifications.service.ts';

/** Registers the notification workers on the queue (in the API process or a `worker` process). */
export async function startNotificationWorkers(
  queue: Queue,
  notifier: Notifier,
  concurrency = 4,
): Promise<void> {
  await queue.work<FanoutJob>(
    Queues.fanout.name,
    { batchSize: 1, pollingIntervalSeconds: 0.5 },
    async ([job]) => notifier.fanout(job!.data),
  );
  await queue.work<DeliverJob>(
    Queues.deliver.name,
    { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 0.5, includeMetadata: true },
    async ([job]) => {
      const j = job as JobWithMetadata<DeliverJob>;
      await notifier.deliverBatch(j.data, j.retryCount >= j.retryLimit);
    },
  );
}
