import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Pool } from 'undici';
import { type Backend, pickBackend, policyProblems, STICKY_COOKIE } from './router-policy.ts';

// The built-in traffic router: a reverse proxy that splits requests between versions by weight,
// sticky by cookie, and measures every request per version (the canary analysis reads these
// measurements, so canary and stable are compared on the same clock). A separate control port
// carries the policy API, the samples and /metrics, so nothing is added to the app's URL space.

export type Sample = { seq: number; at: number; version: string; ms: number; status: number; code: string };

export type RouterOptions = {
  host?: string;
  port: number;
  controlPort: number;
  backends: Backend[];
  /** the policy is written here on every change, so a restarted router resumes it */
  stateFile?: string;
  maxSamples?: number;
};

export type RunningRouter = {
  url: string;
  controlUrl: string;
  backends(): Backend[];
  close(): Promise<void>;
};

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function problem(res: ServerResponse, status: number, code: string, detail: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/problem+json', 'x-problem-code': code });
  res.end(JSON.stringify({ title: 'Router error', status, code, detail }));
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const initial = policyProblems(options.backends);
  if (initial.length > 0) throw new Error(`invalid router policy: ${initial.join('; ')}`);
  let backends = options.backends.map((b) => ({ ...b }));
  const pools = new Map<string, Pool>();
  const inflight = new Map<string, number>();
  const poolFor = (url: string) => {
    let pool = pools.get(url);
    if (!pool) {
      pool = new Pool(url, { connections: 128, pipelining: 1, keepAliveTimeout: 4000 });
      pools.set(url, pool);
    }
    return pool;
  };

  const registry = new Registry();
  const requests = new Counter({
    name: 'swipesavvy_router_requests_total',
    help: 'Requests through the router by version, status and problem code',
    labelNames: ['version', 'status_code', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'swipesavvy_router_request_duration_seconds',
    help: 'Request duration through the router by version',
    labelNames: ['version'],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'swipesavvy_router_weight_percent',
    help: 'Share of new users routed to each version',
    labelNames: ['version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of backends) this.set({ version: b.version }, b.weight);
    },
  });
  new Gauge({
    name: 'swipesavvy_router_inflight_requests',
    help: 'Requests in flight by version',
    labelNames: ['version'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [version, n] of inflight) this.set({ version }, n);
    },
  });

  const maxSamples = options.maxSamples ?? 200_000;
  let samples: Sample[] = [];
  let seq = 0;
  const record = (version: string, t0: number, status: number, code: string) => {
    const ms = performance.now() - t0;
    requests.inc({ version, status_code: String(status), code });
    duration.observe({ version }, ms / 1000);
    samples.push({ seq: ++seq, at: Date.now(), version, ms: Math.round(ms * 1000) / 1000, status, code });
    if (samples.length > maxSamples * 1.25) samples = samples.slice(-maxSamples);
  };

  let publicUrl = '';
  const persist = () => {
    if (options.stateFile) writeFileSync(options.stateFile, `${JSON.stringify({ backends }, null, 2)}\n`);
  };
  persist();

  async function forward(req: IncomingMessage, res: ServerResponse, backend: Backend, setCookie?: string) {
    const t0 = performance.now();
    const version = backend.version;
    inflight.set(version, (inflight.get(version) ?? 0) + 1);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    const peer = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
    headers['x-forwarded-proto'] ??= 'http';
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    try {
      const upstream = await poolFor(backend.url).request({
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers,
        body: hasBody ? req : undefined,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstream.headers))
        if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      out['x-swipesavvy-version'] = version;
      if (setCookie) {
        const existing = out['set-cookie'];
        out['set-cookie'] = [...(existing === undefined ? [] : [existing].flat()), setCookie];
      }
      res.writeHead(upstream.statusCode, out);
      await pipeline(upstream.body, res);
      const code = upstream.headers['x-problem-code'];
      record(version, t0, upstream.statusCode, typeof code === 'string' ? code : '');
    } catch (error) {
      record(version, t0, 502, 'ROUTER_UPSTREAM_FAILED');
      problem(
        res,
        502,
        'ROUTER_UPSTREAM_FAILED',
        `version ${version} did not answer: ${(error as Error).message}`,
      );
    } finally {
      inflight.set(version, (inflight.get(version) ?? 1) - 1);
    }
  }

  const proxy = createServer((req, res) => {
    let routeId = cookieValue(req.headers.cookie, STICKY_COOKIE);
    let setCookie: string | undefined;
    if (!routeId || !/^[\w-]{8,64}$/.test(routeId)) {
      routeId = randomBytes(12).toString('base64url');
      setCookie = `${STICKY_COOKIE}=${routeId}; Path=/; HttpOnly; SameSite=Lax`;
    }
    const backend = pickBackend(backends, routeId);
    if (!backend) {
      problem(res, 503, 'ROUTER_NO_BACKEND', 'no version has traffic');
      return;
    }
    void forward(req, res, backend, setCookie);
  });
  proxy.keepAliveTimeout = 5000;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const state = () => ({
    backends,
    inflight: Object.fromEntries(backends.map((b) => [b.version, inflight.get(b.version) ?? 0])),
    seq,
    pid: process.pid,
    publicUrl,
  });
  const control = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    try {
      if (req.method === 'GET' && url.pathname === '/state') return json(res, 200, state());
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        return res.end(await registry.metrics());
      }
      if (req.method === 'GET' && url.pathname === '/samples') {
        const since = Number(url.searchParams.get('since') ?? 0);
        const version = url.searchParams.get('version');
        const out = samples.filter((s) => s.seq > since && (!version || s.version === version));
        return json(res, 200, { seq, samples: out });
      }
      if (req.method === 'PUT' && url.pathname === '/backends') {
        let body = '';
        for await (const chunk of req) body += chunk;
        let next: Backend[];
        try {
          next = (JSON.parse(body) as { backends: Backend[] }).backends;
        } catch {
          return json(res, 400, { code: 'INVALID_JSON', detail: 'body must be JSON { backends: [...] }' });
        }
        const problems = policyProblems(next);
        if (problems.length > 0)
          return json(res, 400, { code: 'VALIDATION_FAILED', detail: problems.join('; ') });
        backends = next.map((b) => ({
          version: b.version,
          url: b.url.replace(/\/+$/, ''),
          weight: b.weight,
        }));
        for (const [url, pool] of pools) {
          if (!backends.some((b) => b.url === url)) {
            pools.delete(url);
            void pool.close();
          }
        }
        persist();
        return json(res, 200, state());
      }
      return json(res, 404, { code: 'ROUTE_NOT_FOUND', detail: `${req.method} ${url.pathname}` });
    } catch (error) {
      return json(res, 500, { code: 'INTERNAL', detail: (error as Error).message });
    }
  });

  const host = options.host ?? '127.0.0.1';
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(proxy, options.port);
  publicUrl = `http://${host}:${port}`;
  let controlPort: number;
  try {
    controlPort = await listen(control, options.controlPort);
  } catch (error) {
    proxy.close();
    throw error;
  }
  return {
    url: `http://${host}:${port}`,
    controlUrl: `http://${host}:${controlPort}`,
    backends: () => backends,
    async close() {
      proxy.closeIdleConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}
