import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { type Dispatcher, Pool } from 'undici';
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

// Request headers a proxy must not forward (RFC 9110 §7.6.1), by lowercased name; each name is
// at most 17 characters, so longer names skip the lowercasing. Headers named in a Connection
// header are hop-by-hop too and dropped with it (see connectionNames).
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
const SHORT_NAME = 17;
// Response headers dropped: Node's server frames the body itself (content-length or chunked).
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection']);

/**
 * The header names a Connection header lists as hop-by-hop (RFC 9110 §7.6.1), lowercased, apart
 * from its own options ("keep-alive", "close") and the names always dropped anyway; undefined when
 * it lists none — the usual case, which then costs nothing more.
 */
export function connectionNames(value: string, always: ReadonlySet<string>): Set<string> | undefined {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  let names: Set<string> | undefined;
  for (const part of lower.split(',')) {
    const name = part.trim();
    if (name === '' || name === 'close' || always.has(name)) continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/** A flat [name, value, …] list without the pairs whose lowercased name is in `drop`. */
function withoutNames(list: string[], drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2)
    if (!drop.has(list[i]!.toLowerCase())) out.push(list[i]!, list[i + 1]!);
  return out;
}

// An upstream's problem code becomes a metric label: only codes of the product's shape
// (UPPER_SNAKE, as every problem+json code here is) and at most MAX_CODES distinct ones per
// version are kept, the rest count as "other", so an upstream cannot grow /metrics without bound.
const CODE_SHAPE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MAX_CODES = 64;
export const OTHER_CODE = 'other';

const DURATION_BUCKETS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5];

/** The value of one cookie, without splitting the header into parts. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let at = header.indexOf(name);
  while (at !== -1) {
    const before = at === 0 ? ';' : header[at - 1];
    if ((before === ';' || before === ' ') && header[at + name.length] === '=') {
      const from = at + name.length + 1;
      const end = header.indexOf(';', from);
      return (end === -1 ? header.slice(from) : header.slice(from, end)).trim();
    }
    at = header.indexOf(name, at + 1);
  }
  return undefined;
}

// New users get a random route id: 12 random bytes each, drawn from a pool filled 4 KiB at a time
// (one getrandom call per 341 users instead of one per user).
const randomPool = Buffer.alloc(4092);
let randomAt = randomPool.length;
function newRouteId(): string {
  if (randomAt + 12 > randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  randomAt += 12;
  return randomPool.toString('base64url', randomAt - 12, randomAt);
}

function problem(res: ServerResponse, status: number, code: string, detail: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/problem+json', 'x-problem-code': code });
  res.end(JSON.stringify({ title: 'Router error', status, code, detail }));
}

/** One version's measurements, kept as plain numbers; /metrics renders them on a scrape. */
type VersionStats = {
  inflight: number;
  /** requests by status, then by problem code (its metric label) */
  requests: Map<number, Map<string, number>>;
  /** the distinct problem codes labelled so far (at most MAX_CODES) */
  codes: Set<string>;
  buckets: number[];
  sum: number;
  count: number;
};

/** A problem code as its metric label: the product's shape and within the cap, else "other". */
function codeLabel(s: VersionStats, code: string): string {
  if (s.codes.has(code)) return code;
  if (!CODE_SHAPE.test(code) || s.codes.size >= MAX_CODES) return OTHER_CODE;
  s.codes.add(code);
  return code;
}

const escapeLabel = (v: string) => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

