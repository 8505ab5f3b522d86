#!/usr/bin/env node
// The CLI runs TypeScript directly, which needs the Node.js 24 this project pins in its own
// dependencies. Under an older Node (a machine's node only bootstraps npm) re-run with that one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  await import('../src/cli/main.ts');
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    console.error(
      `swipesavvy needs Node.js 24 or later (this is ${process.version}); run npm install first.`,
    );
    process.exit(1);
  }
  const result = spawnSync(pinned, [join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
