import jwt from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AppDeps } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';

export const Roles = ['owner', 'admin', 'analyst', 'viewer'] as const;
export type Role = (typeof Roles)[number];

export type Principal = { userId: string; merchantId: string; role: Role };
type TokenPayload = { sub: string; mid: string; role: Role };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>;
    signToken(principal: Principal): string;
  }
}

/** Who may write what: a role may do everything the roles after it may. */
export const Can = {
  manageUsers: ['owner', 'admin'],
  manageCampaigns: ['owner', 'admin'],
  manageAudience: ['owner', 'admin'],
  sendNotifications: ['owner', 'admin'],
  ingestAnalytics: ['owner', 'admin', 'analyst'],
  read: ['owner', 'admin', 'analyst', 'viewer'],
} as const satisfies Record<string, readonly Role[]>;

export function requireRole(allowed: readonly Role[]) {
  return async (request: FastifyRequest) => {
    if (!allowed.includes(request.principal.role)) {
      throw new AppError('FORBIDDEN_ROLE', `The ${request.principal.role} role may not do this`, {
        details: { allowedRoles: allowed },
      });
    }
  };
}

export const authPlugin = fp<{ deps: AppDeps }>(async (app, { deps }) => {
  await app.register(jwt, {
    secret: deps.jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: deps.config.jwtTtlSeconds },
    verify: {
      algorithms: ['HS256'],
      // A token verified once is remembered (until its exp, at most 10 minutes) under the hash of
      // its whole text, signature included: an altered token is never a hit and is verified afresh;
      // failures are not remembered.
      cache: 10_000,
    },
  });
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorate('signToken', (p: Principal) =>
    app.jwt.sign({ sub: p.userId, mid: p.merchantId, role: p.role }),
  );
  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header)
      throw new AppError('AUTH_REQUIRED', 'Send Authorization: Bearer <token> (POST /api/auth/login)');
    if (!/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(header)) {
      throw new AppError('AUTH_TOKEN_INVALID', 'The Authorization header is not a Bearer JWT');
    }
    let payload: TokenPayload;
    try {
      // the verifier itself (synchronous for HS256), not request.jwtVerify's callback chain
      payload = app.jwt.verify<TokenPayload>(header.slice(7));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'FAST_JWT_EXPIRED') {
        throw new AppError('AUTH_TOKEN_EXPIRED', 'The token has expired; log in again', { cause: error });
      }
      throw new AppError('AUTH_TOKEN_INVALID', 'The token is not valid', { cause: error });
    }
    if (typeof payload.sub !== 'string' || typeof payload.mid !== 'string' || !Roles.includes(payload.role)) {
      throw new AppError('AUTH_TOKEN_INVALID', 'The token is not valid');
    }
    request.principal = { userId: payload.sub, merchantId: payload.mid, role: payload.role };
  });
});
