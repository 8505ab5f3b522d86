import { startRouter } from '../ops/deploy/router.ts';
import { startNginx } from '../ops/deploy/router-nginx.ts';
import type { Backend } from '../ops/deploy/router-policy.ts';
import { color, keyValues, parse, portOf, say, UsageError, untilStopped } from './cli-output.ts';

// `swipesavvy router`: the traffic router, built-in or nginx. The CLI's entry (main.ts) loads this
// module alone for it, not the platform, the database or the rest of the toolkit: the router is a
// long-lived process on every request's path, and what it does not load its GC never walks.

export const routerCommand = async (args: string[]): Promise<number> => {
  const flags = parse(args, {
    port: { type: 'string' },
    'control-port': { type: 'string' },
    backend: { type: 'string', multiple: true },
    nginx: { type: 'string' },
    state: { type: 'string' },
  });
  const backends: Backend[] = Object.entries(keyValues(flags.backend, '--backend')).map(([version, url]) => ({
    version,
    url,
    weight: 0,
  }));
  if (backends.length === 0) throw new UsageError('give the stable version: --backend VERSION=URL');
  backends[0]!.weight = 100;
  const port = portOf(flags.port, '--port') ?? 8088;
  let stop: () => Promise<void>;
  if (flags.nginx) {
    const child = await startNginx(flags.nginx, port, backends);
    say(
      `${color.green('●')} nginx router at http://127.0.0.1:${port} (config ${flags.nginx}/nginx.conf, pid ${child.pid})`,
    );
    stop = async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    };
  } else {
    const router = await startRouter({
      port,
      controlPort: portOf(flags['control-port'], '--control-port') ?? 8079,
      backends,
      stateFile: flags.state,
    });
    say(
      `${color.green('●')} router at ${router.url}, control ${router.controlUrl} (${backends[0]!.version} 100 %)`,
    );
    stop = () => router.close();
  }
  await untilStopped(stop);
  return 0;
};

/** The router command as the whole process: usage and start-up errors as the CLI prints them. */
export async function runRouter(args: string[]): Promise<number> {
  try {
    return await routerCommand(args);
  } catch (error) {
    say(`${color.red('error:')} ${(error as Error).message}`);
    if (!(error instanceof UsageError) && process.env['SWIPESAVVY_DEBUG']) console.error(error);
    return error instanceof UsageError ? 2 : 1;
  }
}
