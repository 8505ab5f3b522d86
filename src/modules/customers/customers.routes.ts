import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import {
  Customer,
  CustomerInput,
  CustomerList,
  ImportBody,
  ImportResult,
  ListQuery,
} from './customers.schema.ts';
import * as service from './customers.service.ts';

export const customersRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { db } = deps;
  const tags = ['audience'];
  const security = [{ bearer: [] }];
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/api/customers',
    {
      preValidation: requireRole(Can.manageAudience),
      schema: { tags, security, body: CustomerInput, response: { 201: Customer, ...problemResponses } },
    },
    async (request, reply) =>
      reply.status(201).send(await service.createCustomer(db, request.principal.merchantId, request.body)),
  );

  app.post(
    '/api/customers/import',
    {
      preValidation: requireRole(Can.manageAudience),
      bodyLimit: 20 * 1024 * 1024,
      schema: { tags, security, body: ImportBody, response: { 200: ImportResult, ...problemResponses } },
    },
    async (request) => service.importCustomers(db, request.principal.merchantId, request.body.customers),
  );

  app.get(
    '/api/customers',
    {
      schema: {
        tags,
        security,
        querystring: ListQuery,
        response: { 200: CustomerList, ...problemResponses },
      },
    },
    async (request) => service.listCustomers(db, request.principal.merchantId, request.query),
  );

  app.get(
    '/api/customers/:id',
    { schema: { tags, security, params: IdParams, response: { 200: Customer, ...problemResponses } } },
    async (request) => service.getCustomer(db, request.principal.merchantId, request.params.id),
  );

  app.post(
    '/api/customers/:id/unsubscribe',
    {
      preValidation: requireRole(Can.manageAudience),
      schema: { tags, security, params: IdParams, response: { 200: Customer, ...problemResponses } },
    },
    async (request) => service.unsubscribeCustomer(db, request.principal.merchantId, request.params.id),
  );
};
