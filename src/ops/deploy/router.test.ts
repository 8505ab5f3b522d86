import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { cookieValue, type RunningRouter, type Sample, startRouter } from './router.ts';
import { STICKY_COOKIE } from './router-policy.ts';

// The built-in router against real HTTP peers: two upstream versions that echo what they
// received, so each test sees exactly what the router forwarded and answered.

type Echo = { server: Server; url: string; seen: IncomingMessage[] };

async function echo(version: string): Promise<Echo> {
  const seen: IncomingMessage[] = [];
  const server = createServer(async (req, res) => {
    seen.push(req);
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/fail') {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'x-problem-code': 'DOWN' });
      return res.end('{"code":"DOWN"}');
    }
    if (req.url === '/big') {
      // several chunks, no content-length: the router streams them on, chunked
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 50; i++) res.write(`${String(i).padStart(4, '0')}${'x'.repeat(16_380)}`);
      return res.end();
    }
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 2000);
    if (req.url?.startsWith('/code/')) {
      // an answer with the problem code given in the path, whatever its shape
      const code = decodeURIComponent(req.url.slice('/code/'.length));
      res.writeHead(500, { 'content-type': 'application/problem+json', 'x-problem-code': code });
      return res.end(JSON.stringify({ code }));
    }
    if (req.url === '/hop') {
      // an answer whose Connection header names one of its own headers as hop-by-hop
      res.writeHead(200, {
        connection: 'keep-alive, X-Hop-Answer',
        'x-hop-answer': 'for the router only',
        'x-end-to-end': 'kept',
      });
      return res.end(
        JSON.stringify({ hop: req.headers['x-hop-request'] ?? null, custom: req.headers['x-custom'] }),
      );
    }
    res.writeHead(200, [
      'content-type',
      'application/json',
      'set-cookie',
      'a=1; Path=/',
      'set-cookie',
      'b=2; Path=/',
      'X-Mixed-Case',
      'kept',
    ]);
    res.end(
      JSON.stringify({
        version,
        method: req.method,
        url: req.url,
        body,
        forwardedFor: req.headers['x-forwarded-for'],
        forwardedProto: req.headers['x-forwarded-proto'],
        custom: req.headers['x-custom'],
        host: req.headers.host,
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

let v1: Echo;
let v2: Echo;
let router: RunningRouter;
before(async () => {
  [v1, v2] = [await echo('v1'), await echo('v2')];
  router = await startRouter({
    port: 0,
    controlPort: 0,
    backends: [
      { version: 'v2', url: v2.url, weight: 30 },
      { version: 'v1', url: v1.url, weight: 70 },
    ],
  });
});
after(async () => {
  await router.close();
  for (const e of [v1, v2]) {
    e.server.closeAllConnections();
    e.server.close();
  }
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${router.url}${path}`, { headers });
  return { res, text: await res.text() };
};

test('cookieValue finds the cookie by exact name anywhere in the header', () => {
  assert.equal(cookieValue('ss_route=abcdefgh', 'ss_route'), 'abcdefgh');
  assert.equal(cookieValue('x=1; ss_route=abc-123_x; y=2', 'ss_route'), 'abc-123_x');
  assert.equal(cookieValue('my_ss_route=nope; ss_route=yes', 'ss_route'), 'yes');
  assert.equal(cookieValue('ss_routed=nope', 'ss_route'), undefined);
  assert.equal(cookieValue('x=ss_route=nope', 'ss_route'), undefined);
  assert.equal(cookieValue(undefined, 'ss_route'), undefined);
});

test('new users are split by weight and stay on their version by cookie', async () => {
  const seen: Record<string, number> = { v1: 0, v2: 0 };
  for (let i = 0; i < 400; i++) {
    const { res, text } = await get('/api/health');
    const version = res.headers.get('x-swipesavvy-version')!;
    assert.equal(JSON.parse(text).version, version);
    seen[version]!++;
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${STICKY_COOKIE}=`))!;
    assert.match(cookie, /^ss_route=[\w-]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    if (i % 40 === 0) {
      // the same user, with the cookie among others, comes back to the same version
      for (let j = 0; j < 3; j++) {
        const again = await get('/api/health', { cookie: `theme=dark; ${cookie.split(';')[0]}; z=1` });
        assert.equal(again.res.headers.get('x-swipesavvy-version'), version);
        assert.ok(!again.res.headers.getSetCookie().some((c) => c.startsWith(`${STICKY_COOKIE}=`)));
      }
    }
  }
  assert.ok(seen.v2! > 400 * 0.2 && seen.v2! < 400 * 0.4, JSON.stringify(seen));
});

test('headers pass through both ways, hop-by-hop ones do not, and the peer is appended to X-Forwarded-For', async () => {
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    request(`${router.url}/api/echo?q=1`, {
      headers: {
        Cookie: 'ss_route=fixed-route-id-1',
        'X-Custom': 'hello',
        'X-Forwarded-For': '10.0.0.1',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
      },
    })
      .on('response', resolve)
      .on('error', reject)
      .end(),
  );
  let text = '';
  for await (const chunk of res) text += chunk;
  const body = JSON.parse(text);
  assert.equal(body.url, '/api/echo?q=1');
  assert.equal(body.custom, 'hello');
  assert.equal(body.forwardedFor, '10.0.0.1, 127.0.0.1');
  assert.equal(body.forwardedProto, 'http');
  assert.equal(body.host, new URL(router.url).host);
  const upstream = [...v1.seen, ...v2.seen].at(-1)!;
  assert.equal(upstream.headers['proxy-connection'], undefined);
  assert.equal(upstream.headers['te'], undefined);
  assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  assert.equal(res.headers['x-mixed-case'], 'kept');
});

