import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../../platform/config.ts';
import { type Db, withTransaction } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Mailer } from '../../platform/mail.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { decodeCursor, page } from '../../platform/pagination.ts';
import { inTransaction, type Queue, Queues } from '../../platform/queue.ts';
import { findCampaignForSend } from '../campaigns/campaigns.repo.ts';
import {
  allowlist,
  assertWebhookTarget,
  type Channel,
  createChannels,
  type Outcome,
  type Outgoing,
  PUSH_PAYLOAD_MAX_BYTES,
  parsePushSubscription,
  pushPayload,
} from './notifications.channels.ts';
import * as delivery from './notifications.delivery.repo.ts';
import { createLimiter, retryDelayMs } from './notifications.limits.ts';
import { type NotificationMetrics, notificationMetrics } from './notifications.metrics.ts';
import * as repo from './notifications.repo.ts';
import * as sends from './notifications.sends.repo.ts';
import { vapidKeys } from './notifications.vapid.ts';

export const FANOUT_BATCH = 1000;

export type DeliverJob = { sendId?: string; ids: string[] };
export type FanoutJob = { sendId: string };

export type NotifierDeps = {
  config: Config;
  db: Db;
  queue: Queue | undefined;
  mailer: Mailer;
  /** the process's registry: the API's and the workers' notifiers count into the same metrics */
  metrics?: Metrics;
};

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

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function createNotifier({ config, db, queue, mailer, metrics }: NotifierDeps) {
  const nc = config.notify;
  const allowed = allowlist(nc.privateAllowlist);
  const vapid = vapidKeys(config);
  const channels = createChannels({
    mailer,
    mailFrom: config.mailFrom,
    webhookTimeoutMs: config.webhookTimeoutMs,
    allowPrivateWebhookTargets: config.allowPrivateWebhookTargets,
    privateAllowlist: allowed,
    vapid,
    connections: Math.max(16, nc.concurrency * 2),
  });
  const limiter = createLimiter(nc.merchantRatePerSecond, nc.channelRatePerSecond);
  const counters: NotificationMetrics | undefined = metrics && notificationMetrics(metrics.registry, db);
  let recovery: NodeJS.Timeout | undefined;

  /** Delivery jobs for `ids`, in the caller's transaction, at most one batch per job. */
  async function enqueue(client: pg.PoolClient, sendId: string | null, ids: string[], startAfterSeconds = 0) {
    const q = requireQueue(queue);
    for (const batch of chunks(ids, FANOUT_BATCH)) {
      await q.send(Queues.deliver.name, { ...(sendId ? { sendId } : {}), ids: batch } satisfies DeliverJob, {
        ...inTransaction(client),
        // a job its (killed) worker fetched but never claimed rows for comes back after this
        expireInSeconds: Math.max(60, nc.leaseSeconds * 3),
        ...(startAfterSeconds > 0 ? { startAfter: startAfterSeconds } : {}),
      });
    }
  }

  function settle(n: delivery.Claimed, outcome: Outcome): delivery.Recorded {
    const attempt = n.attempts + 1;
    if (outcome.outcome === 'delivered')
      return { id: n.id, status: 'delivered', outcome, nextAttemptAt: null };
    if (outcome.outcome === 'permanent_error') {
      return { id: n.id, status: outcome.bounced ? 'bounced' : 'failed', outcome, nextAttemptAt: null };
    }
    if (attempt >= nc.maxAttempts || !queue)
      return { id: n.id, status: 'failed', outcome, nextAttemptAt: null };
    const delay = retryDelayMs(attempt, nc.retryBaseMs, nc.retryMaxMs, outcome.retryAfterMs);
    return { id: n.id, status: 'sending', outcome, nextAttemptAt: new Date(Date.now() + delay) };
  }

  /**
   * Delivers a batch: one statement claims it, deliveries run concurrently over keep-alive
   * connections, one statement records every outcome and attempt, and in the same transaction
   * the transient failures get their retry jobs (so a retry is never lost nor doubled).
   */
  async function deliverIds(ids: string[]) {
    const token = randomUUID();
    const claimed = await delivery.claimBatch(db, ids, token);
    const live = claimed.filter((c) => !c.suppressed);
    for (const c of claimed)
      if (c.suppressed) counters?.deliveries.inc({ channel: c.channel, outcome: 'suppressed' });
    const results: { n: delivery.Claimed; r: delivery.Recorded }[] = [];
    if (live.length > 0) {
      const merchants = [...new Set(live.filter((n) => n.channel === 'webhook').map((n) => n.merchantId))];
      const secrets = merchants.length > 0 ? await delivery.webhookSecretsFor(db, merchants) : new Map();
      const liveIds = live.map((n) => n.id);
      const renew = setInterval(
        () => delivery.renewClaim(db, token, liveIds).catch(() => {}),
        Math.max(500, (nc.leaseSeconds * 1000) / 3),
      );
      // a pause or cancel must stop a claimed batch too, not only the batches after it
      const sendIds = [...new Set(live.flatMap((n) => (n.sendId ? [n.sendId] : [])))];
      let halted = false;
      const watch =
        sendIds.length > 0
          ? setInterval(() => {
              delivery
                .haltedSends(db, sendIds)
                .then((h) => {
                  halted ||= h;
                })
                .catch(() => {});
            }, 250)
          : undefined;
      const released: string[] = [];
      try {
        await eachLimited(live, nc.concurrency, async (n) => {
          const wait = limiter(n.merchantId, n.channel);
          if (wait) await wait;
          if (halted) return void released.push(n.id);
          const outcome = await channels.deliver(n, { webhookSecrets: secrets.get(n.merchantId) ?? [] });
          results.push({ n, r: settle(n, outcome) });
        });
      } finally {
        clearInterval(renew);
        clearInterval(watch);
      }
      if (released.length > 0) {
        await withTransaction(db, async (client) => {
          const resumed = new Set(await delivery.sendingSendsLocked(client, sendIds));
          const back = await delivery.releaseClaim(client, token, released);
          for (const sendId of resumed) {
            const ids = back.filter((b) => b.sendId === sendId && b.status === 'sending').map((b) => b.id);
            if (ids.length > 0) await enqueue(client, sendId, ids);
          }
        });
      }
      const recorded = await withTransaction(db, async (client) => {
        const done = await delivery.recordBatch(
          client,
          token,
          results.map((x) => x.r),
        );
        const mine = results.filter((x) => done.has(x.n.id));
        const retryGroups = new Map<number, string[]>();
        for (const { n, r } of mine) {
          if (r.status !== 'sending' || !r.nextAttemptAt) continue;
          const seconds = Math.max(1, Math.ceil((r.nextAttemptAt.getTime() - Date.now()) / 1000));
          retryGroups.set(seconds, [...(retryGroups.get(seconds) ?? []), n.id]);
        }
        for (const [seconds, group] of retryGroups) {
          await enqueue(client, mine[0]!.n.sendId, group, seconds);
        }
        const gone = mine.filter((x) => x.r.outcome.gone);
        await delivery.markPushInvalid(
          client,
          gone.flatMap((x) => (x.n.customerId ? [x.n.customerId] : [])),
        );
        await delivery.addSuppressions(client, [
          ...gone.map((x) => ({ ...x.n, address: x.n.recipient, reason: 'invalid' })),
          ...mine
            .filter((x) => x.r.status === 'bounced')
            .map((x) => ({ ...x.n, address: x.n.recipient, reason: 'bounced' })),
        ]);
        return mine;
      });
      for (const { n, r } of recorded) {
        counters?.deliveries.inc({
          channel: n.channel,
          outcome: r.status === 'sending' ? 'retry' : r.status,
        });
        counters?.latency.observe({ channel: n.channel }, r.outcome.latencyMs / 1000);
      }
    }
    for (const sendId of new Set(claimed.flatMap((c) => (c.sendId ? [c.sendId] : [])))) {
      await sends.completeIfDone(db, sendId);
    }
    return results;
  }

  async function assertAddress(channel: Channel, to: string) {
    if (channel === 'email' && !/^[^\s@]+@[^\s@]+\.?[^\s@]*$/.test(to)) {
      throw new AppError('NOTIFICATION_ADDRESS_INVALID', `Not an email address: ${to}`);
    }
    if (channel === 'webhook') await assertWebhookTarget(to, config.allowPrivateWebhookTargets, allowed);
    if (channel === 'push') {
      const sub = parsePushSubscription(to);
      if (!config.allowPrivateWebhookTargets && !sub.endpoint.startsWith('https://')) {
        throw new AppError('NOTIFICATION_ADDRESS_INVALID', 'A push endpoint must be https');
      }
      await assertWebhookTarget(sub.endpoint, config.allowPrivateWebhookTargets, allowed, 'push endpoint');
    }
  }

  async function findOwnSend(client: pg.PoolClient | Db, merchantId: string, id: string) {
    const send = await sends.findSend(client, merchantId, id);
    if (!send) throw new AppError('NOTIFICATION_SEND_NOT_FOUND', `No notification campaign ${id}`);
    return send;
  }

  async function progress(merchantId: string, id: string) {
    const send = await findOwnSend(db, merchantId, id);
    const counts = await repo.sendCounts(db, id);
    return { ...send, counts };
  }

  /** Moves a send between states, with the work that goes with the move in the same transaction. */
  async function transition(
    merchantId: string,
    id: string,
    from: sends.SendStatus[],
    to: sends.SendStatus,
    work?: (client: pg.PoolClient, send: sends.SendRow) => Promise<void>,
  ) {
    await withTransaction(db, async (client) => {
      const send = await findOwnSend(client, merchantId, id);
      if (!(await sends.transitionSend(client, merchantId, id, from, to))) {
        throw new AppError(
          'NOTIFICATION_SEND_STATE',
          `The notification campaign is ${send.status}; it must be ${from.join(' or ')} to become ${to}`,
        );
      }
      await work?.(client, send);
    });
    return progress(merchantId, id);
  }

  return {
    /** Sends a test notification at once and answers with its receipt. */
    async sendTest(
      merchantId: string,
      input: { channel: Channel; to: string | Record<string, unknown>; subject?: string; message?: string },
    ) {
      const to = typeof input.to === 'string' ? input.to : JSON.stringify(input.to);
      if (input.channel !== 'push' && typeof input.to !== 'string') {
        throw new AppError('NOTIFICATION_ADDRESS_INVALID', `An ${input.channel} address is a string`);
      }
      await assertAddress(input.channel, to);
      const payload = {
        subject: input.subject ?? 'SwipeSavvy test notification',
        text: input.message ?? 'This is a test notification from SwipeSavvy.',
        data: { type: 'test' },
      };
      if (
        input.channel === 'push' &&
        Buffer.byteLength(pushPayload({ id: randomUUID(), idempotencyKey: randomUUID(), payload })) >
          PUSH_PAYLOAD_MAX_BYTES
      ) {
        throw new AppError(
          'NOTIFICATION_PAYLOAD_TOO_LARGE',
          `A push message holds at most ${PUSH_PAYLOAD_MAX_BYTES} bytes; shorten the subject or message`,
        );
      }
      const n = await repo.insertNotification(db, {
        merchantId,
        kind: 'test',
        channel: input.channel,
        recipient: input.channel === 'push' ? JSON.stringify(parsePushSubscription(to)) : to,
        payload,
      });
      await deliverIds([n.id]);
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
      await enqueue(client, null, [n.id]);
      return n;
    },

    async status(merchantId: string, id: string) {
      const n = await repo.findNotification(db, merchantId, id);
      if (!n) throw new AppError('NOTIFICATION_NOT_FOUND', `No notification ${id}`);
      return n;
    },

    /** displayed/opened from the receiving app: by the merchant's own token, or the notification's receipt token. */
    async receipt(id: string, event: string, check: { merchantId?: string; token?: string }) {
      const receipts = await repo.recordReceipt(db, id, event, check);
      if (!receipts)
        throw new AppError('NOTIFICATION_NOT_FOUND', `No notification ${id} with that receipt token`);
      return { id, receipts };
    },

    vapidPublicKey: () => ({ publicKey: vapid().publicKey }),

    async deliveryRate(
      merchantId: string,
      f: { campaignId?: string; channel?: Channel; windowHours?: number },
    ) {
      const since = f.windowHours ? new Date(Date.now() - f.windowHours * 3_600_000) : undefined;
      const c = await repo.deliveryCounts(db, merchantId, { ...f, since });
      const attempted = c.delivered + c.failed + c.bounced + c.suppressed;
      const base = attempted - c.suppressed;
      return {
        rate: base === 0 ? null : c.delivered / base,
        delivered: c.delivered,
        failed: c.failed,
        bounced: c.bounced,
        suppressed: c.suppressed,
        cancelled: c.cancelled,
        attempted,
        pending: c.queued + c.sending + c.sent,
        total: c.total,
        retries: c.retries,
        retriedNotifications: c.retried,
        windowHours: f.windowHours ?? null,
        campaignId: f.campaignId ?? null,
        channel: f.channel ?? null,
      };
    },

    /** A notification campaign for a campaign's audience, `ready` with its recipient count. */
    async createSend(merchantId: string, userId: string, campaignId: string) {
      const campaign = await findCampaignForSend(db, merchantId, campaignId);
      if (!campaign) throw new AppError('CAMPAIGN_NOT_FOUND', `No campaign ${campaignId}`);
      if (campaign.status === 'completed') {
        throw new AppError('NOTIFICATION_SEND_STATE', 'The campaign is completed; it sends nothing more');
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

    startSend: (merchantId: string, id: string) =>
      transition(merchantId, id, ['ready'], 'sending', async (client) => {
        await requireQueue(queue).send(Queues.fanout.name, { sendId: id } satisfies FanoutJob, {
          ...inTransaction(client),
          expireInSeconds: 300,
        });
      }),

    pauseSend: (merchantId: string, id: string) => transition(merchantId, id, ['sending'], 'paused'),

    resumeSend: (merchantId: string, id: string) =>
      transition(merchantId, id, ['paused'], 'sending', async (client, send) => {
        if (!send.fannedOutAt) {
          await requireQueue(queue).send(Queues.fanout.name, { sendId: id } satisfies FanoutJob, {
            ...inTransaction(client),
            expireInSeconds: 300,
          });
        }
        await enqueue(client, id, await sends.waitingIds(client, id));
      }),

    cancelSend: (merchantId: string, id: string) =>
      transition(merchantId, id, ['ready', 'sending', 'paused'], 'cancelled', async (client) => {
        await sends.cancelWaiting(client, id);
      }),

    async retryFailed(merchantId: string, id: string) {
      const retried = await withTransaction(db, async (client) => {
        const send = await findOwnSend(client, merchantId, id);
        if (send.status !== 'completed' && send.status !== 'sending') {
          throw new AppError(
            'NOTIFICATION_SEND_STATE',
            `The notification campaign is ${send.status}; only a sending or completed one retries its failed`,
          );
        }
        const ids = await sends.requeueFailed(client, id);
        if (ids.length > 0) {
          await sends.reopenSend(client, id);
          await enqueue(client, id, ids);
        }
        return ids.length;
      });
      return { retried, ...(await progress(merchantId, id)) };
    },

    async recipients(
      merchantId: string,
      id: string,
      q: { status?: string; limit?: number; cursor?: string },
    ) {
      await findOwnSend(db, merchantId, id);
      const limit = q.limit ?? 50;
      const statuses =
        q.status === 'undelivered'
          ? repo.Statuses.filter((s) => s !== 'delivered')
          : q.status
            ? [q.status]
            : undefined;
      const rows = await sends.listRecipients(db, id, { statuses, limit, after: decodeCursor(q.cursor) });
      return page(rows, limit);
    },

    progress,

    async addSuppression(merchantId: string, s: { channel: Channel; address: string; note?: string }) {
      await delivery.addSuppressions(db, [
        { merchantId, channel: s.channel, address: s.address, reason: 'manual' },
      ]);
      return { channel: s.channel, address: s.address, reason: 'manual' };
    },

    async rotateWebhookSecret(merchantId: string) {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const until = new Date(Date.now() + nc.secretOverlapHours * 3_600_000);
      const { previousUntil } = await delivery.rotateWebhookSecret(db, merchantId, secret, until);
      return { secret, previousValidUntil: previousUntil };
    },

    /** Job: creates the send's notifications batch by batch, each batch's delivery job in the same transaction. */
    async fanout(job: FanoutJob) {
      const send = await sends.findSendForFanout(db, job.sendId);
      if (send?.status !== 'sending') return;
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        // a pause or cancel stops the fan-out; resume starts it again (rows made already are skipped)
        if ((await sends.findSendForFanout(db, job.sendId))?.status !== 'sending') return;
        const batch = await withTransaction(db, async (client) => {
          if (!(await sends.lockMerchant(client, send.merchantId))) return { last: null, ids: [] };
          await sends.fanoutHeartbeat(client, send.id);
          const result = await sends.fanOutBatch(client, send, after, FANOUT_BATCH);
          if (result.ids.length > 0) await enqueue(client, send.id, result.ids);
          return result;
        });
        if (!batch.last) break;
        after = batch.last;
      }
      await sends.finishFanout(db, send.id);
      await sends.completeIfDone(db, send.id);
    },

    /** Job: delivers a batch. Transient failures are rescheduled per notification, never by failing the job. */
    async deliverBatch(job: DeliverJob) {
      await deliverIds(job.ids);
    },

    /** Takes back work of workers that died (SIGKILL) and queues it again; runs in every worker. */
    async recover() {
      const groups = await withTransaction(db, async (client) => {
        const stale = await delivery.recoverStale(client, nc.leaseSeconds);
        for (const g of stale) await enqueue(client, g.sendId, g.ids);
        for (const sendId of await sends.takeStalledFanouts(client, nc.leaseSeconds)) {
          await requireQueue(queue).send(Queues.fanout.name, { sendId } satisfies FanoutJob, {
            ...inTransaction(client),
            expireInSeconds: 300,
          });
        }
        return stale;
      });
      return groups.reduce((n, g) => n + g.ids.length, 0);
    },

    startRecovery(onError: (error: unknown) => void = () => {}) {
      recovery ??= setInterval(
        () => void this.recover().catch(onError),
        Math.max(1000, (nc.leaseSeconds * 1000) / 2),
      );
    },

    close: async () => {
      clearInterval(recovery);
      await channels.close();
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
