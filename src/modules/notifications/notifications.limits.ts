/**
 * A token bucket: `take()` resolves when the caller may send. Tokens may go negative, which
 * reserves the next free slot, so waiting callers are served in order without a timer per token.
 * Limits are per process (the embedded default runs one worker process).
 */
export function tokenBucket(ratePerSecond: number, burst = Math.max(1, Math.ceil(ratePerSecond / 10))) {
  let tokens = burst;
  let last = performance.now();
  return function take(): Promise<void> | undefined {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - last) * ratePerSecond) / 1000) - 1;
    last = now;
    if (tokens >= 0) return undefined;
    return new Promise((resolve) => setTimeout(resolve, (-tokens * 1000) / ratePerSecond));
  };
}

export type Limiter = (merchantId: string, channel: string) => Promise<void> | undefined;

/** Per-merchant and per-channel limits; a send waits for both. */
export function createLimiter(merchantRate: number, channelRates: Record<string, number>): Limiter {
  const merchants = new Map<string, ReturnType<typeof tokenBucket>>();
  const channels = new Map(Object.entries(channelRates).map(([c, rate]) => [c, tokenBucket(rate)]));
  return (merchantId, channel) => {
    let m = merchants.get(merchantId);
    if (!m) {
      m = tokenBucket(merchantRate);
      merchants.set(merchantId, m);
    }
    const a = m();
    const b = channels.get(channel)?.();
    if (!a) return b;
    if (!b) return a;
    return Promise.all([a, b]).then(() => undefined);
  };
}

/** Exponential backoff with full jitter in [d/2, d], never earlier than the receiver's Retry-After. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, 3_600_000)));
}
