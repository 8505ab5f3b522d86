import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../platform/errors.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  CreateSendBody,
  DeliveryRate,
  DeliveryRateQuery,
  Notification,
  Receipt,
  ReceiptBody,
  Recipients,
  RecipientsQuery,
  RetryFailed,
  RotatedSecret,
  Send,
  SendTestBody,
  Suppression,
  SuppressionBody,
  VapidPublicKey,
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

  for (const [action, summary] of [
    ['pause', 'Pause a sending notification campaign (in-flight deliveries finish)'],
    ['resume', 'Resume a paused notification campaign'],
    ['cancel', 'Cancel: what has not gone out is cancelled'],
  ] as const) {
    const handler = { pause: notifier.pauseSend, resume: notifier.resumeSend, cancel: notifier.cancelSend }[
      action
    ];
    app.post(
      `/api/notifications/campaign/:id/${action}`,
      {
        preHandler: send,
        schema: { tags, security, summary, params: IdParams, response: { 200: Send, ...problemResponses } },
      },
      async (request) => handler(request.principal.merchantId, request.params.id),
    );
  }

  app.post(
    '/api/notifications/campaign/:id/retry-failed',
    {
      preHandler: send,
      schema: {
        tags,
        security,
        summary: "Queue the campaign's failed notifications again (same idempotency keys)",
        params: IdParams,
        response: { 202: RetryFailed, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await notifier.retryFailed(request.principal.merchantId, request.params.id)),
  );

  app.get(
    '/api/notifications/campaign/:id/recipients',
    {
      schema: {
        tags,
        security,
        summary: 'Who did and who did not receive the campaign, by status',
        params: IdParams,
        querystring: RecipientsQuery,
        response: { 200: Recipients, ...problemResponses },
      },
    },
    async (request) => notifier.recipients(request.principal.merchantId, request.params.id, request.query),
  );

  app.post(
    '/api/notifications/suppressions',
    {
      preHandler: send,
      schema: {
        tags,
        security,
        summary: 'Never message this address again on this channel',
        body: SuppressionBody,
        response: { 201: Suppression, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await notifier.addSuppression(request.principal.merchantId, request.body)),
  );

  app.post(
    '/api/merchants/me/webhook-secret/rotate',
    {
      preHandler: send,
      schema: {
        tags,
        security,
        summary:
          'A new webhook signing secret; the previous one keeps verifying for WEBHOOK_SECRET_OVERLAP_HOURS',
        response: { 201: RotatedSecret, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await notifier.rotateWebhookSecret(request.principal.merchantId)),
  );
};

/** Routes a browser's service worker calls: no staff login there. */
export const notificationsPublicRoutes: FastifyPluginAsyncTypebox<{ notifier: Notifier }> = async (
  app,
  { notifier },
) => {
  const tags = ['notifications'];
  app.get(
    '/api/push/vapid-public-key',
    {
      schema: {
        tags,
        summary: 'The VAPID public key for pushManager.subscribe({ applicationServerKey })',
        response: { 200: VapidPublicKey, ...problemResponses },
      },
    },
    async () => notifier.vapidPublicKey(),
  );

  app.post(
    '/api/notifications/:id/receipt',
    {
      schema: {
        tags,
        summary:
          "Confirm a notification was displayed or opened: with the push payload's receipt.token, or a Bearer token of the merchant",
        params: IdParams,
        body: ReceiptBody,
        response: { 200: Receipt, ...problemResponses },
      },
    },
    async (request) => {
      let merchantId: string | undefined;
      if (request.headers.authorization) {
        await app.authenticate(request);
        merchantId = request.principal.merchantId;
      } else if (!request.body.token) {
        throw new AppError(
          'AUTH_REQUIRED',
          'Send the receipt token from the push payload, or a Bearer token',
        );
      }
      return notifier.receipt(request.params.id, request.body.event, {
        merchantId,
        token: request.body.token,
      });
    },
  );
};
