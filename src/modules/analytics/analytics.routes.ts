import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  CampaignMetrics,
  EventsBody,
  IngestResult,
  Portfolio,
  PortfolioQuery,
  SegmentsQuery,
  SegmentsResponse,
  TransactionsBody,
} from './analytics.schema.ts';
import { createAnalyticsService } from './analytics.service.ts';

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const analytics = createAnalyticsService(deps.db);
  app.addHook('onRequest', app.authenticate);
  const tags = ['analytics'];
  const security = [{ bearer: [] }];
  const ingest = requireRole(Can.ingestAnalytics);
  const batchLimit = 16 * 1024 * 1024;

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
    async (request) => analytics.ingestEvents(request.principal.merchantId, request.body.events),
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
    { schema: { tags, security, params: IdParams, response: { 200: CampaignMetrics, ...problemResponses } } },
    async (request) => analytics.metrics(request.principal.merchantId, request.params.id),
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
    async (request) => analytics.portfolio(request.principal.merchantId, request.query.rank),
  );
};
