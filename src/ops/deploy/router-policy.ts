// The traffic policy both routers apply: a list of versions with weights (percent, summing to
// 100) and stickiness by a cookie. A user's cookie hashes (FNV-1a, 32 bit, as kamal-proxy does)
// to a bucket in [0, 10000); buckets are handed out to versions in list order, the canary
// first, so raising the canary's weight only moves stable users over, never the reverse.

export type Backend = { version: string; url: string; weight: number };

export const STICKY_COOKIE = 'ss_route';

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function bucketOf(routeId: string): number {
  return fnv1a32(routeId) % 10_000;
}

export function pickBackend(backends: readonly Backend[], routeId: string): Backend | undefined {
  const bucket = bucketOf(routeId);
  let upper = 0;
  for (const b of backends) {
    upper += Math.round(b.weight * 100);
    if (bucket < upper) return b;
  }
  return backends.findLast((b) => b.weight > 0);
}

/** Checks a policy; returns the problems (empty when it is sound). */
export function policyProblems(backends: unknown): string[] {
  if (!Array.isArray(backends) || backends.length === 0) return ['backends must be a non-empty list'];
  const problems: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const [i, b] of (backends as Backend[]).entries()) {
    if (typeof b?.version !== 'string' || !/^[\w.+-]{1,64}$/.test(b.version))
      problems.push(`backends[${i}].version must be 1–64 of [A-Za-z0-9_.+-]`);
    else if (seen.has(b.version)) problems.push(`backends[${i}].version ${b.version} is listed twice`);
    else seen.add(b.version);
    try {
      const u = new URL(String(b?.url));
      if (u.protocol !== 'http:') problems.push(`backends[${i}].url must be http://`);
    } catch {
      problems.push(`backends[${i}].url is not a URL`);
    }
    if (typeof b?.weight !== 'number' || !(b.weight >= 0 && b.weight <= 100))
      problems.push(`backends[${i}].weight must be 0–100`);
    else total += b.weight;
  }
  if (problems.length === 0 && Math.abs(total - 100) > 1e-9)
    problems.push(`weights must sum to 100, not ${total}`);
  return problems;
}

export function weightsOf(backends: readonly Backend[]): Record<string, number> {
  return Object.fromEntries(backends.map((b) => [b.version, b.weight]));
}
