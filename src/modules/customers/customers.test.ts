import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, signup, startTestApp } from '../../../test/helpers.ts';

describe('customers', async () => {
  const { app } = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);

  it('adds an audience member with segment attributes and channel addresses', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/customers',
      headers: auth(owner),
      payload: {
        externalId: 'card-1',
        email: 'Ana@Example.test',
        webhookUrl: 'https://hooks.example.test/ana',
        attributes: { city: 'Lisbon', ageBand: '25-34', device: 'ios', tier: 'gold' },
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().email, 'ana@example.test');
    assert.deepEqual(res.json().attributes, {
      city: 'Lisbon',
      ageBand: '25-34',
      device: 'ios',
      tier: 'gold',
    });
    const dup = await app.inject({
      method: 'POST',
      url: '/api/customers',
      headers: auth(owner),
      payload: { externalId: 'card-1' },
    });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().code, 'CUSTOMER_EXTERNAL_ID_TAKEN');
  });

  it('imports a batch: creates, updates by external id, refuses bad items alone', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/customers/import',
      headers: auth(owner),
      payload: {
        customers: [
          { externalId: 'card-1', attributes: { tier: 'platinum' } },
          { externalId: 'card-2', email: 'b@example.test', attributes: { city: 'Porto' } },
          { externalId: 'card-3', email: 'not an email' },
          { externalId: 'card-2', email: 'again@example.test' },
          { webhookUrl: 'ftp://nope' },
          'not even an object',
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.created, 1);
    assert.equal(body.updated, 1);
    assert.deepEqual(
      body.refused.map((r: { index: number; code: string }) => [r.index, r.code]),
      [
        [2, 'VALIDATION_FAILED'],
        [3, 'DUPLICATE_IN_BATCH'],
        [4, 'VALIDATION_FAILED'],
        [5, 'VALIDATION_FAILED'],
      ],
    );
    const list = await app.inject({ method: 'GET', url: '/api/customers?q=card-1', headers: auth(owner) });
    assert.equal(list.json().items[0].attributes.tier, 'platinum');
    assert.equal(list.json().items[0].attributes.city, 'Lisbon', 'an update keeps what it does not mention');
  });

  it('refuses an import over the batch limit', async () => {
    const customers = Array.from({ length: 10_001 }, (_, i) => ({ externalId: `x${i}` }));
    const res = await app.inject({
      method: 'POST',
      url: '/api/customers/import',
      headers: auth(owner),
      payload: { customers },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'BATCH_TOO_LARGE');
  });

  it('filters by segment attribute and keeps merchants apart', async () => {
    const porto = await app.inject({ method: 'GET', url: '/api/customers?city=Porto', headers: auth(owner) });
    assert.deepEqual(
      porto.json().items.map((c: { externalId: string }) => c.externalId),
      ['card-2'],
    );
    const id = porto.json().items[0].id;
    const foreign = await app.inject({ method: 'GET', url: `/api/customers/${id}`, headers: auth(other) });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, 'CUSTOMER_NOT_FOUND');
    const unsub = await app.inject({
      method: 'POST',
      url: `/api/customers/${id}/unsubscribe`,
      headers: auth(other),
    });
    assert.equal(unsub.statusCode, 404);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/customers', headers: auth(other) })).json().items.length,
      0,
    );
  });

  it('unsubscribes a customer once', async () => {
    const list = await app.inject({ method: 'GET', url: '/api/customers?q=card-2', headers: auth(owner) });
    const id = list.json().items[0].id;
    const first = await app.inject({
      method: 'POST',
      url: `/api/customers/${id}/unsubscribe`,
      headers: auth(owner),
    });
    const second = await app.inject({
      method: 'POST',
      url: `/api/customers/${id}/unsubscribe`,
      headers: auth(owner),
    });
    assert.equal(first.statusCode, 200);
    assert.equal(second.json().unsubscribedAt, first.json().unsubscribedAt);
  });
});