function renderMetrics(stats: Map<string, VersionStats>, backends: readonly Backend[]): string {
  const lines: string[] = [];
  const head = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  head(
    'swipesavvy_router_requests_total',
    'counter',
    'Requests through the router by version, status and problem code',
  );
  for (const [version, s] of stats)
    for (const [status, byCode] of s.requests)
      for (const [code, n] of byCode)
        lines.push(
          `swipesavvy_router_requests_total{version="${escapeLabel(version)}",status_code="${status}",code="${escapeLabel(code)}"} ${n}`,
        );
  const d = 'swipesavvy_router_request_duration_seconds';
  head(d, 'histogram', 'Request duration through the router by version');
  for (const [version, s] of stats) {
    const v = escapeLabel(version);
    let cumulative = 0;
    DURATION_BUCKETS.forEach((le, i) => {
      cumulative += s.buckets[i]!;
      lines.push(`${d}_bucket{le="${le}",version="${v}"} ${cumulative}`);
    });
    lines.push(`${d}_bucket{le="+Inf",version="${v}"} ${s.count}`);
    lines.push(`${d}_sum{version="${v}"} ${s.sum}`, `${d}_count{version="${v}"} ${s.count}`);
  }
  head('swipesavvy_router_weight_percent', 'gauge', 'Share of new users routed to each version');
  for (const b of backends)
    lines.push(`swipesavvy_router_weight_percent{version="${escapeLabel(b.version)}"} ${b.weight}`);
  head('swipesavvy_router_inflight_requests', 'gauge', 'Requests in flight by version');
  for (const [version, s] of stats)
    lines.push(`swipesavvy_router_inflight_requests{version="${escapeLabel(version)}"} ${s.inflight}`);
  return `${lines.join('\n')}\n`;
}

type RecordFn = (stats: VersionStats, version: string, t0: number, status: number, code: string) => void;

/** The proxy's responses carry their exchange, so one shared 'close' listener serves them all. */
class RouterResponse extends ServerResponse {
  exchange: ProxyExchange | undefined = undefined;
}

function onClientClose(this: RouterResponse) {
  // the client went away before the answer was complete: stop the upstream request too
  const exchange = this.exchange;
  if (exchange !== undefined && !exchange.done) exchange.abort?.(new Error('client closed the connection'));
}

/**
 * One proxied request as an undici dispatch handler: the upstream's headers and body chunks go
 * straight to the client's response, with no intermediate stream. The last chunk is held back so
 * that the final one leaves with `res.end(chunk)` — for the usual one-chunk answer, status line,
 * headers and body in a single write.
 */
class ProxyExchange implements Dispatcher.DispatchHandler {
  res: RouterResponse;
  version: string;
  stats: VersionStats;
  setCookie: string | undefined;
  record: RecordFn;
  t0 = performance.now();
  status = 0;
  code = '';
  pending: Buffer | undefined = undefined;
  resume: (() => void) | undefined = undefined;
  abort: ((err?: Error) => void) | undefined = undefined;
  done = false;

  constructor(
    res: RouterResponse,
    version: string,
    stats: VersionStats,
    setCookie: string | undefined,
    record: RecordFn,
  ) {
    this.res = res;
    this.version = version;
    this.stats = stats;
    this.setCookie = setCookie;
    this.record = record;
    stats.inflight++;
    res.exchange = this;
    res.on('close', onClientClose);
  }

  onConnect(abort: (err?: Error) => void) {
    this.abort = abort;
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
    if (statusCode < 200) return true; // an interim 1xx answer; the final one follows
    this.status = statusCode;
    this.resume = resume;
    let out: string[] = [];
    let connection: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      const lower = name.length <= SHORT_NAME ? name.toLowerCase() : name;
      if (RESPONSE_HOP_BY_HOP.has(lower)) {
        if (lower === 'connection') {
          const value = raw[i + 1]!.toString('latin1');
          connection = connection === undefined ? value : `${connection}, ${value}`;
        }
        continue;
      }
      const value = raw[i + 1]!.toString('latin1');
      if (lower === 'x-problem-code') this.code = value;
      out.push(name, value);
    }
    const listed = connection === undefined ? undefined : connectionNames(connection, RESPONSE_HOP_BY_HOP);
    if (listed !== undefined) {
      out = withoutNames(out, listed);
      if (listed.has('x-problem-code')) this.code = '';
    }
    out.push('x-swipesavvy-version', this.version);
    if (this.setCookie) out.push('set-cookie', this.setCookie);
    this.res.writeHead(statusCode, out);
    return true;
  }

  onData(chunk: Buffer) {
    const previous = this.pending;
    this.pending = chunk;
    if (previous === undefined || this.res.write(previous)) return true;
    this.res.once('drain', this.resume!);
    return false;
  }

  onComplete() {
    this.done = true;
    const last = this.pending;
    this.pending = undefined;
    if (last === undefined) this.res.end();
    else this.res.end(last);
    this.finish(this.status, this.code);
  }

  onError(error: Error) {
    this.done = true;
    if (this.res.destroyed) {
      this.finish(499, 'CLIENT_CLOSED');
      return;
    }
    this.finish(502, 'ROUTER_UPSTREAM_FAILED');
    problem(
      this.res,
      502,
      'ROUTER_UPSTREAM_FAILED',
      `version ${this.version} did not answer: ${error.message}`,
    );
  }

  finish(status: number, code: string) {
    this.stats.inflight--;
    this.record(this.stats, this.version, this.t0, status, code);
  }
}

