import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
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

test('without a build, the API starts and / answers 404', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'swipesavvy-nodist-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const app = await appServing(root);
  assert.equal((await app.inject({ url: '/' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/api/thing' })).statusCode, 200);
});
