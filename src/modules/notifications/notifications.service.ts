import type pg from 'pg';
import type { Config } from '../../platform/config.ts';
import { type Db, withTransaction } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Mailer } from '../../platform/mail.ts';
import { inTransaction, type Queue, Queues } from '../../platform/queue.ts';
import { findCampaignForSend } from '../campaigns/campaigns.repo.ts';
import { webhookSecrets } from '../merchants/merchants.repo.ts';
import {
  assertWebhookTarget,
  type Channel,
  createChannels,
  type Outgoing,
} from './notifications.channels.ts';
import * as repo from './notifications.repo.ts';
import * as sends from './notifications.sends.repo.ts';

/** A notification is tried at most this many times before it is `failed`. */
export const MAX_ATTEMPTS = 5;
export const FANOUT_BATCH = 1000;
const DELIVERY_CONCURRENCY = 32;

export type DeliverJob = { sendId?: string; ids: string[] };
export type FanoutJob = { sendId: string };

export type NotifierDeps = { config: Config; db: Db; queue: Queue | undefined; mailer: Mailer };

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

function requireQueue(queue: Queue | undefined): Queue {
  if (!queue) throw new AppError('SERVICE_UNAVAILABLE', 'The job queue is not running');
  return queue;
}

export function createNotifier({ config, db, queue, mailer }: NotifierDeps) {
  const channels = createChannels({
    mailer,
    mailFrom: config.mailFrom,
    webhookTimeoutMs: config.webhookTimeoutMs,
    allowPrivateWebhookTargets: config.allowPrivateWebhookTargets,
    webhookSecrets: (merchantId) => webhookSecrets(db, merchantId),
  });

  /** One delivery attempt; returns the status it left, or undefined when it was already final. */
  async function deliverOne(id: string, options: { final?: boolean } = {}) {
    const n = await repo.claimForDelivery(db, id);
    if (!n) return undefined;
    const outcome = await channels.deliver(n);
    const status = await repo.recordOutcome(
      db,
      id,
      n.attempts,
      outcome,
      options.final || n.attempts >= MAX_ATTEMPTS,
    );
    return { status, outcome };
  }

  async function assertAddress(channel: Channel, to: string) {
    if (channel === 'push') {
      throw new AppError(
        'NOTIFICATION_CHANNEL_UNSUPPORTED',
        'Web push delivery is not available on this server yet',
      );
    }
    if (channel === 'email' && !/^[^\s@]+@[^\s@]+$/.test(to)) {
      throw new AppError('NOTIFICATION_ADDRESS_INVALID', `Not an email address: ${to}`);
    }
    if (channel === 'webhook') await assertWebhookTarget(to, config.allowPrivateWebhookTargets);
  }

  async function progress(merchantId: string, id: string) {
    const send = await sends.findSend(db, merchantId, id);
    if (!send) throw new AppError('NOTIFICATION_SEND_NOT_FOUND', `No notification campaign ${id}`);
    const counts = await repo.sendCounts(db, id);
    return { ...send, counts };
  }

  return {
    deliverOne,

    /** Sends a test notification at once and answers with its receipt. */
    async sendTest(
      merchantId: string,
      input: { channel: Channel; to: string; subject?: string; message?: string },
    ) {
      await assertAddress(input.channel, input.to);
      const n = await repo.insertNotification(db, {
        merchantId,
        kind: 'test',
        channel: input.channel,
        recipient: input.to,
        payload: {
          subject: input.subject ?? 'SwipeSavvy test notification',
          text: input.message ?? 'This is a test notification from SwipeSavvy.',
          data: { type: 'test' },
        },
      });
      // A test is one attempt: its answer is the receipt the caller is waiting for.
      await deliverOne(n.id, { final: true });
      return (await repo.findNotification(db, merchantId, n.id))!;
    },

    /** Queues an email in the caller's transaction, so it exists only if the transaction commits. */
    async queueSystemEmail(
      client: pg.PoolClient,
      merchantId: string,
      to: string,
      payload: Outgoing['payload'],
    ): Promise<repo.NotificationRow> {
      const n = await repo.insertNotification(client, {
        merchantId,
        kind: 'system',
        channel: 'email',
        recipient: to,
        payload,
      });
      await requireQueue(queue).send(
        Queues.deliver.name,
        { ids: [n.id] } satisfies DeliverJob,
        inTransaction(client),
      );
      return n;
    },

    async status(merchantId: string, id: string) {
      const n = await repo.findNotification(db, merchantId, id);
      if (!n) throw new AppError('NOTIFICATION_NOT_FOUND', `No notification ${id}`);
      return n;
    },

    async deliveryRate(
      merchantId: string,
      f: { campaignId?: string; channel?: Channel; windowHours?: number },
    ) {
      const since = f.windowHours ? new Date(Date.now() - f.windowHours * 3_600_000) : undefined;
      const counts = await repo.deliveryCounts(db, merchantId, { ...f, since });
      const finished = counts.delivered + counts.failed + counts.bounced;
      return {
        rate: finished === 0 ? null : counts.delivered / finished,
        delivered: counts.delivered,
        failed: counts.failed,
        bounced: counts.bounced,
        pending: counts.queued + counts.sending + counts.sent,
        total: counts.total,
        windowHours: f.windowHours ?? null,
      };
    },

    /** A notification campaign for a campaign's audience, `ready` with its recipient count. */
    async createSend(merchantId: string, userId: string, campaignId: string) {
      const campaign = await findCampaignForSend(db, merchantId, campaignId);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${campaignId}`);
      if (campaign.status === 'completed') {
        throw new AppError('NOTIFICATION_SEND_STATE', 'The campaign is completed; it sends nothing more');
      }
      if (campaign.channel === 'push') {
        throw new AppError(
          'NOTIFICATION_CHANNEL_UNSUPPORTED',
          'Web push delivery is not available on this server yet',
        );
      }
      const recipients = await sends.countSendAudience(db, { merchantId, campaignId, ...campaign });
      if (recipients === 0) {
        throw new AppError(
          'NOTIFICATION_AUDIENCE_EMPTY',
          `No customer of the campaign's segment can be reached by ${campaign.channel}`,
        );
      }
      return sends.insertSend(db, { merchantId, campaignId, recipients, createdBy: userId });
    },

    async startSend(merchantId: string, id: string) {
      const q = requireQueue(queue);
      await withTransaction(db, async (client) => {
        const send = await sends.findSend(client, merchantId, id);
        if (!send) throw new AppError('NOTIFICATION_SEND_NOT_FOUND', `No notification campaign ${id}`);
        if (!(await sends.transitionSend(client, merchantId, id, ['ready'], 'sending'))) {
          throw new AppError(
            'NOTIFICATION_SEND_STATE',
            `The notification campaign is ${send.status}, not ready`,
          );
        }
        await q.send(Queues.fanout.name, { sendId: id } satisfies FanoutJob, inTransaction(client));
      });
      return progress(merchantId, id);
    },

    progress,

    /** Job: creates the send's notifications batch by batch, each batch's delivery job in the same transaction. */
    async fanout(job: FanoutJob) {
      const send = await sends.findSendForFanout(db, job.sendId);
      if (send?.status !== 'sending') return;
      const q = requireQueue(queue);
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        const batch = await withTransaction(db, async (client) => {
          const result = await sends.fanOutBatch(client, send, after, FANOUT_BATCH);
          if (result.ids.length > 0) {
            await q.send(
              Queues.deliver.name,
              { sendId: send.id, ids: result.ids } satisfies DeliverJob,
              inTransaction(client),
            );
          }
          return result;
        });
        if (!batch.last) break;
        after = batch.last;
      }
      await sends.finishFanout(db, send.id);
      await sends.completeIfDone(db, send.id);
    },

    /**
     * Job: delivers a batch. Notifications left `sending` by a transient error make the job fail,
     * so the queue retries it with backoff; the final attempt marks them `failed`.
     */
    async deliverBatch(job: DeliverJob, lastTry: boolean) {
      let transient = 0;
      await eachLimited(job.ids, DELIVERY_CONCURRENCY, async (id) => {
        const result = await deliverOne(id, { final: lastTry });
        if (result?.status === 'sending') transient++;
      });
      if (job.sendId) await sends.completeIfDone(db, job.sendId);
      if (transient > 0)
        throw new Error(`${transient} of ${job.ids.length} deliveries failed transiently; retrying`);
    },

    close: () => channels.close(),
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