test('headers named in a Connection header are hop-by-hop: dropped both ways (RFC 9110 §7.6.1)', async () => {
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    request(`${router.url}/hop`, {
      headers: {
        Cookie: 'ss_route=fixed-route-id-1',
        Connection: 'keep-alive, X-Hop-Request',
        'X-Hop-Request': 'for the router only',
        'X-Custom': 'hello',
      },
    })
      .on('response', resolve)
      .on('error', reject)
      .end(),
  );
  let text = '';
  for await (const chunk of res) text += chunk;
  assert.deepEqual(JSON.parse(text), { hop: null, custom: 'hello' });
  const upstream = [...v1.seen, ...v2.seen].at(-1)!;
  assert.equal(upstream.headers['x-hop-request'], undefined);
  assert.equal(upstream.headers['x-custom'], 'hello');
  assert.equal(res.headers['x-hop-answer'], undefined);
  assert.equal(res.headers['x-end-to-end'], 'kept');
  assert.ok(res.headers['x-swipesavvy-version']);
});

test('request bodies are streamed to the version and large answers streamed back', async () => {
  const payload = JSON.stringify({ items: Array.from({ length: 5000 }, (_, i) => i) });
  const res = await fetch(`${router.url}/api/things`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: 'ss_route=fixed-route-id-1' },
    body: payload,
  });
  const body = (await res.json()) as { method: string; body: string };
  assert.equal(body.method, 'POST');
  assert.equal(body.body, payload);

  const big = await get('/big');
  assert.equal(big.res.status, 200);
  assert.equal(big.text.length, 50 * 16_384);
  assert.equal(big.text.slice(49 * 16_384, 49 * 16_384 + 4), '0049');
});

test('an unreachable version answers 502 problem+json; the error is measured', async () => {
  const down = createServer();
  down.listen(0, '127.0.0.1');
  await once(down, 'listening');
  const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
  down.close();
  const put = (backends: unknown) =>
    fetch(`${router.controlUrl}/backends`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ backends }),
    });
  assert.equal((await put([{ version: 'v3', url, weight: 100 }])).status, 200);
  try {
    const { res, text } = await get('/api/health');
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(JSON.parse(text).code, 'ROUTER_UPSTREAM_FAILED');
    const metrics = await (await fetch(`${router.controlUrl}/metrics`)).text();
    assert.match(
      metrics,
      /swipesavvy_router_requests_total\{version="v3",status_code="502",code="ROUTER_UPSTREAM_FAILED"\} 1/,
    );
  } finally {
    await put([
      { version: 'v2', url: v2.url, weight: 30 },
      { version: 'v1', url: v1.url, weight: 70 },
    ]);
  }
});

