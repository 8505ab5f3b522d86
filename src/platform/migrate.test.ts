import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { testDatabase } from '../../test/helpers.ts';
import { createPool } from './db.ts';
import { loadMigrations, type MigrateOptions, type Migration, MigrationError, migrate } from './migrate.ts';

describe('migrations wait for table locks only so long, then try again', async () => {
  const url = await testDatabase();
  const db = createPool(url, 4);
  after(() => db.end());
  /** every real migration, then test ones that each add a column to merchants */
  const pendingWith = (...added: [version: number, column: string][]): Migration[] => [
    ...loadMigrations(),
    ...added.map(([version, column]) => ({
      version,
      name: `lock_test_${version}`,
      sql: `ALTER TABLE merchants ADD COLUMN ${column} int`,
      checksum: `test-${version}`,
    })),
  ];
  /** migrate with a short lock timeout, keeping its log lines */
  const migrateLogged = (migrations: Migration[], options: Omit<MigrateOptions, 'migrations' | 'log'>) => {
    const lines: string[] = [];
    return {
      lines,
      run: migrate(db, { migrations, lockTimeoutMs: 300, ...options, log: (l) => lines.push(l) }),
    };
  };
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
      const { lines, run } = migrateLogged(pendingWith([9001, 'lock_test_a']), { lockAttempts: 2 });
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
    const { lines, run } = migrateLogged(pendingWith([9002, 'lock_test_b']), { lockAttempts: 5 });
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
      const pending = pendingWith([9002, 'lock_test_b'], [9003, 'lock_test_c']);
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
