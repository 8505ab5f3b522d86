import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { inheritedEnvironment } from '../../platform/config.ts';

const run = promisify(execFile);

/** A failure an operator caused or can fix: printed as a message, the stable version untouched. */
export class DeployError extends Error {}

export const TOOLKIT_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export type Release = { version: string; dir: string; source: string; dependencies: string };

async function gitCommit(ref: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', [
      '-C',
      TOOLKIT_ROOT,
      'rev-parse',
      '--verify',
      '--quiet',
      `${ref}^{commit}`,
    ]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Dependencies of a release. When its lockfile is byte-identical to the running toolkit's, the
 * toolkit's node_modules is copied as hard links (`cp -al`: the same files, no download, no
 * extra disk; npm never edits installed files in place, so sharing inodes is safe). Otherwise
 * `npm ci` installs exactly the release's lockfile, from npm's cache when it can.
 */
async function installDependencies(dir: string): Promise<string> {
  if (existsSync(path.join(dir, 'node_modules'))) return 'present';
  const lock = path.join(dir, 'package-lock.json');
  const ours = path.join(TOOLKIT_ROOT, 'package-lock.json');
  if (
    existsSync(lock) &&
    existsSync(path.join(TOOLKIT_ROOT, 'node_modules')) &&
    readFileSync(lock).equals(readFileSync(ours))
  ) {
    await run('cp', ['-al', path.join(TOOLKIT_ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
    return 'hard-linked (lockfile identical)';
  }
  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 << 20 });
  return 'npm ci';
}

/** Resolves `--from` (a directory or a git ref of this repository) into a release directory. */
export async function prepareRelease(
  version: string,
  from: string | undefined,
  releasesDir: string,
): Promise<Release> {
  if (!/^[\w.+-]{1,64}$/.test(version))
    throw new DeployError(`--version must be 1–64 of [A-Za-z0-9_.+-], got ${version}`);
  const own = path.join(releasesDir, version);
  if (from === undefined) {
    if (!existsSync(path.join(own, 'package.json')))
      throw new DeployError(
        `unknown version ${version}: no release in ${own} (give --from <git ref or directory>)`,
      );
    return {
      version,
      dir: own,
      source: readMarker(own) ?? own,
      dependencies: await installDependencies(own),
    };
  }
  if (existsSync(from) && statSync(from).isDirectory()) {
    const dir = path.resolve(from);
    if (!existsSync(path.join(dir, 'src', 'cli', 'main.ts')))
      throw new DeployError(`${dir} is not a SwipeSavvy release (no src/cli/main.ts)`);
    return { version, dir, source: dir, dependencies: await installDependencies(dir) };
  }
  const commit = await gitCommit(from);
  if (!commit) throw new DeployError(`--from ${from}: neither a directory nor a git ref of ${TOOLKIT_ROOT}`);
  if (readMarker(own) === commit)
    return { version, dir: own, source: commit, dependencies: await installDependencies(own) };
  rmSync(own, { recursive: true, force: true });
  mkdirSync(own, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const archive = spawn('git', ['-C', TOOLKIT_ROOT, 'archive', '--format=tar', commit], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const untar = spawn('tar', ['-x', '-C', own], { stdio: ['pipe', 'inherit', 'inherit'] });
    archive.stdout.pipe(untar.stdin);
    untar.on('exit', (code) =>
      code === 0 ? resolve() : reject(new DeployError(`unpacking ${from} failed (tar ${code})`)),
    );
  });
  const dependencies = await installDependencies(own);
  writeFileSync(path.join(own, '.release'), commit);
  return { version, dir: own, source: commit, dependencies };
}

function readMarker(dir: string): string | undefined {
  const f = path.join(dir, '.release');
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new DeployError(
          `port ${port} is in use${e.code === 'EADDRINUSE' ? '' : ` (${e.message})`}: choose another --port`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

export type Instance = {
  version: string;
  dir: string;
  url: string;
  port: number;
  pid: number;
  log: string;
  startedAt: string;
};

export async function isReady(url: string): Promise<boolean> {
  try {
    for (const p of ['/api/health', '/api/health/db']) {
      const res = await fetch(`${url}${p}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status !== 200) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a release's instance on its own port, detached (it outlives this command), and waits
 * for readiness: /api/health and /api/health/db both 200. An instance that exits or never gets
 * ready is stopped and reported with the tail of its log.
 */
export async function startInstance(options: {
  release: Release;
  port: number;
  env: Record<string, string>;
  logDir: string;
  readyTimeoutMs: number;
}): Promise<Instance> {
  const { release, port } = options;
  mkdirSync(options.logDir, { recursive: true });
  const log = path.join(options.logDir, `${release.version}-${port}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [path.join(release.dir, 'src', 'cli', 'main.ts'), 'start'], {
    cwd: release.dir,
    env: { ...inheritedEnvironment(), ...options.env, PORT: String(port), APP_VERSION: release.version },
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  child.unref();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + options.readyTimeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new DeployError(`${release.version} exited (code ${exited}) before it was ready:\n${tail(log)}`);
    if (await isReady(url)) {
      return {
        version: release.version,
        dir: release.dir,
        url,
        port,
        pid: child.pid!,
        log,
        startedAt: new Date().toISOString(),
      };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopProcess(child.pid!, 2000);
  throw new DeployError(
    `${release.version} never became ready on port ${port} within ${options.readyTimeoutMs / 1000}s (stopped; no traffic was sent to it):\n${tail(log)}`,
  );
}

function tail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => `  | ${l}`)
      .join('\n');
  } catch {
    return '  (no log)';
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (the server drains in-flight requests), then SIGKILL after the grace time. */
export async function stopProcess(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export function copyRelease(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}
