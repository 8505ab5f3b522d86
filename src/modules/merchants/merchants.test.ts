import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, signup, startTestApp } from '../../../test/helpers.ts';

describe('merchant network', async () => {
  const { app } = await startTestApp();
  const sessions = await Promise.all([
    signup(app, { merchantName: 'Kiez Kaffee', merchantCategory: 'coffee', merchantCity: 'Berlin' }),
    signup(app, { merchantName: 'Bean There', merchantCategory: 'coffee', merchantCity: 'Lisbon' }),
    signup(app, { merchantName: 'Livraria Norte', merchantCategory: 'books', merchantCity: 'Porto' }),
    signup(app, { merchantName: 'Hidden Gem', merchantCategory: 'coffee', merchantCity: 'Lisbon' }),
  ]);
  const [kiez, bean, livraria] = sessions;
  for (const [s, tags] of [
    [kiez!, ['espresso', 'roastery']],
    [bean!, ['espresso']],
    [livraria!, ['used books']],
  ] as const) {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/merchants/me',
      headers: auth(s),
      payload: { listed: true, tags, description: 'on the network' },
    });
    assert.equal(res.statusCode, 200, res.body);
  }

  it('lists only merchants that chose to be listed, with facets', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/merchants', headers: auth(kiez!) });
    assert.deepEqual(
      res.json().items.map((m: { name: string }) => m.name),
      ['Bean There', 'Kiez Kaffee', 'Livraria Norte'],
    );
    assert.deepEqual(res.json().facets.categories, ['books', 'coffee']);
  });

  it('searches by category, city and free text (name, tags)', async () => {
    const get = async (qs: string) =>
      (await app.inject({ method: 'GET', url: `/api/merchants?${qs}`, headers: auth(kiez!) }))
        .json()
        .items.map((m: { name: string }) => m.name);
    assert.deepEqual(await get('category=coffee'), ['Bean There', 'Kiez Kaffee']);
    assert.deepEqual(await get('city=lisbon'), ['Bean There']);
    assert.deepEqual(await get('q=roast'), ['Kiez Kaffee']);
    assert.deepEqual(await get('q=100%25'), [], 'LIKE wildcards in the query are literal');
  });

  it('pages with a cursor', async () => {
    const first = await app.inject({ method: 'GET', url: '/api/merchants?limit=2', headers: auth(kiez!) });
    const second = await app.inject({
      method: 'GET',
      url: `/api/merchants?limit=2&cursor=${first.json().nextCursor}`,
      headers: auth(kiez!),
    });
    assert.deepEqual(
      second.json().items.map((m: { name: string }) => m.name),
      ['Livraria Norte'],
    );
    assert.equal(second.json().nextCursor, null);
  });

  it('answers 404 for an unlisted merchant', async () => {
    const hidden = sessions[3]!;
    const res = await app.inject({
      method: 'GET',
      url: `/api/merchants/${hidden.merchantId}`,
      headers: auth(kiez!),
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'MERCHANT_NOT_FOUND');
  });

  it('requires a login', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/merchants' });
    assert.equal(res.statusCode, 401);
  });
});
