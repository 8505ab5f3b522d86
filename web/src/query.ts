import { QueryClient } from '@tanstack/react-query';
import { ApiError, api, unwrap } from './api/client.ts';

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
