import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  CreateSendBody,
  DeliveryRate,
  DeliveryRateQuery,
  Notification,
  Send,
  SendTestBody,
} from './notifications.schema.ts';
import type { Notifier } from './notifications.service.ts';

export const notificationsRoutes: FastifyPluginAsyncTypebox<{ notifier: Notifier }> = async (
  app,
  { notifier },
) => {
  app.addHook('onRequest', app.authenticate);
  const tags = ['notifications'];
  const security = [{ bearer: [] }];
  const send = requireRole(Can.sendNotifications);

  app.post(
    '/api/notifications/send-test',
    {
      preValidation: send,
      schema: {
        tags,
        security,
        summary: 'Send a test notification now and answer with its receipt',
        body: SendTestBody,
        response: { 201: Notification, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await notifier.sendTest(request.principal.merchantId, request.body)),
  );

  app.get(
    '/api/notifications/delivery-rate',
    {
      schema: {
        tags,
        security,
        querystring: DeliveryRateQuery,
        response: { 200: DeliveryRate, ...problemResponses },
      },
    },
    async (request) =>
      notifier.deliveryRate(request.principal.merchantId, {
        ...request.query,
        windowHours: request.query.window,
      }),
  );

  app.get(
    '/api/notifications/:id/status',
    { schema: { tags, security, params: IdParams, response: { 200: Notification, ...problemResponses } } },
    async (request) => notifier.status(request.principal.merchantId, request.params.id),
  );

  app.post(
    '/api/notifications/campaign',
    {
      preValidation: send,
      schema: {
        tags,
        security,
        summary: "Prepare a notification campaign for a campaign's audience",
        body: CreateSendBody,
        response: { 201: Send, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await notifier.createSend(
            request.principal.merchantId,
            request.principal.userId,
            request.body.campaignId,
          ),
        ),
  );

  app.post(
    '/api/notifications/campaign/:id/send',
    {
      preValidation: send,
      schema: { tags, security, params: IdParams, response: { 202: Send, ...problemResponses } },
    },
    async (request, reply) =>
      reply.status(202).send(await notifier.startSend(request.principal.merchantId, request.params.id)),
  );

  app.get(
    '/api/notifications/campaign/:id',
    { schema: { tags, security, params: IdParams, response: { 200: Send, ...problemResponses } } },
    async (request) => notifier.progress(request.principal.merchantId, request.params.id),
  );
};
