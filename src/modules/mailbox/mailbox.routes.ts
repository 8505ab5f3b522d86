import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppDeps } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeCursor, page } from '../../platform/pagination.ts';
import { IdParams, PageQuery, problemResponses, Timestamp, Uuid } from '../../platform/schemas.ts';

const Message = Type.Object({
  id: Uuid,
  messageId: Type.Union([Type.String(), Type.Null()]),
  from: Type.String(),
  to: Type.Array(Type.String()),
  subject: Type.String(),
  text: Type.String(),
  html: Type.Union([Type.String(), Type.Null()]),
  sizeBytes: Type.Integer(),
  receivedAt: Timestamp,
});

const columns = `id, message_id AS "messageId", mail_from AS "from", rcpt_to AS "to", subject, text_body AS text,
  html_body AS html, size_bytes AS "sizeBytes", received_at AS "receivedAt", received_at AS "createdAt"`;

/** The local mailbox of the embedded default: the emails the platform sent for the caller's merchant. */
export const mailboxRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  if (!deps.mailbox) return;
  const { db } = deps;
  app.addHook('onRequest', app.authenticate);
  const tags = ['mailbox'];
  const security = [{ bearer: [] }];

  app.get(
    '/api/mailbox',
    {
      schema: {
        tags,
        security,
        summary: 'Emails the local mailbox received for your merchant, newest first',
        querystring: Type.Object({ ...PageQuery, to: Type.Optional(Type.String({ maxLength: 254 })) }),
        response: {
          200: Type.Object({
            items: Type.Array(Message),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const { limit, to } = request.query;
      const cursor = decodeCursor(request.query.cursor);
      const { rows } = await db.query(
        `SELECT ${columns} FROM mailbox_messages
          WHERE merchant_id = $1
            AND ($2::text IS NULL OR $2 = ANY(rcpt_to))
            AND ($3::timestamptz IS NULL OR (received_at, id) < ($3, $4::uuid))
          ORDER BY received_at DESC, id DESC LIMIT $5`,
        [
          request.principal.merchantId,
          to?.toLowerCase() ?? null,
          cursor?.createdAt ?? null,
          cursor?.id ?? null,
          limit + 1,
        ],
      );
      return page(rows, limit);
    },
  );

  app.get(
    '/api/mailbox/:id',
    { schema: { tags, security, params: IdParams, response: { 200: Message, ...problemResponses } } },
    async (request) => {
      const { rows } = await db.query(
        `SELECT ${columns} FROM mailbox_messages WHERE id = $1 AND merchant_id = $2`,
        [request.params.id, request.principal.merchantId],
      );
      if (!rows[0]) throw new AppError('MAILBOX_MESSAGE_NOT_FOUND', `No message ${request.params.id}`);
      return rows[0];
    },
  );
};