/**
 * The last `capacity` requests, column by column in typed arrays: at 300 requests/s the router
 * keeps 200,000 of them, and as objects they would be 200,000 more things for every major GC to
 * mark (a pause every request in flight waits for). Sample objects are made only when read.
 */
class SampleRing {
  capacity: number;
  seq = 0;
  at: Float64Array;
  ms: Float64Array;
  status: Uint16Array;
  versionIndex: Uint16Array;
  /** the problem code, or undefined for none (most requests) */
  code: (string | undefined)[];
  versions: string[] = [];
  versionIds = new Map<string, number>();

  constructor(capacity: number) {
    this.capacity = capacity;
    this.at = new Float64Array(capacity);
    this.ms = new Float64Array(capacity);
    this.status = new Uint16Array(capacity);
    this.versionIndex = new Uint16Array(capacity);
    this.code = new Array(capacity).fill(undefined);
  }

  push(at: number, version: string, ms: number, status: number, code: string) {
    let v = this.versionIds.get(version);
    if (v === undefined) {
      v = this.versions.push(version) - 1;
      this.versionIds.set(version, v);
    }
    const i = this.seq++ % this.capacity;
    this.at[i] = at;
    this.ms[i] = ms;
    this.status[i] = status;
    this.versionIndex[i] = v;
    this.code[i] = code === '' ? undefined : code;
  }

