import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestApp } from '../../../test/helpers.ts';

describe('health', async () => {
  const { app } = await startTestApp();

  it('GET /api/health answers healthy with the version', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'healthy');
    assert.equal(res.json().version, '2.0.0');
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('sends the security headers and the request id on answers and on problems alike', async () => {
    for (const url of ['/api/health', '/api/campaigns', '/api/no-such-route']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
      assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, url);
      assert.equal(res.headers['content-security-policy'], undefined, url);
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, url);
    }
  });

  it('echoes a request id the client sent', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/health',
      headers: { 'x-request-id': 'trace-123' },
    });
    assert.equal(res.headers['x-request-id'], 'trace-123');
  });

  it('GET /api/health/db measures the database round trip', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/health/db' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().database, 'connected');
    assert.equal(typeof res.json().latencyMs, 'number');
  });

  it('GET /api/status lists every service as running', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/status' });
    assert.equal(res.statusCode, 200);
    const { services, status } = res.json();
    assert.equal(status, 'operational');
    for (const name of ['api', 'database', 'queue', 'scheduler', 'workers', 'mail']) {
      assert.equal(services[name], 'running', name);
    }
  });

  it('serves OpenAPI 3.1 and the docs page', async () => {
    const spec = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(spec.statusCode, 200);
    assert.equal(spec.json().openapi, '3.1.0');
    assert.ok(spec.json().paths['/api/campaigns/{id}']);
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(String(docs.headers['content-type']), /text\/html/);
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/nope' });
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });
});

describe('metrics', async () => {
  const { app } = await startTestApp();

  it('exports request counts and durations by route pattern and problem code', async () => {
    await app.inject({ method: 'GET', url: '/api/health' });
    await app.inject({ method: 'GET', url: '/api/campaigns/00000000-0000-0000-0000-000000000000' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(
      res.body,
      /swipesavvy_http_requests_total\{[^}]*route="\/api\/health"[^}]*status_code="200"/,
    );
    assert.match(res.body, /route="\/api\/campaigns\/:id"[^}]*status_code="401"[^}]*code="AUTH_REQUIRED"/);
    assert.match(res.body, /swipesavvy_http_request_duration_seconds_bucket/);
  });
});
