// A steady request load for the deploy tests and benchmark: a fixed rate, each request a new
// user (no cookie), counting every answer by version and every failure. Bounded by stop().
import { Agent, request } from 'undici';

export type LoadStats = {
  sent: number;
  ok: number;
  failed: number;
  byVersion: Record<string, number>;
  failures: string[];
  /** each answered request's latency, ms */
  latencies: number[];
  /**
   * GETs retried once because a kept-alive connection was closed before any answer (nginx's old
   * workers close idle connections on a graceful reload); browsers and HTTP clients retry these
   * idempotent requests the same way (RFC 9112 §9.3.1). Counted, never hidden.
   */
  retried: number;
};

export function steadyLoad(baseUrl: string, options: { rate: number; path?: string; maxMs?: number }) {
  const stats: LoadStats = {
    sent: 0,
    ok: 0,
    failed: 0,
    byVersion: {},
    failures: [],
    latencies: [],
    retried: 0,
  };
  const agent = new Agent({ connections: 64, keepAliveTimeout: 4000 });
  const path = options.path ?? '/api/health';
  const inflight = new Set<Promise<void>>();
  const started = Date.now();
  const interval = 1000 / options.rate;
  let next = performance.now();
  let running = true;
  const one = async () => {
    stats.sent++;
    const t0 = performance.now();
    const send = async () => {
      const res = await request(`${baseUrl}${path}`, {
        dispatcher: agent,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.arrayBuffer();
      return res;
    };
    try {
      const res = await send().catch((error: Error & { code?: string }) => {
        if (error.code !== 'UND_ERR_SOCKET' && !/other side closed/.test(error.message)) throw error;
        stats.retried++;
        return send();
      });
      stats.latencies.push(performance.now() - t0);
      const version = String(res.headers['x-swipesavvy-version'] ?? '?');
      stats.byVersion[version] = (stats.byVersion[version] ?? 0) + 1;
      if (res.statusCode >= 500) {
        stats.failed++;
        if (stats.failures.length < 20) stats.failures.push(`${res.statusCode} from ${version}`);
      } else stats.ok++;
    } catch (error) {
      stats.failed++;
      if (stats.failures.length < 20) stats.failures.push((error as Error).message);
    }
  };
  const loop = (async () => {
    while (running && Date.now() - started < (options.maxMs ?? 300_000)) {
      const p = one();
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stats,
    async stop(): Promise<LoadStats> {
      running = false;
      await loop;
      await Promise.all(inflight);
      await agent.close();
      return stats;
    },
  };
}
