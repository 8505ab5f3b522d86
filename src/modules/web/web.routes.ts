import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const IMMUTABLE = 'public, max-age=31536000, immutable';

// The dashboard is one document: scripts, styles, workers and API calls come from this origin only.
// React and the charts set styles through the DOM (CSSOM), which style-src does not restrict.
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the dashboard's production build (web/dist) from the API's origin, so no CORS is needed:
 * Vite's hashed files under /assets are cached for a year as immutable; index.html, the service
 * worker and the other unhashed files are revalidated on every load. Any other GET that is not an
 * API route and names no file gets index.html, so the client-side router can take it.
 */
export const webRoutes: FastifyPluginAsync<{ root?: string }> = async (app, options) => {
  const root = options.root ?? WEB_DIST;
  if (!existsSync(path.join(root, 'index.html'))) {
    app.log.warn({ root }, 'dashboard not built (npm run web:build): / serves nothing');
    return;
  }
  await app.register(fastifyStatic, {
    root,
    // only the files present at start get routes; everything else falls to the handler below
    wildcard: false,
    index: false,
    cacheControl: false,
    // the build writes .br and .gz copies of its text files (web/scripts/build.ts): the one the
    // browser accepts is sent as is, so nothing is compressed per request
    preCompressed: true,
    setHeaders(res, file) {
      const relative = path
        .relative(root, file)
        .split(path.sep)
        .join('/')
        .replace(/\.(br|gz)$/, '');
      res.header('cache-control', relative.startsWith('assets/') ? IMMUTABLE : 'no-cache');
      if (relative === 'index.html') res.header('content-security-policy', DASHBOARD_CSP);
      if (relative === 'sw.js') res.header('service-worker-allowed', '/');
    },
  });

  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    const isAppPath =
      !pathname.startsWith('/api/') && !pathname.startsWith('/assets/') && !path.extname(pathname);
    if (!isAppPath) return reply.callNotFound();
    return reply.sendFile('index.html');
  });
};
