import createClient, {
  type Client,
  type ClientPathsWithMethod,
  type MethodResponse,
  type Middleware,
} from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

export type { paths };

type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';

/**
 * The data of a route's success answer, exactly as the typed client (`api`) returns it: generated from
 * the server's OpenAPI document (schema.d.ts, `npm run web:api`), never retyped by hand.
 */
type Json<P extends keyof paths, M extends HttpMethod> =
  P extends ClientPathsWithMethod<Client<paths>, M> ? MethodResponse<Client<paths>, M, P> : never;

export type LoginResult = Json<'/api/auth/login', 'post'>;
export type User = LoginResult['user'];
export type Campaign = Json<'/api/campaigns/{id}', 'get'>;
export type CampaignList = Json<'/api/campaigns', 'get'>;
export type CampaignStatus = Campaign['status'];
export type Channel = Campaign['channel'];
export type Metrics = Json<'/api/analytics/campaign/{id}/metrics', 'get'>;
export type SeriesPoint = Metrics['series'][number];
export type Experiment = Json<'/api/analytics/campaign/{id}/experiment', 'get'>;
export type Verdict = Experiment['verdict'];
export type Segments = Json<'/api/analytics/campaign/{id}/segments', 'get'>;
export type Portfolio = Json<'/api/analytics/portfolio', 'get'>;
export type Notification = Json<'/api/notifications/send-test', 'post'>;
export type Send = Json<'/api/notifications/campaign/{id}', 'get'>;
export type RecipientPage = Json<'/api/notifications/campaign/{id}/recipients', 'get'>;
export type RecipientStatus = NonNullable<
  NonNullable<paths['/api/notifications/campaign/{id}/recipients']['get']['parameters']['query']>['status']
>;
export type DeliveryRate = Json<'/api/notifications/delivery-rate', 'get'>;
export type ServiceStatus = Json<'/api/status', 'get'>;
export type OpsOverview = Json<'/api/ops/overview', 'get'>;
export type OpsMetric = OpsOverview['metrics'][number];
export type MerchantPage = Json<'/api/merchants', 'get'>;
export type MailboxPage = Json<'/api/mailbox', 'get'>;
export type CampaignBody = NonNullable<
  paths['/api/campaigns']['post']['requestBody']
>['content']['application/json'];
export type Schemas = components['schemas'];

export const CAMPAIGN_STATUSES: CampaignStatus[] = ['draft', 'scheduled', 'running', 'paused', 'completed'];
export const CHANNELS: Channel[] = ['email', 'webhook', 'push'];

/** The problem+json answer of a refused request, thrown by `unwrap` so queries and forms can show it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: { path: string; message: string }[];
  constructor(status: number, body: unknown) {
    const p = (body ?? {}) as Partial<{
      code: string;
      detail: string;
      errors: { path: string; message: string }[];
    }>;
    super(p.detail ?? `The server answered ${status}`);
    this.status = status;
    this.code = p.code ?? 'UNKNOWN';
    this.errors = Array.isArray(p.errors) ? p.errors : [];
  }

  /** The messages for one body field (`name`, `variants`, …), as the API's `errors[].path` names it. */
  fieldMessages(field: string): string[] {
    return this.errors
      .filter(
        (e) =>
          e.path === `body/${field}` ||
          e.path.startsWith(`body/${field}/`) ||
          (e.path === 'body' && e.message.includes(`'${field}'`)),
      )
      .map((e) => e.message);
  }
}

const SESSION_KEY = 'swipesavvy.session';
export type Session = { token: string; expiresAt: number; user: User };

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    return session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void) {
  onUnauthorized = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    const session = loadSession();
    if (session) request.headers.set('authorization', `Bearer ${session.token}`);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && request.headers.has('authorization')) onUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

/** The data of an openapi-fetch result, or the problem it answered as an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined)
    throw new ApiError(result.response.status, result.error);
  return result.data;
}
