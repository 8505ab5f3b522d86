// npm run bench:web — the dashboard's figures: initial JavaScript (gzip), time to the campaign page's
// first meaningful render (its metrics on screen) in Chromium on localhost, and the largest layout
// shift. Bounded: one server, one browser, RUNS page loads. Figures are medians, shown against the
// targets and against the sign-in page (the app shell alone) measured in the same run.
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/platform/config.ts';
import { startServer } from '../src/server.ts';
import { freePort } from '../test/global-setup.ts';
import { buildDashboard, buildIsCurrent } from '../web/scripts/build.ts';

const RUNS = 7;
const TARGET_JS_KB = 250;
const TARGET_RENDER_MS = 1000;
const CHROMIUM = '/usr/bin/chromium';
const DIST = new URL('../web/dist/', import.meta.url);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The JavaScript the first load fetches: the entry script and the chunks index.html preloads, and
 * (from Vite's build manifest) the chunks the entry imports at once, statically or with import(),
 * with everything those import statically. The entry starts the app (src/app.tsx) and, on a campaign
 * address, the campaign page with import(): that code is fetched on every first load all the same.
 */
function initialJs(): { files: string[]; gzipBytes: number; rawBytes: number } {
  const html = readFileSync(new URL('index.html', DIST), 'utf8');
  const files = new Set(
    [
      ...html.matchAll(/<script[^>]+type="module"[^>]+src="\/([^"]+)"/g),
      ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g),
    ].map((m) => m[1]!),
  );
  const manifestFile = new URL('.vite/manifest.json', DIST);
  if (existsSync(manifestFile)) {
    type Chunk = { file: string; isEntry?: boolean; imports?: string[]; dynamicImports?: string[] };
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, Chunk>;
    const add = (key: string) => {
      const chunk = manifest[key];
      if (!chunk || files.has(chunk.file)) return;
      files.add(chunk.file);
      for (const dep of chunk.imports ?? []) add(dep);
    };
    for (const entry of Object.values(manifest).filter((c) => c.isEntry)) {
      files.delete(entry.file); // added again below, with what it imports
      const key = Object.keys(manifest).find((k) => manifest[k] === entry)!;
      add(key);
      for (const dep of entry.dynamicImports ?? []) add(dep);
    }
  }
  let gzipBytes = 0;
  let rawBytes = 0;
  for (const f of files) {
    const content = readFileSync(new URL(f, DIST));
    rawBytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  return { files: [...files], gzipBytes, rawBytes };
}

if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing (apt-get install chromium)`);
  process.exit(1);
}
if (!buildIsCurrent()) {
  console.log('building the dashboard …');
  await buildDashboard();
}
const js = initialJs();

const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-bench-web-'));
chmodSync(dataDir, 0o755); // as root, the embedded PostgreSQL runs as postgres and must enter it
console.log('starting the server (embedded PostgreSQL) …');
const server = await startServer(
  loadConfig(
    {},
    {
      DATA_DIR: dataDir,
      PORT: '0',
      EMBEDDED_PG_PORT: String(await freePort()),
      MAILBOX_PORT: '0',
      LOG_LEVEL: 'warn',
      AUTH_RATE_LIMIT_PER_MINUTE: '1000',
    },
  ),
);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

try {
  const call = async (method: string, url: string, body: unknown, token?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; token: string; user: unknown };
  };
  const email = `bench-${randomUUID().slice(0, 8)}@example.test`;
  await call('POST', '/api/users/signup', { email, password: 'bench password 1', name: 'Bench' });
  const login = await call('POST', '/api/auth/login', { email, password: 'bench password 1' });
  const campaign = await call(
    'POST',
    '/api/campaigns',
    { name: 'Bench campaign', channel: 'email', budget: 100 },
    login.token,
  );
  const customer = await call('POST', '/api/customers', { attributes: { city: 'Austin' } }, login.token);
  const at = new Date().toISOString();
  await call(
    'POST',
    '/api/events',
    {
      events: Array.from({ length: 200 }, (_, i) => ({
        id: `b${i}`,
        type: i % 10 === 0 ? 'click' : 'impression',
        campaignId: campaign.id,
        customerId: customer.id,
        at,
      })),
    },
    login.token,
  );
  const session = JSON.stringify({ token: login.token, expiresAt: Date.now() + 3_600_000, user: login.user });

  const load = async (pathname: string, ready: string) => {
    // a fresh context per load: cold HTTP cache, as a first visit
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    // plain strings: this runs in the page, which this file's (node) types do not describe
    await context.addInitScript({
      content: `localStorage.setItem('swipesavvy.session', ${JSON.stringify(session)});
        window.__maxShift = 0; window.__cls = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            if (e.hadRecentInput) continue;
            window.__cls += e.value;
            window.__maxShift = Math.max(window.__maxShift, e.value);
          }
        }).observe({ type: 'layout-shift', buffered: true });`,
    });
    const page = await context.newPage();
    await page.goto(`${server.url}${pathname}`);
    const name = ready === 'fcp' ? 'first-contentful-paint' : ready;
    // functions, not strings: the dashboard's CSP forbids eval
    await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, name);
    await page.waitForTimeout(500); // late shifts (charts arriving) count too
    const result = await page.evaluate((n) => {
      const w = globalThis as unknown as { __maxShift: number; __cls: number };
      return { ms: performance.getEntriesByName(n)[0]!.startTime, maxShift: w.__maxShift, cls: w.__cls };
    }, name);
    await context.close();
    return result;
  };

  await load(`/campaigns/${campaign.id}`, 'campaign-metrics'); // warm the server, not measured
  const shell: number[] = [];
  const render: number[] = [];
  const shifts: number[] = [];
  const cls: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    shell.push((await load('/login', 'fcp')).ms);
    const r = await load(`/campaigns/${campaign.id}`, 'campaign-metrics');
    render.push(r.ms);
    shifts.push(r.maxShift);
    cls.push(r.cls);
  }

  const kb = js.gzipBytes / 1024;
  const renderMs = median(render);
  const shellMs = median(shell);
  console.log('');
  console.log(
    `initial JS (gzip)           ${kb.toFixed(1)} KB in ${js.files.length} files (${(js.rawBytes / 1024).toFixed(0)} KB raw)  ` +
      `= ${(kb / TARGET_JS_KB).toFixed(2)} × the ${TARGET_JS_KB} KB target  ${kb <= TARGET_JS_KB ? 'PASS' : 'FAIL'}`,
  );
  console.log(
    `campaign page, metrics shown ${renderMs.toFixed(0)} ms median of ${RUNS} cold loads (min ${Math.min(...render).toFixed(0)}, max ${Math.max(...render).toFixed(0)})  ` +
      `= ${(renderMs / TARGET_RENDER_MS).toFixed(2)} × the ${TARGET_RENDER_MS} ms target  ${renderMs <= TARGET_RENDER_MS ? 'PASS' : 'FAIL'}`,
  );
  console.log(
    `  baseline: sign-in page first paint ${shellMs.toFixed(0)} ms → the campaign page takes ${(renderMs / shellMs).toFixed(2)} × the shell`,
  );
  console.log(
    `largest layout shift         ${Math.max(...shifts).toFixed(4)} (max over runs; median ${median(shifts).toFixed(4)}), CLS median ${median(cls).toFixed(4)}  ` +
      `${Math.max(...shifts) <= 0.1 ? 'good (≤ 0.1)' : 'needs work (> 0.1)'}`,
  );
} finally {
  await browser.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
