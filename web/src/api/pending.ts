// Routes that other parts of the platform are adding (notifications issue 3, analytics issue 4,
// operations issue 5). Their payload types are written here from the agreed contracts, because the
// server's OpenAPI document does not have them yet; once it does, `npm run web:api` regenerates
// schema.d.ts and these types should be replaced by the generated ones.
//
// Before calling one, the dashboard asks the server's OpenAPI document whether the route exists, so
// an absent feature shows "not available yet" instead of a 404 in the console.
import { useQuery } from '@tanstack/react-query';
import { capabilitiesQuery } from '../query.ts';

export type Verdict = 'winner' | 'no difference' | 'keep running' | 'invalid: SRM';
export type Experiment = {
  verdict: Verdict;
  reason: string;
  winner?: string | null;
  variants: {
    variant?: string;
    name?: string;
    exposures?: number;
    impressions?: number;
    clicks?: number;
    conversions?: number;
    conversionRate?: number | null;
    ctr?: number | null;
    uplift?: number | null;
    probabilityBest?: number | null;
  }[];
};

export type SeriesPoint = {
  t: string;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
};

export type OpsMetric = {
  key: string;
  label: string;
  target: string | number;
  value: number | null;
  unit: string;
  state: 'green' | 'yellow' | 'red';
};
export type OpsOverview = {
  metrics: OpsMetric[];
  deployments: Record<string, unknown>[];
  incidents: Record<string, unknown>[];
};

export type Recipient = {
  id?: string;
  customerId?: string | null;
  recipient?: string;
  status: string;
  attempts?: number;
  lastError?: string | null;
};
export type RecipientPage = { items: Recipient[]; nextCursor: string | null };

/** The routes the running server documents: `has('post', '/api/x/{id}')`. */
export function useCapabilities() {
  const query = useQuery(capabilitiesQuery);
  const has = (method: string, path: string) => Boolean(query.data?.paths?.[path]?.[method.toLowerCase()]);
  const hasQueryParam = (path: string, name: string) =>
    Boolean(query.data?.paths?.[path]?.['get']?.parameters?.some((p) => p.in === 'query' && p.name === name));
  return { ready: query.isSuccess || query.isError, has, hasQueryParam };
}

export const pending = {
  vapidKey: '/api/push/vapid-public-key',
  receipt: '/api/notifications/{id}/receipt',
  recipients: '/api/notifications/campaign/{id}/recipients',
  retryFailed: '/api/notifications/campaign/{id}/retry-failed',
  pause: '/api/notifications/campaign/{id}/pause',
  resume: '/api/notifications/campaign/{id}/resume',
  cancel: '/api/notifications/campaign/{id}/cancel',
  experiment: '/api/analytics/campaign/{id}/experiment',
  opsOverview: '/api/ops/overview',
} as const;

export function fill(template: string, id: string): string {
  return template.replace('{id}', encodeURIComponent(id));
}