test('per-version samples and Prometheus metrics count every request with its status and code', async () => {
  const state = async () => (await (await fetch(`${router.controlUrl}/state`)).json()) as { seq: number };
  const since = (await state()).seq;
  const cookie = { cookie: 'ss_route=fixed-route-id-1' };
  const version = (await get('/api/health', cookie)).res.headers.get('x-swipesavvy-version')!;
  await get('/fail', cookie);
  const { samples } = (await (await fetch(`${router.controlUrl}/samples?since=${since}`)).json()) as {
    samples: Sample[];
  };
  assert.deepEqual(
    samples.map((s) => [s.version, s.status, s.code]),
    [
      [version, 200, ''],
      [version, 503, 'DOWN'],
    ],
  );
  assert.ok(samples.every((s) => s.ms > 0 && s.ms < 5000));
  const metrics = await (await fetch(`${router.controlUrl}/metrics`)).text();
  assert.match(
    metrics,
    new RegExp(`requests_total\\{version="${version}",status_code="503",code="DOWN"\\} 1\\n`),
  );
  const count = Number(
    metrics.match(new RegExp(`duration_seconds_count\\{version="${version}"\\} (\\d+)`))![1],
  );
  const inf = Number(
    metrics.match(new RegExp(`duration_seconds_bucket\\{le="\\+Inf",version="${version}"\\} (\\d+)`))![1],
  );
  assert.equal(inf, count);
  assert.match(metrics, /swipesavvy_router_weight_percent\{version="v2"\} 30/);
  assert.match(metrics, /# TYPE swipesavvy_router_request_duration_seconds histogram/);
});

test('a request in flight is counted until it is answered (drain) and a client that leaves aborts it', async () => {
  const inflight = async () =>
    ((await (await fetch(`${router.controlUrl}/state`)).json()) as { inflight: Record<string, number> })
      .inflight;
  const pending = get('/slow', { cookie: 'ss_route=fixed-route-id-1' });
  await new Promise((r) => setTimeout(r, 300));
  const during = await inflight();
  assert.equal(during['v1']! + during['v2']!, 1);
  assert.equal((await pending).text, 'late');
  const afterward = await inflight();
  assert.equal(afterward['v1']! + afterward['v2']!, 0);

  // the client hangs up: the upstream request is aborted and no longer in flight
  const before = v1.seen.length + v2.seen.length;
  const req = request(`${router.url}/slow`, { headers: { cookie: 'ss_route=fixed-route-id-1' } });
  req.on('error', () => {});
  req.end();
  while (v1.seen.length + v2.seen.length === before) await new Promise((r) => setTimeout(r, 20));
  const upstreamReq = [...v1.seen, ...v2.seen].at(-1)!;
  req.destroy();
  await once(upstreamReq.socket, 'close');
  const left = await inflight();
  assert.equal(left['v1']! + left['v2']!, 0);
});

test('problem codes become metric labels only in the product shape and up to a cap, else "other"', async () => {
  const capped = await startRouter({
    port: 0,
    controlPort: 0,
    backends: [{ version: 'v1', url: v1.url, weight: 100 }],
  });
  try {
    const codes = [
      'not-a-code',
      'X'.repeat(65),
      'OK_CODE',
      ...Array.from({ length: 70 }, (_, i) => `CODE_${i}`),
      'OK_CODE',
    ];
    for (const code of codes)
      assert.equal((await fetch(`${capped.url}/code/${encodeURIComponent(code)}`)).status, 500);
    const metrics = await (await fetch(`${capped.controlUrl}/metrics`)).text();
    const labels = [
      ...metrics.matchAll(/requests_total\{version="v1",status_code="500",code="([^"]*)"\} (\d+)/g),
    ];
    const count = new Map(labels.map((m) => [m[1]!, Number(m[2])]));
    assert.equal(count.get('OK_CODE'), 2);
    assert.equal(count.get('CODE_0'), 1);
    assert.equal(count.has('not-a-code'), false);
    // 64 distinct codes are kept (OK_CODE and CODE_0…CODE_62); the shapeless two and the rest are "other"
    assert.equal(count.size, 65);
    assert.equal(count.get('CODE_62'), 1);
    assert.equal(count.has('CODE_63'), false);
    assert.equal(count.get('other'), 2 + 7);
    assert.equal(
      [...count.values()].reduce((a, b) => a + b, 0),
      codes.length,
    );
    const { samples } = (await (await fetch(`${capped.controlUrl}/samples?since=0`)).json()) as {
      samples: Sample[];
    };
    assert.deepEqual(
      samples.slice(0, 3).map((s) => s.code),
      ['other', 'other', 'OK_CODE'],
    );
  } finally {
    await capped.close();
  }
});

test('the samples kept are the last maxSamples, numbered on from the first request', async () => {
  const small = await startRouter({
    port: 0,
    controlPort: 0,
    maxSamples: 5,
    backends: [{ version: 'v1', url: v1.url, weight: 100 }],
  });
  try {
    for (let i = 0; i < 8; i++) await (await fetch(`${small.url}/${i === 6 ? 'fail' : 'ok'}`)).text();
    const read = async (q: string) =>
      (await (await fetch(`${small.controlUrl}/samples${q}`)).json()) as { seq: number; samples: Sample[] };
    const all = await read('?since=0');
    assert.equal(all.seq, 8);
    assert.deepEqual(
      all.samples.map((s) => [s.seq, s.status, s.code]),
      [
        [4, 200, ''],
        [5, 200, ''],
        [6, 200, ''],
        [7, 503, 'DOWN'],
        [8, 200, ''],
      ],
    );
    assert.deepEqual(
      (await read('?since=6&version=v1')).samples.map((s) => s.seq),
      [7, 8],
    );
    assert.deepEqual((await read('?since=8')).samples, []);
    assert.deepEqual((await read('?since=0&version=v9')).samples, []);
  } finally {
    await small.close();
  }
});
