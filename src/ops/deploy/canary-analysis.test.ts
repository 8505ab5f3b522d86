import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CANARY } from '../thresholds.ts';
import { argoRollout } from './argo.ts';
import { analyse, type RssPoint } from './canary-analysis.ts';
import type { Sample } from './router.ts';
import { bucketOf, fnv1a32, pickBackend, policyProblems } from './router-policy.ts';

let seq = 0;
function samples(
  version: string,
  n: number,
  options: { errorEvery?: number; ms?: (i: number) => number; code?: string } = {},
): Sample[] {
  return Array.from({ length: n }, (_, i) => {
    const error = options.errorEvery !== undefined && i % options.errorEvery === 0;
    return {
      seq: ++seq,
      at: i,
      version,
      ms: options.ms ? options.ms(i) : 5 + (i % 7),
      status: error ? 503 : 200,
      code: error ? (options.code ?? 'SERVICE_UNAVAILABLE') : '',
    };
  });
}
const flatRss = (mib: number): RssPoint[] =>
  Array.from({ length: 10 }, (_, i) => ({ at: i * 1000, bytes: mib * 1_048_576 }));
const statusOf = (v: ReturnType<typeof analyse>, key: string) => v.metrics.find((m) => m.key === key)!.status;

test('a canary like the stable version passes, with every metric listed', () => {
  const v = analyse(
    { version: 'v1', samples: samples('v1', 600), rss: flatRss(200) },
    { version: 'v2', samples: samples('v2', 120), rss: flatRss(210) },
    30,
  );
  assert.equal(v.decision, 'pass', JSON.stringify(v.reasons));
  assert.equal(v.confidence, CANARY.confidence);
  assert.deepEqual(
    v.metrics.map((m) => m.key),
    [
      'requests',
      'error_rate',
      'error_rate_fisher',
      'p99_latency',
      'latency_mann_whitney',
      'new_error_codes',
      'memory_growth',
    ],
  );
  assert.equal(v.metrics.find((m) => m.key === 'requests')!.canary, 120);
});

test('too little traffic is inconclusive, never a pass', () => {
  const v = analyse(
    { version: 'v1', samples: samples('v1', 600), rss: flatRss(200) },
    { version: 'v2', samples: samples('v2', CANARY.minRequests - 1), rss: flatRss(200) },
    30,
  );
  assert.equal(v.decision, 'inconclusive');
  assert.match(v.reasons[0]!, /too little traffic/);
});

test('errors on the canary fail it: the limit, Fisher and a new code', () => {
  const v = analyse(
    { version: 'v1', samples: samples('v1', 600), rss: flatRss(200) },
    {
      version: 'v2',
      samples: samples('v2', 100, { errorEvery: 10, code: 'FAULT_INJECTED' }),
      rss: flatRss(200),
    },
    30,
  );
  assert.equal(v.decision, 'fail');
  assert.equal(statusOf(v, 'error_rate'), 'fail');
  assert.equal(statusOf(v, 'error_rate_fisher'), 'fail');
  assert.equal(statusOf(v, 'new_error_codes'), 'fail');
});

test('sparse errors below the fixed limit can still fail on Fisher when the stable version has none', () => {
  // 0.8 % is under the 1 % fail limit, but 8/1000 against 0/5000 is not chance (p ≈ 1e-6)
  const v = analyse(
    { version: 'v1', samples: samples('v1', 5000), rss: flatRss(200) },
    { version: 'v2', samples: samples('v2', 1000, { errorEvery: 125 }), rss: flatRss(200) },
    30,
  );
  assert.equal(statusOf(v, 'error_rate'), 'warn');
  assert.equal(statusOf(v, 'error_rate_fisher'), 'fail');
  assert.equal(v.decision, 'fail');
});

test('a slower canary fails on Mann-Whitney and the p99 limit; a leak fails on memory', () => {
  const slow = analyse(
    { version: 'v1', samples: samples('v1', 400), rss: flatRss(200) },
    { version: 'v2', samples: samples('v2', 100, { ms: (i) => 550 + i }), rss: flatRss(200) },
    30,
  );
  assert.equal(statusOf(slow, 'latency_mann_whitney'), 'fail');
  assert.equal(statusOf(slow, 'p99_latency'), 'fail');
  // the budget scale (a slow staging machine) moves the limits the status is judged by
  const scaled = analyse(
    { version: 'v1', samples: samples('v1', 400), rss: flatRss(200) },
    { version: 'v2', samples: samples('v2', 100, { ms: (i) => 550 + i }), rss: flatRss(200) },
    30,
    4,
  );
  assert.equal(statusOf(scaled, 'p99_latency'), 'pass');
  const leak = analyse(
    { version: 'v1', samples: samples('v1', 400), rss: flatRss(200) },
    {
      version: 'v2',
      samples: samples('v2', 100),
      rss: Array.from({ length: 10 }, (_, i) => ({ at: i * 1000, bytes: (200 + i * 10) * 1_048_576 })),
    },
    30,
  );
  assert.equal(statusOf(leak, 'memory_growth'), 'fail');
  assert.equal(leak.decision, 'fail');
});

test('router policy: FNV-1a test vectors, sticky buckets, canary first', () => {
  // FNV-1a 32-bit test vectors (Fowler/Noll/Vo, draft-eastlake-fnv, §"Test Vectors")
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  const backends = (canary: number) => [
    { version: 'v2', url: 'http://127.0.0.1:2', weight: canary },
    { version: 'v1', url: 'http://127.0.0.1:1', weight: 100 - canary },
  ];
  const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}-route`);
  const at5 = ids.filter((id) => pickBackend(backends(5), id)!.version === 'v2');
  assert.ok(at5.length > 50 && at5.length < 150, `${at5.length} of 2000 at 5 %`);
  // raising the weight keeps every canary user on the canary
  for (const id of at5) assert.equal(pickBackend(backends(25), id)!.version, 'v2');
  assert.ok(bucketOf('x') >= 0 && bucketOf('x') < 10_000);
  assert.deepEqual(policyProblems(backends(5)), []);
  assert.match(
    policyProblems([{ version: 'v1', url: 'http://127.0.0.1:1', weight: 90 }]).join(),
    /sum to 100/,
  );
  assert.match(policyProblems([{ version: 'bad version', url: 'x', weight: 100 }]).join(), /version must be/);
});

test('the Argo Rollouts manifest carries the same steps and thresholds', () => {
  const yaml = argoRollout({ version: 'v2', image: 'swipesavvy:v2', traffic: 5, windowSeconds: 300 });
  assert.match(
    yaml,
    /kind: Rollout[\s\S]*- setWeight: 5[\s\S]*templateName: swipesavvy-canary[\s\S]*- setWeight: 100/,
  );
  assert.match(yaml, new RegExp(`successCondition: result\\[0\\] <= ${CANARY.passErrorRate}`));
  assert.match(yaml, new RegExp(`failureCondition: result\\[0\\] >= ${CANARY.failErrorRate}`));
  assert.match(yaml, new RegExp(`failureCondition: result\\[0\\] > ${CANARY.failP99Ms / 1000}`));
  assert.match(yaml, /kind: AnalysisTemplate/);
});
