import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { classifyMigration, rollbackAdvice } from './migration-compat.ts';

test('additive migrations are expand', () => {
  const sql = `-- adds things
    CREATE TABLE deployments (id bigint PRIMARY KEY, note text NOT NULL);
    ALTER TABLE users ADD COLUMN nickname text;
    ALTER TABLE users ADD COLUMN score integer NOT NULL DEFAULT 0;
    CREATE INDEX ON users (nickname);
    ALTER TABLE users DROP CONSTRAINT IF EXISTS users_x_check;
    CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; DROP TABLE x; END $$;
    INSERT INTO settings VALUES ('drop table users;');
    CREATE TRIGGER t_truncate AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION f();`;
  const r = classifyMigration('035_x', sql);
  assert.equal(r.class, 'expand', JSON.stringify(r.findings));
});

test('destructive statements are contract, each with its reason', () => {
  const cases: [string, RegExp][] = [
    ['DROP TABLE campaigns', /drops an object/],
    ['ALTER TABLE users DROP COLUMN settings', /drops a column/],
    ['alter table users rename column name to full_name', /renames/],
    ['ALTER TABLE users ALTER COLUMN name TYPE varchar(20)', /column type/],
    ['ALTER TABLE users ALTER COLUMN name SET NOT NULL', /NOT NULL/],
    ['ALTER TABLE users ADD COLUMN tenant uuid NOT NULL', /without a default/],
    ['TRUNCATE events', /every row/],
    ['truncate table events, users cascade', /every row/],
  ];
  for (const [sql, reason] of cases) {
    const r = classifyMigration('x', `${sql};`);
    assert.equal(r.class, 'contract', sql);
    assert.match(r.findings[0]!.reason, reason, sql);
  }
});

test("the project's own migrations are all expand", () => {
  const dir = new URL('../../migrations/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    const r = classifyMigration(file, readFileSync(new URL(file, dir), 'utf8'));
    assert.equal(r.class, 'expand', `${file}: ${JSON.stringify(r.findings)}`);
  }
});

test('rollback advice names what the database needs', () => {
  assert.match(rollbackAdvice([])[0]!, /needs nothing/);
  const advice = rollbackAdvice([
    classifyMigration('036_drop', 'ALTER TABLE users DROP COLUMN settings;'),
  ]).join('\n');
  assert.match(advice, /036_drop line 1: drops a column/);
  assert.match(advice, /restore the pre-deployment backup/);
});

test('a generated column dropped and added again in one statement is expand; dropped alone, contract', () => {
  const regenerated = `ALTER TABLE event_ids
    DROP CONSTRAINT event_ids_pkey,
    DROP COLUMN key,
    ADD COLUMN key uuid NOT NULL GENERATED ALWAYS AS (swipesavvy_event_key(merchant_id, id)) STORED,
    ADD CONSTRAINT event_ids_pkey PRIMARY KEY (key);`;
  assert.equal(classifyMigration('x', regenerated).class, 'expand');
  // a plain column added back has lost its values; another column's drop is still a drop
  for (const sql of [
    'ALTER TABLE t DROP COLUMN key, ADD COLUMN key uuid;',
    'ALTER TABLE t DROP COLUMN key, DROP COLUMN note, ADD COLUMN key uuid GENERATED ALWAYS AS (f(a)) STORED;',
    'ALTER TABLE t DROP COLUMN key; ALTER TABLE t ADD COLUMN key uuid GENERATED ALWAYS AS (f(a)) STORED;',
  ]) {
    const r = classifyMigration('x', sql);
    assert.equal(r.class, 'contract', sql);
    assert.equal(r.findings[0]!.kind, 'drop-column', sql);
  }
});
