import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(WEB, 'dist');
const STAMP = path.join(DIST, '.source-hash');
// what the build is made of: a change to any of these makes web/dist stale
const INPUTS = [
  'src',
  'public',
  'index.html',
  'vite.config.ts',
  '../src/ops/thresholds.ts',
  '../package-lock.json',
];

function files(entry: string): string[] {
  const full = path.join(WEB, entry);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [entry];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(WEB, path.join(d.parentPath, d.name)))
    .sort();
}

/** A hash of the dashboard's sources, kept beside the build to tell whether it is current. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap(files))
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(WEB, file)));
  return hash.digest('hex');
}

export function buildIsCurrent(): boolean {
  return (
    existsSync(path.join(DIST, 'index.html')) &&
    existsSync(STAMP) &&
    readFileSync(STAMP, 'utf8') === sourceHash()
  );
}

const COMPRESSIBLE = /\.(js|css|html|svg|json|webmanifest)$/;

/**
 * Writes a Brotli (`.br`) and a gzip (`.gz`) copy beside each text file of the build, compressed
 * once here at the highest levels; the server sends the copy the browser accepts (@fastify/static
 * `preCompressed`) instead of the raw file, without compressing per request.
 */
export function compressBuild(dir = DIST): void {
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const content = readFileSync(file);
    if (content.length < 1024) continue; // a packet either way
    writeFileSync(
      `${file}.br`,
      brotliCompressSync(content, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: content.length,
        },
      }),
    );
    writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
  }
}

/** Builds web/dist with Vite; quiet unless `log`. */
export async function buildDashboard(options: { log?: boolean } = {}): Promise<void> {
  const { build } = await import('vite');
  const hash = sourceHash();
  await build({ configFile: path.join(WEB, 'vite.config.ts'), logLevel: options.log ? 'info' : 'warn' });
  compressBuild();
  writeFileSync(STAMP, hash);
}

/** `--if-stale`: build only when web/dist is missing or older than its sources (npm start runs this). */
if (import.meta.main) {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && buildIsCurrent()) process.exit(0);
  let vite = true;
  try {
    await import('vite');
  } catch {
    vite = false;
  }
  if (!vite) {
    console.error(
      'web/dist is missing or stale and Vite is not installed: run `npm install`, then `npm run web:build`.',
    );
    process.exit(existsSync(path.join(DIST, 'index.html')) ? 0 : 1);
  }
  console.log('Building the dashboard (web/dist) …');
  const started = performance.now();
  await buildDashboard({ log: !ifStale });
  console.log(`Dashboard built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
