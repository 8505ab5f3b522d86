// Real processes for the deploy tests: the CLI as a child process, a stable instance, a router,
// a webhook sink. Everything started here is stopped by pid when the test file ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { freePort } from './global-setup.ts';

const MAIN = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

export type CliResult = { code: number; stdout: string; stderr: string };

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const children: ChildProcess[] = [];

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a long-running CLI command (start, router) and waits until `ready` answers. */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  children.push(child);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited ${child.exitCode}: ${stderr}`);
    if (await ready()) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${args.join(' ')} not ready in ${timeoutMs} ms: ${stderr}`);
}

export async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export type Sink = { url: string; posts: Record<string, unknown>[]; close(): Promise<void> };

/** A real HTTP endpoint that records what is posted to it (the announcement webhooks). */
export async function webhookSink(): Promise<Sink> {
  const posts: Record<string, unknown>[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    posts.push(JSON.parse(body));
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A deploy environment: data dir, a stable v1 instance, the environment the CLI needs. */
export async function deployEnvironment(databaseUrl: string) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-deploy-'));
  const stablePort = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    MAILBOX_PORT: '0',
    LOG_LEVEL: 'warn',
    AUTH_RATE_LIMIT_PER_MINUTE: '10000',
    SHUTDOWN_GRACE_MS: '3000',
  };
  const stableUrl = `http://127.0.0.1:${stablePort}`;
  after(async () => {
    // instances the toolkit started, then our own children
    const stateFile = path.join(dataDir, 'deploy', 'state.json');
    if (existsSync(stateFile)) {
      for (const i of JSON.parse(readFileSync(stateFile, 'utf8')).instances as { pid: number }[]) {
        try {
          process.kill(i.pid, 'SIGTERM');
        } catch {}
      }
    }
    await Promise.all(children.map(stop));
    rmSync(dataDir, { recursive: true, force: true });
  });
  await startProcess(['start'], { ...env, PORT: String(stablePort), APP_VERSION: 'v1' }, () =>
    answers(`${stableUrl}/api/health/db`),
  );
  return { dataDir, env, stableUrl };
}

export type RouterState = {
  backends: { version: string; url: string; weight: number }[];
  pid: number;
  newSpaceMb: number;
};

export function signoffs(): string[] {
  return ['infrastructure', 'database', 'backend', 'frontend', 'security', 'operations'].flatMap((role) => [
    '--approve',
    `${role}=${role}-lead`,
  ]);
}

export { freePort };
