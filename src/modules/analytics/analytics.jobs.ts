import type { Db } from '../../platform/db.ts';
import { type Queue, Queues } from '../../platform/queue.ts';
import * as allocationRepo from './analytics.allocation.repo.ts';
import * as liftRepo from './analytics.lift.repo.ts';
import * as repo from './analytics.repo.ts';
import { createAnalyticsService } from './analytics.service.ts';

/** How far ahead monthly event partitions exist, so an insert never waits on (or fails for) DDL. */
export const PARTITION_MONTHS_AHEAD = 3;

// cron, UTC: partitions daily, the holdout baselines every 5 minutes, allocation every 15
const Schedules = {
  [Queues.analyticsPartitions.name]: '17 3 * * *',
  [Queues.analyticsLift.name]: '*/5 * * * *',
  [Queues.analyticsAllocation.name]: '*/15 * * * *',
};

export function createAnalyticsJobs(db: Db) {
  const analytics = createAnalyticsService(db);
  return {
    ensurePartitions: () => repo.ensurePartitions(db, PARTITION_MONTHS_AHEAD),
    async refreshLifts() {
      for (const id of await liftRepo.campaignsNeedingLift(db)) await analytics.refreshLift(id);
    },
    async reallocate(random?: () => number) {
      const changed: string[] = [];
      for (const c of await allocationRepo.adaptiveCampaigns(db)) {
        if (await analytics.reallocate(c.id, c.merchantId, c.floor, random)) changed.push(c.id);
      }
      return changed;
    },
  };
}

/** Schedules the analytics jobs on the queue and works them (in the API process or a worker). */
export async function startAnalyticsJobs(queue: Queue, db: Db): Promise<void> {
  const jobs = createAnalyticsJobs(db);
  await jobs.ensurePartitions();
  for (const [name, cron] of Object.entries(Schedules)) await queue.schedule(name, cron, null, { tz: 'UTC' });
  await queue.work(Queues.analyticsPartitions.name, async () => {
    await jobs.ensurePartitions();
  });
  await queue.work(Queues.analyticsLift.name, async () => jobs.refreshLifts());
  await queue.work(Queues.analyticsAllocation.name, async () => {
    await jobs.reallocate();
  });
}
