import type { Config } from '../../platform/config.ts';
import { DeployError } from './release.ts';
import type { Sample } from './router.ts';
import { accessLogOffset, nginxPid, readAccessLog, readNginxState, reloadNginx } from './router-nginx.ts';
import type { Backend } from './router-policy.ts';

/** What deploy and rollback need from a router, whichever it is. */
export type RouterControl = {
  kind: 'builtin' | 'nginx';
  where: string;
  /** the address users reach */
  publicUrl(): Promise<string>;
  backends(): Promise<Backend[]>;
  /**
   * Applies a policy without dropping requests. With `drain` (the default) it resolves once the
   * versions that lost all weight have no request in flight.
   */
  apply(backends: Backend[], options?: { drain?: boolean; timeoutMs?: number }): Promise<void>;
  cursor(): Promise<number>;
  samples(since: number): Promise<{ cursor: number; samples: Sample[] }>;
};

export function routerControl(config: Config): RouterControl {
  return config.routerNginxDir
    ? nginxControl(config.routerNginxDir)
    : builtinControl(config.routerControlUrl);
}

function builtinControl(base: string): RouterControl {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new DeployError(
        `cannot reach the traffic router at ${base} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}): start it with \`swipesavvy router\` or set ROUTER_CONTROL_URL`,
      );
    }
    const json = (await res.json()) as T & { detail?: string };
    if (!res.ok) throw new DeployError(`the router refused ${method} ${path}: ${json.detail ?? res.status}`);
    return json;
  };
  type State = { backends: Backend[]; inflight: Record<string, number>; seq: number; publicUrl?: string };
  return {
    kind: 'builtin',
    where: base,
    publicUrl: async () => (await call<State>('GET', '/state')).publicUrl ?? '',
    backends: async () => (await call<State>('GET', '/state')).backends,
    async apply(backends, { drain = true, timeoutMs: drainTimeoutMs = 30_000 } = {}) {
      const before = await call<State>('GET', '/state');
      await call<State>('PUT', '/backends', { backends });
      if (!drain) return;
      // versions whose weight dropped to 0 (or left the policy) get no new request; wait for theirs
      const drained = before.backends
        .filter((b) => (backends.find((n) => n.version === b.version)?.weight ?? 0) === 0)
        .map((b) => b.version);
      const deadline = Date.now() + drainTimeoutMs;
      for (;;) {
        const now = await call<State>('GET', '/state');
        if (drained.every((v) => (now.inflight[v] ?? 0) === 0)) return;
        if (Date.now() > deadline)
          throw new DeployError(
            `requests to ${drained.join(', ')} did not drain within ${drainTimeoutMs / 1000}s`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    cursor: async () => (await call<State>('GET', '/state')).seq,
    samples: async (since) => {
      const r = await call<{ seq: number; samples: Sample[] }>('GET', `/samples?since=${since}`);
      return { cursor: r.seq, samples: r.samples };
    },
  };
}

function nginxControl(dir: string): RouterControl {
  const state = () => {
    try {
      const s = readNginxState(dir);
      if (!nginxPid(dir)) throw new Error(`the nginx router in ${dir} is not running`);
      return s;
    } catch (error) {
      throw new DeployError(`cannot reach the traffic router: ${(error as Error).message}`);
    }
  };
  return {
    kind: 'nginx',
    where: dir,
    publicUrl: async () => `http://127.0.0.1:${state().port}`,
    backends: async () => state().backends,
    async apply(backends, { timeoutMs } = {}) {
      state();
      await reloadNginx(dir, backends, timeoutMs);
    },
    cursor: async () => accessLogOffset(dir),
    samples: async (since) => readAccessLog(dir, since),
  };
}
