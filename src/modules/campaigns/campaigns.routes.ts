import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { createVersionedCache } from '../../platform/read-versions.ts';
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
  // The reads' answers (a campaign with its counts, a page of the list) are computed from the
  // merchant's campaigns and daily rollup only, so they are kept per merchant and validated
  // against its read version on every request (src/platform/read-versions.ts).
  const reads = createVersionedCache({ size: 5_000 });
  // JSON bytes already: a Buffer is sent as it is, not serialized again
  const json = 'application/json; charset=utf-8';

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
    async (request, reply) => {
      const { merchantId } = request.principal;
      const body = await reads.get(deps.db, merchantId, `list ${JSON.stringify(request.query)}`, async () =>
        String(reply.serialize(await campaigns.list(merchantId, request.query))),
      );
      return reply.type(json).send(body as never);
    },
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
    async (request, reply) => {
      const { merchantId } = request.principal;
      const body = await reads.get(deps.db, merchantId, `campaign ${request.params.id}`, async () => {
        const { counts, ...campaign } = await campaigns.getWithCounts(merchantId, request.params.id);
        return String(reply.serialize({ ...campaign, metrics: deriveMetrics(counts, campaign) }));
      });
      return reply.type(json).send(body as never);
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
