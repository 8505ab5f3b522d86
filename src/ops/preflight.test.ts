import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../test/cli.ts';
import { testConfig, testDatabase } from '../../test/helpers.ts';
import { MIGRATIONS_DIR } from '../platform/migrate.ts';
import { startServer } from '../server.ts';
import { analyzeMigration } from './migration-compat.ts';
import type { PreflightReport } from './preflight.ts';

const JWT_SECRET = 'Zq8vR2mX7kP4wL9tN3bH6cJ1fD5gS0yA-uE_iO8rT2';

describe('preflight (CLI against a running server)', async () => {
  const url = await testDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-preflight-'));
  chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const server = await startServer(testConfig(url, { DATA_DIR: dataDir, JWT_SECRET }));
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = {
    DATABASE_URL: url,
    DATA_DIR: dataDir,
    BACKUP_DIR: path.join(dir, 'backups'),
    MAILBOX_PORT: '0',
    PORT: '0',
    JWT_SECRET,
  };
  const preflight = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await runCli(['preflight', '--json', '--base-url', server.url, ...args], { ...env, ...extra });
    assert.ok(r.stdout, r.stderr);
    return { ...r, report: JSON.parse(r.stdout) as PreflightReport };
  };
  const find = (report: PreflightReport, name: string) => {
    const c = report.checks.find((x) => x.name === name);
    assert.ok(c, `no check ${name}`);
    return c;
  };

  it('runs 50+ named checks with a value and a reason, and passes what this setup gets right', async () => {
    const backup = await runCli(['backup', '--verify'], env);
    assert.equal(backup.code, 0, backup.stderr);
    const { report, stderr } = await preflight(['--skip', 'smoke']);
    assert.ok(report.checks.length >= 50, `${report.checks.length} checks`);
    for (const c of report.checks) {
      assert.ok(['pass', 'warn', 'fail'].includes(c.status));
      assert.ok(c.name && c.value !== undefined && c.reason, JSON.stringify(c));
    }
    assert.deepEqual(
      [...new Set(report.checks.map((c) => c.group))],
      ['infrastructure', 'dependencies', 'database', 'security', 'backup'],
    );
    for (const name of [
      'database.write',
      'migrations.checksums',
      'integrity.constraints_validated',
      'queue.queues',
      'api.health',
      'api.status',
      'ratelimit.active',
      'auth.required',
      'auth.forged-token',
      'auth.end-to-end',
      'jwt.strength',
      'secrets.scan',
      'secrets.file-permissions',
      'backup.recent-verified',
      'backup.archive-intact',
    ]) {
      assert.equal(find(report, name).status, 'pass', JSON.stringify(find(report, name)));
    }
    assert.match(
      stderr,
      /✓ Checks Passed: \d+ {2}⚠ Warnings: \d+ {2}✗ Checks Failed: \d+ {2}Status: (READY FOR DEPLOYMENT|NOT READY)/,
    );
  });

  it('fails on a world-readable secrets file', async () => {
    const file = path.join(dataDir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ jwtSecret: JWT_SECRET }));
    chmodSync(file, 0o644);
    try {
      const { report, code, stderr } = await preflight(['--only', 'security']);
      const c = find(report, 'secrets.file-permissions');
      assert.equal(c.status, 'fail');
      assert.match(c.value, /secrets\.json/);
      assert.equal(code, 1);
      assert.match(stderr, /Status: NOT READY/);
    } finally {
      chmodSync(file, 0o600);
    }
  });

  it('flags a pending destructive migration as not backward compatible', async () => {
    const migrations = path.join(dir, 'migrations');
    mkdirSync(migrations);
    for (const f of readdirSync(MIGRATIONS_DIR))
      copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(migrations, f));
    writeFileSync(path.join(migrations, '034_drop_city.sql'), 'ALTER TABLE merchants DROP COLUMN city;\n');
    const { report, code } = await preflight(['--only', 'database', '--migrations-dir', migrations]);
    assert.equal(find(report, 'migrations.pending').value, '34_drop_city');
    assert.equal(find(report, 'migrations.dry-run').status, 'pass');
    const compat = find(report, 'migrations.compatibility.34_drop_city');
    assert.equal(compat.status, 'fail');
    assert.match(compat.reason, /drop-column/);
    assert.equal(code, 1);
  });

  it('fails a TLS certificate that expires within 30 days and passes one that does not', async () => {
    const make = (days: number) => {
      const base = path.join(dir, `cert-${days}`);
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.pem`,
          '-days',
          String(days),
          '-subj',
          '/CN=swipesavvy.test',
        ],
        { stdio: 'ignore' },
      );
      return `${base}.pem`;
    };
    const soon = await preflight(['--only', 'security'], { TLS_CERT_FILE: make(10) });
    assert.equal(find(soon.report, 'tls.certificate').status, 'fail');
    assert.match(find(soon.report, 'tls.certificate').value, /^(9|10) days left$/);
    const fine = await preflight(['--only', 'security'], { TLS_CERT_FILE: make(400) });
    assert.equal(find(fine.report, 'tls.certificate').status, 'pass');
  });

  it('runs the smoke suite against the base URL as checks', async () => {
    // budgets scaled: this shared test machine is no production host
    const { report } = await preflight(['--only', 'smoke', '--budget-scale', '20']);
    const smoke = report.checks.filter((c) => c.group === 'smoke');
    assert.equal(smoke.length, 21);
    assert.deepEqual(
      smoke.filter((c) => c.status !== 'pass'),
      [],
    );
    assert.equal(find(report, 'smoke.decision').value, '20/20');
  });

  it('bad input: unknown group, unknown flag, unreachable API', async () => {
    const group = await runCli(['preflight', '--only', 'infra'], env);
    assert.equal(group.code, 2);
    assert.match(group.stderr, /--only: unknown group infra; groups are infrastructure, dependencies/);
    const flag = await runCli(['preflight', '--fast'], env);
    assert.equal(flag.code, 2);
    const down = await runCli(
      ['preflight', '--json', '--only', 'dependencies', '--base-url', 'http://127.0.0.1:9'],
      env,
    );
    const report = JSON.parse(down.stdout) as PreflightReport;
    assert.equal(down.code, 1);
    assert.equal(find(report, 'api.health').status, 'fail');
    assert.match(find(report, 'api.health').reason, /not reachable/);
  });
});

describe('migration compatibility (expand/contract)', () => {
  it('finds the statements that break the running version, with their lines', () => {
    const r = analyzeMigration(
      [
        '-- drop table users; (a comment is not a statement)',
        'CREATE TABLE x (id int);',
        "INSERT INTO x VALUES (1); -- 'rename' in a string: 'RENAME'",
        'ALTER TABLE users DROP COLUMN name;',
        'ALTER TABLE users RENAME COLUMN email TO mail;',
        'ALTER TABLE users ALTER COLUMN role TYPE varchar(10);',
        'ALTER TABLE users ALTER COLUMN settings SET NOT NULL;',
        'ALTER TABLE users ADD COLUMN tier text NOT NULL;',
        "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
        'DROP TABLE old_things;',
        'ALTER TABLE users DROP CONSTRAINT users_check;',
      ].join('\n'),
    );
    assert.deepEqual(
      r.findings.map((f) => [f.line, f.kind]),
      [
        [4, 'drop-column'],
        [5, 'rename'],
        [6, 'alter-type'],
        [7, 'set-not-null'],
        [8, 'add-not-null-without-default'],
        [10, 'drop-table'],
      ],
    );
    assert.equal(r.contract, false);
  });

  it('an expand-only migration passes; the contract marker is recognised', () => {
    assert.deepEqual(
      analyzeMigration('CREATE TABLE a (id int NOT NULL);\nALTER TABLE a ADD COLUMN b int;').findings,
      [],
    );
    const c = analyzeMigration('-- swipesavvy: contract\nALTER TABLE a DROP COLUMN b;');
    assert.equal(c.contract, true);
    assert.equal(c.findings.length, 1);
  });
});
