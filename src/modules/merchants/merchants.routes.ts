import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import * as repo from './merchants.repo.ts';
import { Directory, DirectoryQuery, Merchant, OwnMerchant, UpdateOwnMerchant } from './merchants.schema.ts';

function decodeAfter(cursor: string | undefined): { name: string; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [name, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof name === 'string' && /^[0-9a-f-]{36}$/i.test(String(id))) return { name, id };
  } catch {}
  throw new AppError('INVALID_CURSOR', 'The cursor is not one this API returned');
}

export const merchantsRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { db } = deps;
  app.addHook('onRequest', app.authenticate);
  const tags = ['merchant network'];
  const security = [{ bearer: [] }];

  app.get(
    '/api/merchants',
    {
      schema: {
        tags,
        security,
        summary: 'Browse and search the merchant network',
        querystring: DirectoryQuery,
        response: { 200: Directory, ...problemResponses },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const [rows, facets] = await Promise.all([
        repo.searchMerchants(db, { ...filter, limit, after: decodeAfter(cursor) }),
        repo.facets(db),
      ]);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      const nextCursor =
        rows.length > limit && last
          ? Buffer.from(JSON.stringify([last.name, last.id])).toString('base64url')
          : null;
      return { items, nextCursor, facets };
    },
  );

  app.get(
    '/api/merchants/me',
    { schema: { tags, security, response: { 200: OwnMerchant, ...problemResponses } } },
    async (request) => (await repo.findOwnMerchant(db, request.principal.merchantId))!,
  );

  app.put(
    '/api/merchants/me',
    {
      preValidation: requireRole(Can.manageUsers),
      schema: {
        tags,
        security,
        summary: "Update your merchant's profile and directory listing",
        body: UpdateOwnMerchant,
        response: { 200: OwnMerchant, ...problemResponses },
      },
    },
    async (request) => {
      await repo.updateMerchant(db, request.principal.merchantId, request.body);
      return (await repo.findOwnMerchant(db, request.principal.merchantId))!;
    },
  );

  app.get(
    '/api/merchants/:id',
    { schema: { tags, security, params: IdParams, response: { 200: Merchant, ...problemResponses } } },
    async (request) => {
      const merchant = await repo.findListedMerchant(db, request.params.id);
      if (!merchant)
        throw new AppError('MERCHANT_NOT_FOUND', `No merchant ${request.params.id} in the network`);
      return merchant;
    },
  );
};