  /** the samples after `since` still held, oldest first */
  since(since: number, version?: string | null): Sample[] {
    const out: Sample[] = [];
    for (let n = Math.max(since, this.seq - this.capacity) + 1; n <= this.seq; n++) {
      const i = (n - 1) % this.capacity;
      const v = this.versions[this.versionIndex[i]!]!;
      if (version && v !== version) continue;
      out.push({
        seq: n,
        at: this.at[i]!,
        version: v,
        ms: Math.round(this.ms[i]! * 1000) / 1000,
        status: this.status[i]!,
        code: this.code[i] ?? '',
      });
    }
    return out;
  }
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const initial = policyProblems(options.backends);
  if (initial.length > 0) throw new Error(`invalid router policy: ${initial.join('; ')}`);
  let backends = options.backends.map((b) => ({ ...b }));
  // One keep-alive pool per upstream, made when a version joins the policy and closed when it
  // leaves, never per request.
  const pools = new Map<string, Pool>();
  const poolFor = (url: string) => {
    let pool = pools.get(url);
    if (!pool) {
      pool = new Pool(url, { connections: 128, pipelining: 1, keepAliveTimeout: 4000 });
      pools.set(url, pool);
    }
    return pool;
  };
  const stats = new Map<string, VersionStats>();
  const statsOf = (version: string) => {
    let s = stats.get(version);
    if (!s) {
      s = {
        inflight: 0,
        requests: new Map(),
        codes: new Set(),
        buckets: DURATION_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      stats.set(version, s);
    }
    return s;
  };

  const samples = new SampleRing(options.maxSamples ?? 200_000);
  const record: RecordFn = (s, version, t0, status, problemCode) => {
    const ms = performance.now() - t0;
    const code = problemCode === '' ? '' : codeLabel(s, problemCode);
    let byCode = s.requests.get(status);
    if (byCode === undefined) {
      byCode = new Map();
      s.requests.set(status, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    const seconds = ms / 1000;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    if (b < DURATION_BUCKETS.length) s.buckets[b]!++;
    s.sum += seconds;
    s.count++;
    samples.push(Date.now(), version, ms, status, code);
  };

  let publicUrl = '';
  const persist = () => {
    if (options.stateFile) writeFileSync(options.stateFile, `${JSON.stringify({ backends }, null, 2)}\n`);
  };
  persist();

  const proxy = createServer<typeof IncomingMessage, typeof RouterResponse>(
    { ServerResponse: RouterResponse },
    (req, res) => {
      // one pass over the raw headers: the upstream's header list, the sticky cookie, X-Forwarded-*
      const raw = req.rawHeaders;
      let headers: string[] = [];
      let cookie: string | undefined;
      let forwardedFor: string | undefined;
      let forwardedProto = false;
      let connection: string | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        const value = raw[i + 1]!;
        const lower = name.length <= SHORT_NAME ? name.toLowerCase() : name;
        if (HOP_BY_HOP.has(lower)) {
          if (lower === 'connection')
            connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        }
        if (lower === 'x-forwarded-for') {
          forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
          continue;
        }
        if (lower === 'cookie') cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        else if (lower === 'x-forwarded-proto') forwardedProto = true;
        headers.push(name, value);
      }
      // the rare Connection header that names other headers: those are this hop's only, drop them
      const listed = connection === undefined ? undefined : connectionNames(connection, HOP_BY_HOP);
      if (listed !== undefined) {
        headers = withoutNames(headers, listed);
        if (listed.has('cookie')) cookie = undefined;
        if (listed.has('x-forwarded-for')) forwardedFor = undefined;
        if (listed.has('x-forwarded-proto')) forwardedProto = false;
      }
      const peer = req.socket.remoteAddress ?? '';
      headers.push('x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
      if (!forwardedProto) headers.push('x-forwarded-proto', 'http');

      let routeId = cookieValue(cookie, STICKY_COOKIE);
      let setCookie: string | undefined;
      if (!routeId || !/^[\w-]{8,64}$/.test(routeId)) {
        routeId = newRouteId();
        setCookie = `${STICKY_COOKIE}=${routeId}; Path=/; HttpOnly; SameSite=Lax`;
      }
      const backend = pickBackend(backends, routeId);
      if (!backend) {
        problem(res, 503, 'ROUTER_NO_BACKEND', 'no version has traffic');
        return;
      }
      const exchange = new ProxyExchange(res, backend.version, statsOf(backend.version), setCookie, record);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      try {
        poolFor(backend.url).dispatch(
          {
            path: req.url ?? '/',
            method: req.method as Dispatcher.HttpMethod,
            headers,
            body: hasBody ? req : null,
            headersTimeout: 60_000,
            bodyTimeout: 60_000,
          },
          exchange,
        );
      } catch (error) {
        exchange.onError(error as Error);
      }
    },
  );
  // as long as the app's own (Fastify's default): with 5 s, clients reconnected through the router
  // more often than they do directly, and each new connection costs the request that makes it
  proxy.keepAliveTimeout = 72_000;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const state = () => ({
    backends,
    inflight: Object.fromEntries(backends.map((b) => [b.version, stats.get(b.version)?.inflight ?? 0])),
    seq: samples.seq,
    pid: process.pid,
    publicUrl,
    // the young generation the process runs with (the CLI gives the router 16–32 MB semi-spaces)
    newSpaceMb:
      (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20,
  });
  const control = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    try {
      if (req.method === 'GET' && url.pathname === '/state') return json(res, 200, state());
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return res.end(renderMetrics(stats, backends));
      }
      if (req.method === 'GET' && url.pathname === '/samples') {
        const since = Number(url.searchParams.get('since') ?? 0);
        const version = url.searchParams.get('version');
        return json(res, 200, { seq: samples.seq, samples: samples.since(since, version) });
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
  const listen = (server: Server<typeof IncomingMessage, typeof RouterResponse> | Server, port: number) =>
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
