import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { runCli, testDatabase } from './helpers.ts';

async function sql(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

describe('swipesavvy CLI', async () => {
  const url = await testDatabase({ empty: true });
  const env = { DATABASE_URL: url };

  it('migrates an empty database, then finds nothing to do', async () => {
    const first = await runCli(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /applied 1_platform/);
    assert.match(first.stderr, /applied 2_integrity_check/);
    const second = await runCli(['migrate', '--status'], env);
    assert.equal(second.code, 0);
    assert.match(second.stderr, /No pending migrations/);
  });

  it('refuses a migration edited after it was applied', async () => {
    await sql(url, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
    const res = await runCli(['migrate'], env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /1_platform was edited after it was applied/);
    await sql(url, 'DELETE FROM schema_migrations WHERE version = 1');
    await runCli(['migrate', '--status'], env);
  });

  it('loads the demo data set once, with real numbers behind the metrics', async () => {
    const db = await testDatabase();
    const seed = await runCli(['seed-demo', '--customers', '600'], { DATABASE_URL: db });
    assert.equal(seed.code, 0, seed.stderr);
    assert.match(seed.stderr, /Demo data loaded: 600 customers, 6 campaigns/);
    const stats = await runCli(['db', 'stats', '--json'], { DATABASE_URL: db });
    const s = JSON.parse(stats.stdout);
    assert.equal(s.customers, 600);
    assert.ok(s.events > 500, `events: ${s.events}`);
    assert.ok(s.transactions > 100);
    assert.equal(s.users, 3);
    const check = await runCli(['db', 'check'], { DATABASE_URL: db });
    assert.equal(check.code, 0, check.stderr);
    const again = await runCli(['seed-demo'], { DATABASE_URL: db });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /--reset/);
    const reset = await runCli(['seed-demo', '--reset', '--customers', '200'], { DATABASE_URL: db });
    assert.equal(reset.code, 0, reset.stderr);
  });

  it('db check exits non-zero and names the broken invariant', async () => {
    const db = await testDatabase();
    const ok = await runCli(['db', 'check', '--json'], { DATABASE_URL: db });
    assert.equal(ok.code, 0);
    assert.equal(JSON.parse(ok.stdout).ok, true);
    await sql(
      db,
      `WITH m AS (INSERT INTO merchants (name, webhook_secrets) VALUES ('Broken', ARRAY['whsec_x']) RETURNING id)
       INSERT INTO campaigns (merchant_id, name, channel) SELECT id, 'no variants', 'email' FROM m`,
    );
    const bad = await runCli(['db', 'check'], { DATABASE_URL: db });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /✗ campaign_has_variant\s+1 violation/);
  });

  it('lists every invalid variable at once and exits 2', async () => {
    const res = await runCli(['db', 'stats'], {
      ...env,
      PORT: 'eighty',
      JWT_TTL_SECONDS: '5',
      LOG_LEVEL: 'loud',
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /PORT="eighty"/);
    assert.match(res.stderr, /JWT_TTL_SECONDS="5"/);
    assert.match(res.stderr, /LOG_LEVEL="loud"/);
  });

  it('answers unknown commands and flags with usage errors', async () => {
    assert.equal((await runCli(['deploy-everything'], env)).code, 2);
    const flag = await runCli(['db', 'check', '--fast'], env);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--fast'/);
    assert.equal((await runCli(['seed-demo', '--customers', 'many'], env)).code, 2);
  });

  it('reports an unreachable database clearly', async () => {
    const res = await runCli(['db', 'stats'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /ECONNREFUSED/);
  });
});
