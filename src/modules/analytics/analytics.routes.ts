import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { createVersionedCache } from '../../platform/read-versions.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  Allocation,
  AllocationBody,
  CampaignMetricsDetail,
  EventsBody,
  Experiment,
  IngestResult,
  IntervalQuery,
  Portfolio,
  PortfolioQuery,
  SegmentsQuery,
  SegmentsResponse,
  TransactionsBody,
} from './analytics.schema.ts';
import { createAnalyticsService } from './analytics.service.ts';

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const analytics = createAnalyticsService(deps.db);
  // the portfolio (every campaign with totals, a ranking and a daily trend) per merchant and rank,
  // validated against the merchant's read version on every request
  const portfolios = createVersionedCache({ size: 500, byDay: true });
  app.addHook('onRequest', app.authenticate);
  const tags = ['analytics'];
  const security = [{ bearer: [] }];
  const ingest = requireRole(Can.ingestAnalytics);
  const batchLimit = 16 * 1024 * 1024;

  // JSON bodies are parsed as everywhere (same prototype-poisoning guards), and the text of an
  // events batch is kept: when every item is stored as sent, that text goes to the database as
  // is, instead of being serialized again (tens of milliseconds for 10,000 items).
  const rawBodies = new WeakMap<object, string>();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (request.url === '/api/events') rawBodies.set(request, body as string);
    parseJson(request, body as string, done);
  });

  app.post(
    '/api/events',
    {
      preValidation: ingest,
      bodyLimit: batchLimit,
      schema: {
        tags,
        security,
        summary: 'Ingest impressions, opens, clicks and conversions',
        description:
          'Each event is checked on its own: valid events are stored, the others are refused with their index and reason.',
        body: EventsBody,
        response: { 200: IngestResult, ...problemResponses },
      },
    },
    async (request) =>
      analytics.ingestEvents(request.principal.merchantId, request.body.events, rawBodies.get(request)),
  );

  app.post(
    '/api/transactions',
    {
      preValidation: ingest,
      bodyLimit: batchLimit,
      schema: {
        tags,
        security,
        summary: 'Ingest card transactions; each is attributed to the last campaign touch within its window',
        body: TransactionsBody,
        response: { 200: IngestResult, ...problemResponses },
      },
    },
    async (request) => analytics.ingestTransactions(request.principal.merchantId, request.body.transactions),
  );

  app.get(
    '/api/analytics/campaign/:id/metrics',
    {
      schema: {
        tags,
        security,
        params: IdParams,
        querystring: IntervalQuery,
        response: { 200: CampaignMetricsDetail, ...problemResponses },
      },
    },
    async (request) =>
      analytics.metrics(request.principal.merchantId, request.params.id, request.query.interval),
  );

  app.get(
    '/api/analytics/campaign/:id/experiment',
    {
      schema: {
        tags,
        security,
        summary: 'A/B result: per-variant rates, lift, fixed and sequential tests, SRM check and verdict',
        params: IdParams,
        response: { 200: Experiment, ...problemResponses },
      },
    },
    async (request) => analytics.experiment(request.principal.merchantId, request.params.id),
  );

  app.get(
    '/api/analytics/campaign/:id/allocation',
    {
      schema: {
        tags,
        security,
        summary: 'Adaptive allocation setting and the history of weight changes',
        params: IdParams,
        response: { 200: Allocation, ...problemResponses },
      },
    },
    async (request) => analytics.allocation(request.principal.merchantId, request.params.id),
  );

  app.put(
    '/api/analytics/campaign/:id/allocation',
    {
      preHandler: requireRole(Can.manageCampaigns),
      schema: {
        tags,
        security,
        summary: 'Opt a campaign in or out of adaptive allocation (Thompson sampling on conversion)',
        params: IdParams,
        body: AllocationBody,
        response: { 200: Allocation, ...problemResponses },
      },
    },
    async (request) =>
      analytics.setAllocation(
        request.principal.merchantId,
        request.params.id,
        request.body.enabled,
        request.body.floor,
      ),
  );

  app.get(
    '/api/analytics/campaign/:id/segments',
    {
      schema: {
        tags,
        security,
        params: IdParams,
        querystring: SegmentsQuery,
        response: { 200: SegmentsResponse, ...problemResponses },
      },
    },
    async (request) => analytics.segments(request.principal.merchantId, request.params.id, request.query.by),
  );

  app.get(
    '/api/analytics/portfolio',
    {
      schema: {
        tags,
        security,
        querystring: PortfolioQuery,
        response: { 200: Portfolio, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { merchantId } = request.principal;
      const { rank } = request.query;
      const body = await portfolios.get(deps.db, merchantId, rank, async () =>
        // the route's own serializer (its response schema), as an answer would be
        String(reply.serialize(await analytics.portfolio(merchantId, rank))),
      );
      // JSON bytes already: a Buffer is sent as it is, not serialized again
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );
};
