import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppDeps } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';
import { Queues } from '../../platform/queue.ts';
import { problemResponses } from '../../platform/schemas.ts';

const ServiceState = Type.Enum(['running', 'degraded', 'down', 'external'] as const);

const MAIL_CHECK_TTL_MS = 15_000;

export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const tags = ['health'];
  const started = Date.now();
  // The mail server's state is checked in the background (an SMTP connection and greeting takes
  // ~100 ms; it made the smoke test 1.3 miss its 100 ms budget on a fresh instance): the first
  // check starts with the app, and /api/status answers with the last result while a check older
  // than MAIL_CHECK_TTL_MS is made again.
  let mailCheck: { at: number; ok: boolean } | undefined;
  let checking: Promise<void> | undefined;
  const checkMail = () => {
    checking ??= deps.mailer
      .verify()
      .then(
        () => true,
        () => false,
      )
      .then((ok) => {
        mailCheck = { at: Date.now(), ok };
        checking = undefined;
      });
    return checking;
  };
  void checkMail();

  async function databaseLatency(): Promise<number | undefined> {
    const t0 = performance.now();
    try {
      await deps.db.query('SELECT 1');
      return performance.now() - t0;
    } catch {
      return undefined;
    }
  }

  async function mailState(): Promise<'running' | 'down'> {
    // a stale "running" is answered while the new check runs; a stale "down" waits for it, so a
    // mail server that came back is seen at once
    if (!mailCheck) await checkMail();
    else if (Date.now() - mailCheck.at > MAIL_CHECK_TTL_MS) {
      if (mailCheck.ok) void checkMail();
      else await checkMail();
    }
    return mailCheck?.ok ? 'running' : 'down';
  }

  app.get(
    '/api/health',
    {
      schema: {
        tags,
        summary: 'Liveness',
        response: {
          200: Type.Object({
            status: Type.Literal('healthy'),
            version: Type.String(),
            uptimeSeconds: Type.Number(),
          }),
        },
      },
    },
    async () => ({
      status: 'healthy' as const,
      version: deps.config.version,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
    }),
  );

  app.get(
    '/api/health/db',
    {
      schema: {
        tags,
        summary: 'Database connectivity and round-trip latency',
        response: {
          200: Type.Object({ database: Type.Literal('connected'), latencyMs: Type.Number() }),
          ...problemResponses,
        },
      },
    },
    async () => {
      const latency = await databaseLatency();
      if (latency === undefined) throw new AppError('SERVICE_UNAVAILABLE', 'The database does not answer');
      return { database: 'connected' as const, latencyMs: Math.round(latency * 100) / 100 };
    },
  );

  app.get(
    '/api/status',
    {
      schema: {
        tags,
        summary: 'State of each service the platform depends on',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('operational'), Type.Literal('degraded')]),
            version: Type.String(),
            services: Type.Record(Type.String(), ServiceState),
          }),
        },
      },
    },
    async () => {
      const [latency, queue, mail] = await Promise.all([
        databaseLatency(),
        deps.queue
          ? deps.queue.getQueue(Queues.deliver.name).then(
              (q) => (q ? 'running' : 'down'),
              () => 'down',
            )
          : Promise.resolve('down'),
        mailState(),
      ]);
      const services: Record<string, 'running' | 'degraded' | 'down' | 'external'> = {
        api: 'running',
        database: latency === undefined ? 'down' : 'running',
        queue: queue as 'running' | 'down',
        // pg-boss's maintenance and cron run in every process that started the queue
        scheduler: queue as 'running' | 'down',
        workers: deps.config.workers ? (queue as 'running' | 'down') : 'external',
        mail,
      };
      const degraded = Object.values(services).some((s) => s === 'down' || s === 'degraded');
      return {
        status: degraded ? ('degraded' as const) : ('operational' as const),
        version: deps.config.version,
        services,
      };
    },
  );
};
