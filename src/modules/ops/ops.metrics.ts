import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import { GAUGES } from '../../ops/ops-metrics.ts';
import type { Db } from '../../platform/db.ts';
import { recentDeliveryRate, replicaLags } from './ops.repo.ts';

function memoryUsage(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return 1 - (Number(m[1]) * 1024) / os.totalmem();
  } catch {}
  return 1 - os.freemem() / os.totalmem();
}

function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    idle += c.times.idle;
    total += c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq;
  }
  return { idle, total };
}

/** The gauges of the critical-metrics table, computed when Prometheus (or the monitor) scrapes. */
export function registerOpsGauges(registry: Registry, db: Db): void {
  let lastCpu = cpuTimes();
  new Gauge({
    name: GAUGES.cpu,
    help: 'Host CPU in use since the previous scrape (0..1)',
    registers: [registry],
    collect() {
      const now = cpuTimes();
      const total = now.total - lastCpu.total;
      if (total > 0) this.set(1 - (now.idle - lastCpu.idle) / total);
      lastCpu = now;
    },
  });
  new Gauge({
    name: GAUGES.memory,
    help: 'Host memory in use (0..1)',
    registers: [registry],
    collect() {
      this.set(memoryUsage());
    },
  });
  new Gauge({
    name: GAUGES.dbPool,
    help: "Connections of this process's database pool in use (0..1)",
    registers: [registry],
    collect() {
      const max = (db as unknown as { options: { max: number } }).options.max;
      this.set((db.totalCount - db.idleCount) / max);
    },
  });
  // one read of the database per scrape, shared by the three gauges below
  let cached:
    | {
        at: number;
        read: Promise<{
          rate: number | null;
          lags: { replica: string; seconds: number }[];
        }>;
      }
    | undefined;
  const readDatabase = () => {
    if (!cached || Date.now() - cached.at > 500) {
      cached = {
        at: Date.now(),
        read: Promise.all([recentDeliveryRate(db).catch(() => null), replicaLags(db).catch(() => [])]).then(
          ([rate, lags]) => ({ rate, lags }),
        ),
      };
    }
    return cached.read;
  };
  // the notification queue's depth is exported by the notifications module (one gauge per name)
  new Gauge({
    name: GAUGES.delivery,
    help: 'Notifications delivered among those finished in the last hour (0..1)',
    labelNames: ['window'],
    registers: [registry],
    async collect() {
      const { rate } = await readDatabase();
      this.reset();
      if (rate !== null) this.set({ window: '1h' }, rate);
    },
  });
  new Gauge({
    name: GAUGES.replicationLag,
    help: 'Streaming replication lag per replica',
    labelNames: ['replica'],
    registers: [registry],
    async collect() {
      const { lags } = await readDatabase();
      this.reset();
      for (const l of lags) this.set({ replica: l.replica }, l.seconds);
    },
  });
}
