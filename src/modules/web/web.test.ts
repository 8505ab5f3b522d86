import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import Fastify from 'fastify';
import { generateApiTypes, SCHEMA_FILE } from '../../../web/scripts/api-types.ts';
import { errorHandler, notFoundHandler } from '../../platform/http-errors.ts';
import { DASHBOARD_CSP, webRoutes } from './web.routes.ts';

test('web/src/api/schema.d.ts is generated from the current OpenAPI document (npm run web:api)', async () => {
  assert.equal(
    readFileSync(SCHEMA_FILE, 'utf8'),
    await generateApiTypes(),
    'the dashboard types are stale: run `npm run web:api` and commit web/src/api/schema.d.ts',
  );
});

async function appServing(root: string) {
  const app = Fastify({ logger: false });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.get('/api/thing', async () => ({ ok: true }));
  await app.register(webRoutes, { root });
  after(() => app.close());
  return app;
}

test('the build is served with immutable hashed assets, an uncached index.html and an SPA fallback', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'swipesavvy-dist-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'assets'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(path.join(root, 'assets', 'index-Ab12Cd34.js'), 'console.log(1)');
  writeFileSync(path.join(root, 'sw.js'), 'self.addEventListener("push", () => {})');
  const app = await appServing(root);

  const index = await app.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /text\/html/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.equal(index.headers['content-security-policy'], DASHBOARD_CSP);

  const asset = await app.inject({ url: '/assets/index-Ab12Cd34.js' });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');

  const worker = await app.inject({ url: '/sw.js' });
  assert.equal(worker.headers['cache-control'], 'no-cache', 'a stale service worker would pin old code');

  const deepLink = await app.inject({ url: '/campaigns/0b7c1a52-8a1f-4f5e-9a4e-2d7a1f0c9e11?tab=segments' });
  assert.equal(deepLink.statusCode, 200);
  assert.equal(deepLink.body, index.body, 'a client-side route gets index.html');

  assert.equal((await app.inject({ url: '/api/thing' })).json().ok, true, 'API routes win over the fallback');
  const missingApi = await app.inject({ url: '/api/nothing-here' });
  assert.equal(missingApi.statusCode, 404);
  assert.equal(missingApi.json().code, 'ROUTE_NOT_FOUND');
  assert.equal(
    (await app.inject({ url: '/assets/gone-123.js' })).statusCode,
    404,
    'no HTML for a missing asset',
  );
  assert.equal((await app.inject({ url: '/favicon.ico' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'POST', url: '/campaigns' })).statusCode, 404);
});

test("the build's precompressed copies are sent to browsers that accept them, with the same headers", async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'swipesavvy-dist-br-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'assets'));
  const html = '<!doctype html><div id="root"></div>';
  const js = 'console.log("a chunk");'.repeat(100);
  writeFileSync(path.join(root, 'index.html'), html);
  writeFileSync(path.join(root, 'index.html.br'), brotliCompressSync(html));
  writeFileSync(path.join(root, 'assets', 'app-Ab12Cd34.js'), js);
  writeFileSync(path.join(root, 'assets', 'app-Ab12Cd34.js.br'), brotliCompressSync(js));
  const app = await appServing(root);

  const asset = await app.inject({
    url: '/assets/app-Ab12Cd34.js',
    headers: { 'accept-encoding': 'gzip, br' },
  });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['content-encoding'], 'br');
  assert.match(asset.headers['content-type'] as string, /javascript/);
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(asset.headers['vary'] as string, /accept-encoding/i);
  assert.equal(brotliDecompressSync(asset.rawPayload).toString(), js);

  const plain = await app.inject({
    url: '/assets/app-Ab12Cd34.js',
    headers: { 'accept-encoding': 'identity' },
  });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, js);

  const deepLink = await app.inject({ url: '/campaigns/x', headers: { 'accept-encoding': 'br' } });
  assert.equal(deepLink.headers['content-encoding'], 'br');
  assert.equal(deepLink.headers['cache-control'], 'no-cache');
  assert.equal(
    deepLink.headers['content-security-policy'],
    DASHBOARD_CSP,
    'the compressed index.html keeps its CSP',
  );
  assert.equal(brotliDecompressSync(deepLink.rawPayload).toString(), html);
});

test('without a build, the API starts and / answers 404', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'swipesavvy-nodist-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const app = await appServing(root);
  assert.equal((await app.inject({ url: '/' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/api/thing' })).statusCode, 200);
});
