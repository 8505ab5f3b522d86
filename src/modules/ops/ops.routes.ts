import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { createSampler, criticalMetrics } from '../../ops/ops-metrics.ts';
import { MONITOR } from '../../ops/thresholds.ts';
import { AppError } from '../../platform/errors.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import { acknowledgeIncident, resolveIncident, startAlertEvaluator } from './alerts.service.ts';
import { getIncident, type Incident, listIncidents, timelines } from './incidents.repo.ts';
import { registerOpsGauges } from './ops.metrics.ts';
import { recentDeployments, userEmail } from './ops.repo.ts';
import { IncidentList, IncidentQuery, Incident as IncidentSchema, Overview } from './ops.schema.ts';

/** The operations API (dashboard's operations page) and, when configured, the in-process alert evaluator. */
export const opsRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  registerOpsGauges(deps.metrics.registry, deps.db);
  const sampler = createSampler(() => deps.metrics.registry.metrics());
  if (deps.config.alertsIntervalSeconds > 0) {
    const evaluator = startAlertEvaluator(
      deps.db,
      deps.config,
      sampler.sample,
      (error) => app.log.warn({ err: error }, 'alert evaluation failed'),
      // level 1 of the escalation: the alert is logged as well as posted
      (tick) => {
        for (const i of tick.opened)
          app.log.error({ incident: i.id, rule: i.rule, value: i.value }, `ALERT: ${i.title}`);
        for (const i of tick.escalated)
          app.log.error({ incident: i.id, level: i.level }, `escalated to level ${i.level}`);
        for (const i of tick.resolved) app.log.info({ incident: i.id }, `resolved: ${i.title}`);
      },
    );
    app.addHook('onClose', () => evaluator.stop());
  }

  const tags = ['ops'];
  const security = [{ bearer: [] }];
  app.addHook('onRequest', app.authenticate);

  const withTimelines = async (incidents: Incident[]) => {
    const t = await timelines(
      deps.db,
      incidents.map((i) => i.id),
    );
    return incidents.map((i) => ({ ...i, timeline: t.get(i.id) ?? [] }));
  };
  const actor = async (userId: string) => `${(await userEmail(deps.db, userId)) ?? userId}`;

  app.get(
    '/api/ops/overview',
    {
      preHandler: requireRole(Can.read),
      schema: {
        tags,
        security,
        summary: 'The critical metrics against their targets, recent deployments and incidents',
        response: { 200: Overview, ...problemResponses },
      },
    },
    async () => {
      const { base, current } = await sampler.sample(MONITOR.windowSeconds * 1000);
      return {
        metrics: criticalMetrics(base, current),
        deployments: await recentDeployments(deps.db, 20),
        incidents: await listIncidents(deps.db, { limit: 20 }),
      };
    },
  );

  app.get(
    '/api/ops/incidents',
    {
      preHandler: requireRole(Can.read),
      schema: {
        tags,
        security,
        querystring: IncidentQuery,
        response: { 200: IncidentList, ...problemResponses },
      },
    },
    async (request) => ({ items: await withTimelines(await listIncidents(deps.db, request.query)) }),
  );

  app.get(
    '/api/ops/incidents/:id',
    {
      preHandler: requireRole(Can.read),
      schema: { tags, security, params: IdParams, response: { 200: IncidentSchema, ...problemResponses } },
    },
    async (request) => {
      const incident = await getIncident(deps.db, request.params.id);
      if (!incident) throw new AppError('INCIDENT_NOT_FOUND', 'No such incident');
      return (await withTimelines([incident]))[0]!;
    },
  );

  app.post(
    '/api/ops/incidents/:id/ack',
    {
      preHandler: requireRole(Can.read),
      schema: {
        tags,
        security,
        summary: 'Acknowledge: stops the escalation',
        params: IdParams,
        response: { 200: IncidentSchema, ...problemResponses },
      },
    },
    async (request) => {
      const done = await acknowledgeIncident(
        deps.db,
        deps.config,
        request.params.id,
        await actor(request.principal.userId),
      );
      return (await withTimelines([done]))[0]!;
    },
  );

  app.post(
    '/api/ops/incidents/:id/resolve',
    {
      preHandler: requireRole(Can.read),
      schema: {
        tags,
        security,
        summary: 'Resolve: closes the incident and sends the resolution notice',
        params: IdParams,
        response: { 200: IncidentSchema, ...problemResponses },
      },
    },
    async (request) => {
      const done = await resolveIncident(
        deps.db,
        deps.config,
        request.params.id,
        await actor(request.principal.userId),
      );
      return (await withTimelines([done]))[0]!;
    },
  );
};
