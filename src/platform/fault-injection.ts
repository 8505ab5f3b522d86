import type { onRequestAsyncHookHandler } from 'fastify';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';

// A testing aid (FAULT_INJECTION): makes a release fail or slow down a share of its requests so
// the canary analysis and the automatic rollback can be exercised with a real process. Readiness
// (`/api/health`, `/api/health/db`) and `/metrics` stay honest: a faulty release still gets traffic.
const EXEMPT = new Set(['/api/health', '/api/health/db', '/metrics']);

export function faultInjection(faults: NonNullable<Config['faultInjection']>): onRequestAsyncHookHandler {
  return async (request) => {
    if (EXEMPT.has(request.url.split('?')[0]!)) return;
    if (faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
    if (Math.random() < faults.errorRate)
      throw new AppError('FAULT_INJECTED', 'fault injected (FAULT_INJECTION)');
  };
}
