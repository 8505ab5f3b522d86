import { QueryClient } from '@tanstack/react-query';
import { ApiError, api, loadSession, unwrap } from './api/client.ts';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // a refused request (4xx) will be refused again; only network trouble and 5xx are retried
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

export const campaignQuery = (id: string) => ({
  queryKey: ['campaign', id],
  queryFn: async () => unwrap(await api.GET('/api/campaigns/{id}', { params: { path: { id } } })),
});

/** The campaign page's code. */
export const loadCampaignPage = () => import('./pages/CampaignPage.tsx');

/**
 * Starts what the campaign page needs, side by side: its code and the campaign (which carries its
 * metrics). Resolves once the campaign is in the cache, or its fetch failed (the page's query then
 * shows the error): never rejects.
 */
export function prefetchCampaignPage(id: string): Promise<void> {
  const campaign = queryClient.prefetchQuery(campaignQuery(id));
  void loadCampaignPage().catch(() => {}); // a failed chunk is the router's to report
  return campaign;
}

/**
 * What the address opened first needs, requested before the app's code (React, the router) has
 * arrived and run, rather than after: called by the entry module (main.tsx) with the first URL.
 * Only the campaign page is worth it: the other pages start their requests when they render.
 */
export function prefetchFirstPage(pathname: string): void {
  const campaign = /^\/campaigns\/([^/]+)\/?$/.exec(pathname); // the route campaigns/:id
  if (campaign?.[1] && campaign[1] !== 'new' && loadSession())
    void prefetchCampaignPage(decodeURIComponent(campaign[1]));
}
