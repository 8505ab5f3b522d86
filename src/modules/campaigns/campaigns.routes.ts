import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { deriveMetrics } from '../analytics/analytics.service.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  Campaign,
  CampaignList,
  CreateCampaignBody,
  ListQuery,
  UpdateCampaignBody,
} from './campaigns.schema.ts';
import { createCampaignsService } from './campaigns.service.ts';

export const campaignsRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const campaigns = createCampaignsService(deps.db);
  app.addHook('onRequest', app.authenticate);
  const tags = ['campaigns'];
  const security = [{ bearer: [] }];
  const write = requireRole(Can.manageCampaigns);

  app.post(
    '/api/campaigns',
    {
      preValidation: write,
      schema: { tags, security, body: CreateCampaignBody, response: { 201: Campaign, ...problemResponses } },
    },
    async (request, reply) => reply.status(201).send(await campaigns.create(request.principal, request.body)),
  );

  app.get(
    '/api/campaigns',
    {
      schema: {
        tags,
        security,
        querystring: ListQuery,
        response: { 200: CampaignList, ...problemResponses },
      },
    },
    async (request) => campaigns.list(request.principal.merchantId, request.query),
  );

  app.get(
    '/api/campaigns/:id',
    {
      schema: {
        tags,
        security,
        summary: 'A campaign with its metrics',
        params: IdParams,
        response: { 200: Campaign, ...problemResponses },
      },
    },
    async (request) => {
      const { counts, ...campaign } = await campaigns.getWithCounts(
        request.principal.merchantId,
        request.params.id,
      );
      return { ...campaign, metrics: deriveMetrics(counts, campaign) };
    },
  );

  app.put(
    '/api/campaigns/:id',
    {
      preValidation: write,
      schema: {
        tags,
        security,
        summary: 'Update a campaign (the given fields); status changes follow the lifecycle',
        params: IdParams,
        body: UpdateCampaignBody,
        response: { 200: Campaign, ...problemResponses },
      },
    },
    async (request) => campaigns.update(request.principal.merchantId, request.params.id, request.body),
  );
};
