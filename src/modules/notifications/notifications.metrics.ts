import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../../platform/db.ts';
import { openQueueStats } from './notifications.delivery.repo.ts';

export type NotificationMetrics = {
  deliveries: Counter<'channel' | 'outcome'>;
  latency: Histogram<'channel'>;
};

/** The notifier is built twice per process (API and workers): both share these, registered once. */
export function notificationMetrics(registry: Registry, db: Db): NotificationMetrics {
  const existing = registry.getSingleMetric('swipesavvy_notification_deliveries_total');
  if (existing) {
    return {
      deliveries: existing as Counter<'channel' | 'outcome'>,
      latency: registry.getSingleMetric('swipesavvy_notification_delivery_seconds') as Histogram<'channel'>,
    };
  }
  let stats: Promise<{ depth: number; oldestSeconds: number }> | undefined;
  // one query serves both gauges of a scrape
  const read = () => {
    stats ??= openQueueStats(db).finally(() => setTimeout(() => (stats = undefined), 500).unref());
    return stats;
  };
  new Gauge({
    name: 'swipesavvy_notification_queue_depth',
    help: 'Notifications queued or being sent (including those waiting for a retry)',
    registers: [registry],
    async collect() {
      this.set((await read().catch(() => ({ depth: Number.NaN }))).depth);
    },
  });
  new Gauge({
    name: 'swipesavvy_notification_oldest_queued_seconds',
    help: 'Age of the oldest notification still queued or being sent',
    registers: [registry],
    async collect() {
      this.set((await read().catch(() => ({ oldestSeconds: Number.NaN }))).oldestSeconds);
    },
  });
  return {
    deliveries: new Counter({
      name: 'swipesavvy_notification_deliveries_total',
      help: 'Delivery attempts by channel and outcome (delivered, retry, failed, bounced, suppressed)',
      labelNames: ['channel', 'outcome'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'swipesavvy_notification_delivery_seconds',
      help: 'Time of one delivery attempt, by channel',
      labelNames: ['channel'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
