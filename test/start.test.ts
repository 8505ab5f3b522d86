import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from './global-setup.ts';
import { CLI, runCli } from './helpers.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function healthy(url: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return Date.now() - started;
    } catch {}
    if (Date.now() - started > timeoutMs) throw new Error(`${url} not healthy within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('swipesavvy start on the embedded default', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-start-'));
  chmodSync(dataDir, 0o755);
  const env = {
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    MAILBOX_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
    PATH: process.env['PATH'] ?? '',
  };
  const url = `http://127.0.0.1:${env.PORT}`;
  const children: ReturnType<typeof spawn>[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  function start() {
    const child = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  }

  const postmasterPid = () =>
    Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

  it('starts from nothing: initialises PostgreSQL, migrates, answers', async () => {
    const first = start();
    await healthy(url, 120_000);
    const res = await fetch(`${url}/api/health/db`);
    assert.equal(((await res.json()) as { database: string }).database, 'connected');

    // the CLI attaches to the running embedded database rather than starting another
    const stats = await runCli(['db', 'stats', '--json'], env);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).database, 'embedded');
    assert.ok((await fetch(`${url}/api/health/db`)).ok, 'the server still has its database');

    const pgPid = postmasterPid();
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 0, first.stderr());
    assert.equal(alive(pgPid), false, 'PostgreSQL stopped with the server');
    assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false);
  });

  it('starts again on the kept data, and a command run while it is down starts and stops its own', async () => {
    const stats = await runCli(['db', 'stats', '--json'], env);
    assert.equal(stats.code, 0, stats.stderr);
    assert.ok(JSON.parse(stats.stdout).merchants >= 0);
    assert.equal(
      existsSync(path.join(dataDir, 'pg', 'postmaster.pid')),
      false,
      'the command stopped what it started',
    );

    const second = start();
    const ms = await healthy(url, 60_000);
    console.log(`second start healthy after ${ms} ms`);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  it('adopts a database left running by a killed server and stops it later', async () => {
    const crashed = start();
    await healthy(url, 60_000);
    const pgPid = postmasterPid();
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    assert.equal(alive(pgPid), true, 'the database outlives a SIGKILLed server');
    const next = start();
    await healthy(url, 60_000);
    assert.equal(postmasterPid(), pgPid, 'the running database was reused');
    next.child.kill('SIGINT');
    assert.equal(await next.exited, 0);
    assert.equal(alive(pgPid), false, 'the adopting server stopped it');
  });

  it('reports an occupied port and stops what it started', async () => {
    const blocked = { ...env };
    const server = start();
    await healthy(url, 60_000);
    const second = spawn(process.execPath, [CLI, 'start'], {
      env: blocked,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(second);
    let stderr = '';
    second.stderr!.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(stderr, /EADDRINUSE/);
    assert.ok((await fetch(`${url}/api/health`)).ok, 'the first server is untouched');
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 0);
  });
});
