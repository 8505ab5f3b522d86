import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../app.ts';
import { IdParams, problemResponses } from '../../platform/schemas.ts';
import { Can, requireRole } from '../auth/auth.plugin.ts';
import type { Notifier } from '../notifications/notifications.service.ts';
import {
  CreateUserBody,
  LoginBody,
  LoginResponse,
  RoleBody,
  Settings,
  SettingsResponse,
  SignupBody,
  SignupResponse,
  User,
  UserList,
} from './users.schema.ts';
import { createUsersService, LoginThrottle } from './users.service.ts';

export const usersRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps; notifier: Notifier }> = async (
  app,
  { deps, notifier },
) => {
  const users = createUsersService(deps.db, notifier, new LoginThrottle(deps.config.loginFailuresBeforeLock));
  const tags = ['users'];
  const security = [{ bearer: [] }];
  const authLimit = { max: deps.config.authRateLimitPerMinute, timeWindow: '1 minute' };

  app.post(
    '/api/users/signup',
    {
      config: { rateLimit: authLimit },
      schema: {
        tags,
        summary: 'Create a merchant account and its owner; a welcome email is sent',
        body: SignupBody,
        response: { 201: SignupResponse, ...problemResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await users.signup(request.body)),
  );

  app.post(
    '/api/auth/login',
    {
      config: { rateLimit: authLimit },
      schema: { tags, body: LoginBody, response: { 200: LoginResponse, ...problemResponses } },
    },
    async (request) => {
      const user = await users.login(request.body.email, request.body.password);
      const token = app.signToken({ userId: user.id, merchantId: user.merchantId, role: user.role });
      return { token, tokenType: 'Bearer' as const, expiresIn: deps.config.jwtTtlSeconds, user };
    },
  );

  await app.register(async (instance) => {
    const authed = instance.withTypeProvider<TypeBoxTypeProvider>();
    authed.addHook('onRequest', app.authenticate);

    authed.get(
      '/api/users/me',
      { schema: { tags, security, response: { 200: User, ...problemResponses } } },
      async (request) => users.get(request.principal, request.principal.userId),
    );

    authed.get(
      '/api/users',
      { schema: { tags, security, response: { 200: UserList, ...problemResponses } } },
      async (request) => ({
        items: await users.list(request.principal),
      }),
    );

    authed.post(
      '/api/users',
      {
        preValidation: requireRole(Can.manageUsers),
        schema: {
          tags,
          security,
          summary: 'Add a staff user to your merchant',
          body: CreateUserBody,
          response: { 201: User, ...problemResponses },
        },
      },
      async (request, reply) => reply.status(201).send(await users.create(request.principal, request.body)),
    );

    authed.get(
      '/api/users/:id',
      { schema: { tags, security, params: IdParams, response: { 200: User, ...problemResponses } } },
      async (request) => users.get(request.principal, request.params.id),
    );

    authed.put(
      '/api/users/:id/settings',
      {
        schema: {
          tags,
          security,
          summary: 'Merge settings (a null value removes the key)',
          params: IdParams,
          body: Settings,
          response: { 200: SettingsResponse, ...problemResponses },
        },
      },
      async (request) => users.updateSettings(request.principal, request.params.id, request.body),
    );

    authed.put(
      '/api/users/:id/role',
      {
        schema: {
          tags,
          security,
          params: IdParams,
          body: RoleBody,
          response: { 200: User, ...problemResponses },
        },
      },
      async (request) => users.setRole(request.principal, request.params.id, request.body.role),
    );
  });
};
