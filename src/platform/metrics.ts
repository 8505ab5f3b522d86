import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type Metrics = {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status_code' | 'code'>;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
};

/**
 * One registry per process (per app in tests): process metrics, and the HTTP metrics the
 * go-live gates read. Modules register their own metrics on `registry`.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'swipesavvy' });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'swipesavvy_http_requests_total',
      help: 'HTTP requests by route, status and problem code',
      labelNames: ['method', 'route', 'status_code', 'code'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'swipesavvy_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: [registry],
    }),
  };
}
