import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { testDatabase } from '../../test/helpers.ts';
import { createPool } from './db.ts';
import { loadMigrations, type Migration, MigrationError, migrate } from './migrate.ts';

describe('migrations wait for table locks only so long, then try again', async () => {
  const url = await testDatabase();
  const db = createPool(url, 4);
  after(() => db.end());
  const migration = (version: number, sql: string): Migration => ({
    version,
    name: `lock_test_${version}`,
    sql,
    checksum: `test-${version}`,
  });
  // a reader's long transaction holds merchants, which the migration must lock exclusively
  const holdMerchants = async () => {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM merchants');
    return {
      async release() {
        await holder.query('COMMIT');
        await holder.end();
      },
    };
  };
  const columnExists = async (name: string) =>
    (
      await db.query(
        `SELECT 1 FROM information_schema.columns WHERE table_name = 'merchants' AND column_name = $1`,
        [name],
      )
    ).rowCount === 1;

  it('gives up after its attempts with nothing applied, and other queries are not held behind it', async () => {
    const holder = await holdMerchants();
    try {
      const pending = [
        ...loadMigrations(),
        migration(9001, 'ALTER TABLE merchants ADD COLUMN lock_test_a int'),
      ];
      const lines: string[] = [];
      const run = migrate(db, {
        migrations: pending,
        lockTimeoutMs: 300,
        lockAttempts: 2,
        log: (l) => lines.push(l),
      });
      // a query arriving while the ALTER waits queues behind it, but only until it gives up:
      // without lock_timeout it would wait for the long transaction, which is still open here
      await new Promise((r) => setTimeout(r, 100));
      const read = db.query('SELECT count(*) FROM merchants');
      const outcome = await Promise.race([
        read.then(() => 'answered'),
        new Promise((r) => setTimeout(() => r('still waiting'), 15_000)),
      ]);
      assert.equal(outcome, 'answered');
      await assert.rejects(run, (error: Error) => {
        assert.ok(error instanceof MigrationError);
        assert.match(error.message, /9001_lock_test_9001 could not take its table locks: each of 2 attempts/);
        assert.match(error.message, /nothing of this migration was applied/);
        return true;
      });
      assert.match(lines.join('\n'), /attempt 1 of 2\); trying again in 1 s/);
    } finally {
      await holder.release();
    }
    assert.equal(await columnExists('lock_test_a'), false);
    const { rowCount } = await db.query('SELECT 1 FROM schema_migrations WHERE version = 9001');
    assert.equal(rowCount, 0);
  });

  it('applies the migration once the lock is free within its attempts', async () => {
    const holder = await holdMerchants();
    const pending = [
      ...loadMigrations(),
      migration(9002, 'ALTER TABLE merchants ADD COLUMN lock_test_b int'),
    ];
    const lines: string[] = [];
    const run = migrate(db, {
      migrations: pending,
      lockTimeoutMs: 300,
      lockAttempts: 5,
      log: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 500));
    await holder.release();
    const result = await run;
    assert.deepEqual(
      result.applied.map((m) => m.version),
      [9002],
    );
    assert.match(
      lines.join('\n'),
      /9002_lock_test_9002: a table lock was not granted within 300 ms \(attempt 1 of 5\)/,
    );
    assert.equal(await columnExists('lock_test_b'), true);
  });

  it('a dry run that cannot take its locks fails the same way and leaves nothing', async () => {
    const holder = await holdMerchants();
    try {
      const pending = [
        ...loadMigrations(),
        migration(9002, 'ALTER TABLE merchants ADD COLUMN lock_test_b int'),
        migration(9003, 'ALTER TABLE merchants ADD COLUMN lock_test_c int'),
      ];
      await assert.rejects(
        migrate(db, { migrations: pending, dryRun: true, lockTimeoutMs: 200, lockAttempts: 1 }),
        /9003_lock_test_9003 could not take its table locks/,
      );
    } finally {
      await holder.release();
    }
    assert.equal(await columnExists('lock_test_c'), false);
  });
});
