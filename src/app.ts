import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import scalar from '@scalar/fastify-api-reference';
import AjvModule from 'ajv';
import formatsModule from 'ajv-formats';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { Redis } from 'ioredis';
import { analyticsRoutes } from './modules/analytics/analytics.routes.ts';
import { authPlugin } from './modules/auth/auth.plugin.ts';
import { campaignsRoutes } from './modules/campaigns/campaigns.routes.ts';
import { customersRoutes } from './modules/customers/customers.routes.ts';
import { healthRoutes } from './modules/health/health.routes.ts';
import { mailboxRoutes } from './modules/mailbox/mailbox.routes.ts';
import { merchantsRoutes } from './modules/merchants/merchants.routes.ts';
import {
  notificationsPublicRoutes,
  notificationsRoutes,
} from './modules/notifications/notifications.routes.ts';
import { createNotifier } from './modules/notifications/notifications.service.ts';
import { opsRoutes } from './modules/ops/ops.routes.ts';
import { usersRoutes } from './modules/users/users.routes.ts';
import { webRoutes } from './modules/web/web.routes.ts';
import type { Config } from './platform/config.ts';
import type { Db } from './platform/db.ts';
import { faultInjection } from './platform/fault-injection.ts';
import { errorHandler, notFoundHandler } from './platform/http-errors.ts';
import type { Mailer } from './platform/mail.ts';
import type { Metrics } from './platform/metrics.ts';
import type { Queue } from './platform/queue.ts';
import type { Runtime } from './platform/runtime.ts';

export type AppDeps = {
  config: Config;
  db: Db;
  queue: Queue | undefined;
  mailer: Mailer;
  jwtSecret: string;
  metrics: Metrics;
  /** whether the local mailbox runs (its messages are then listable) */
  mailbox: boolean;
  logger?: FastifyBaseLogger;
};

/** The app's dependencies from a started runtime (server, tests and tools build the app alike). */
export function appDeps(runtime: Runtime, logger?: FastifyBaseLogger): AppDeps {
  return {
    config: runtime.config,
    db: runtime.db,
    queue: runtime.queue,
    mailer: runtime.mailer,
    jwtSecret: runtime.jwtSecret,
    mailbox: runtime.mailbox !== undefined,
    metrics: runtime.metrics,
    logger,
  };
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The headers helmet sets with these options, as it sets them on a response. */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

/** Builds the API; does not listen (server.ts does, tests use inject). */
export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Query strings and path params are text, so they are coerced to the schema's types; a JSON
  // body is not: a number where a string belongs is the client's mistake, answered with a 400.
  const Ajv = AjvModule.default;
  const addFormats = formatsModule.default;
  const coercing = addFormats(
    new Ajv({ coerceTypes: 'array', useDefaults: true, allErrors: true, strict: false }),
  );
  const exact = addFormats(
    new Ajv({ coerceTypes: false, useDefaults: true, allErrors: true, strict: false }),
  );
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? exact : coercing).compile(schema),
  );
  // JSON only: anything else is 415, not a string handed to the schema
  app.removeContentTypeParser('text/plain');

  // Helmet's security headers are the same for every response (no CSP nonces: the interactive
  // docs page runs its own inline bootstrap script, so there is no CSP), so helmet works them out
  // once here and each request only copies them, with its request id, in one synchronous hook.
  const headers = { ...securityHeaders({ contentSecurityPolicy: false }) };
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    // the route pattern, not the URL, so ids do not explode the label set
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    deps.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    deps.metrics.httpRequests.inc({ ...labels, code: String(reply.getHeader('x-problem-code') ?? '') });
    done();
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.setErrorHandler(errorHandler);
  if (deps.config.faultInjection) app.addHook('onRequest', faultInjection(deps.config.faultInjection));
  app.setNotFoundHandler(notFoundHandler);

  // Per-IP limits (the auth routes): in-process by default; with REDIS_URL kept in Redis, so every
  // replica counts against one limit. A Redis outage lets requests through (logged) rather than
  // locking everyone out; account lockout, kept in PostgreSQL, still applies.
  let redis: Redis | undefined;
  if (deps.config.redisUrl) {
    redis = new Redis(deps.config.redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1 });
    redis.on('error', (error) => app.log.warn({ err: error }, 'redis: %s', error.message));
    const r = redis;
    app.addHook('onClose', async () => {
      // QUIT waits for a connection; one not ready (Redis down, reconnecting) just stops trying
      if (r.status === 'ready') await r.quit().catch(() => r.disconnect());
      else r.disconnect();
    });
  }
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis, nameSpace: `${deps.config.redisKeyPrefix}rate-limit:`, skipOnError: true } : {}),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SwipeSavvy API',
        version: deps.config.version,
        description:
          'Merchant engagement platform: campaigns, audiences, notifications, analytics and the merchant network. ' +
          'Errors are application/problem+json (RFC 9457) with a stable `code`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });
  await app.register(scalar, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const notifier = createNotifier(deps);
  app.addHook('onClose', () => notifier.close());

  await app.register(authPlugin, { deps });
  await app.register(healthRoutes, { deps });
  await app.register(usersRoutes, { deps, notifier });
  await app.register(merchantsRoutes, { deps });
  await app.register(customersRoutes, { deps });
  await app.register(campaignsRoutes, { deps });
  await app.register(notificationsRoutes, { notifier });
  await app.register(notificationsPublicRoutes, { notifier });
  await app.register(analyticsRoutes, { deps });
  await app.register(mailboxRoutes, { deps });
  await app.register(opsRoutes, { deps });
  // last: the dashboard's fallback answers GETs no other route took
  await app.register(webRoutes);
  return app;
}
