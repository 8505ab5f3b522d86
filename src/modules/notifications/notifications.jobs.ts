import type { Queue } from '../../platform/queue.ts';
import { Queues } from '../../platform/queue.ts';
import type { DeliverJob, FanoutJob, Notifier } from './notifications.service.ts';

/** Registers the notification workers on the queue (in the API process or a `worker` process). */
export async function startNotificationWorkers(
  queue: Queue,
  notifier: Notifier,
  concurrency = 4,
  onError: (error: unknown) => void = () => {},
): Promise<void> {
  await queue.work<FanoutJob>(
    Queues.fanout.name,
    { batchSize: 1, pollingIntervalSeconds: 0.5 },
    async ([job]) => notifier.fanout(job!.data),
  );
  await queue.work<DeliverJob>(
    Queues.deliver.name,
    { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 0.5 },
    async ([job]) => notifier.deliverBatch(job!.data),
  );
  notifier.startRecovery(onError);
}
