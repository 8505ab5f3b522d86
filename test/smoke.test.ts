import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startServer } from '../src/server.ts';
import { runCli, testConfig, testDatabase } from './helpers.ts';

describe('swipesavvy smoke against a live server', async () => {
  const databaseUrl = await testDatabase();
  const server = await startServer(testConfig(databaseUrl, { HOST: '127.0.0.1', PORT: '0' }));
  after(() => server.close());
  const out = mkdtempSync(path.join(tmpdir(), 'smoke-'));

  it('passes the 20 tests, prints the seed lines and the decision, writes JSON', async () => {
    const json = path.join(out, 'smoke.json');
    // The seed's budgets are for production hardware; a shared test machine gets a wide margin.
    // That a slow answer fails its budget is tested below with a vanishing scale.
    const res = await runCli(['smoke', '--base-url', server.url, '--json', json, '--budget-scale', '50'], {
      DATABASE_URL: databaseUrl,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Test 1\.1: Health Check\s+✅ PASS \(\d+ms\)/);
    assert.match(res.stderr, /Test 6\.2: Data Consistency Check\s+✅ PASS/);
    assert.match(res.stderr, /RESULTS: 20\/20 PASS/);
    assert.match(res.stderr, /DEPLOYMENT SUCCESSFUL/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.passed, 20);
    assert.equal(report.decision, 'proceed');
    assert.deepEqual(
      report.results.map((r: { id: string }) => r.id),
      [
        '1.1',
        '1.2',
        '1.3',
        '2.1',
        '2.2',
        '2.3',
        '2.4',
        '3.1',
        '3.2',
        '3.3',
        '3.4',
        '4.1',
        '4.2',
        '4.3',
        '5.1',
        '5.2',
        '5.3',
        '5.4',
        '6.1',
        '6.2',
      ],
    );
    assert.deepEqual(
      report.results.map((r: { budgetMs: number }) => r.budgetMs / 50),
      [100, 100, 100, 500, 200, 100, 150, 300, 100, 200, 200, 200, 200, 500, 1000, 100, 300, 100, 100, 500],
    );
  });

  it('removes its throwaway merchant afterwards', async () => {
    const stats = await runCli(['db', 'stats', '--json'], { DATABASE_URL: databaseUrl });
    assert.equal(JSON.parse(stats.stdout).users, 0);
  });

  it('fails the database tests, and so the run, when the CLI has no database', async () => {
    const json = path.join(out, 'no-db.json');
    const res = await runCli(['smoke', '--base-url', server.url, '--json', json, '--budget-scale', '50'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
    });
    assert.equal(res.code, 1);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.passed, 18);
    assert.equal(report.decision, 'rollback');
    assert.match(res.stderr, /STATUS: ROLLBACK/);
  });

  it('fails a test that answers correctly but over its budget', async () => {
    const json = path.join(out, 'slow.json');
    const res = await runCli(
      ['smoke', '--base-url', server.url, '--json', json, '--budget-scale', '0.00001'],
      {
        DATABASE_URL: databaseUrl,
      },
    );
    assert.equal(res.code, 1);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.passed, 0);
    assert.match(report.results[0].detail, /over the 0\.001 ms budget \(version 2\.0\.0\)/);
  });

  it('rolls back when nothing answers', async () => {
    const json = path.join(out, 'down.json');
    const res = await runCli(['smoke', '--base-url', 'http://127.0.0.1:1', '--json', json], {
      DATABASE_URL: databaseUrl,
    });
    assert.equal(res.code, 1);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.decision, 'rollback');
    assert.equal(report.results[0].status, 'fail');
  });

  it('refuses a malformed base URL', async () => {
    const res = await runCli(['smoke', '--base-url', 'not a url'], { DATABASE_URL: databaseUrl });
    assert.equal(res.code, 2);
  });
});
