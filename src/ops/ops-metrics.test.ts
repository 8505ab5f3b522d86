import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { criticalMetrics, EMPTY_SNAPSHOT, quantileMs, snapshotOf } from './ops-metrics.ts';

const scrape = (ok: number, failed: number, fast: number, slow: number) => `
# HELP swipesavvy_http_requests_total x
swipesavvy_http_requests_total{method="GET",route="/api/health",status_code="200",code="",service="swipesavvy"} ${ok}
swipesavvy_http_requests_total{method="GET",route="/api/merchants",status_code="500",code="INTERNAL",service="swipesavvy"} ${failed}
swipesavvy_http_requests_total{method="GET",route="/metrics",status_code="500",code="",service="swipesavvy"} 99
swipesavvy_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/health",status_code="200"} ${fast}
swipesavvy_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/api/health",status_code="200"} ${fast + slow}
swipesavvy_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/health",status_code="200"} ${fast + slow}
swipesavvy_db_pool_usage_ratio{service="swipesavvy"} 0.25
swipesavvy_notification_delivery_rate{window="1h"} 0.95
`;

describe('critical metrics from /metrics', () => {
  it('interpolates the p99 inside its bucket as histogram_quantile does', () => {
    // 100 requests: 90 under 100 ms, 10 between 100 and 500 ms → rank 99 is 9/10 into the second bucket
    const p99 = quantileMs(
      new Map([
        [0.1, 90],
        [0.5, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
      0.99,
    );
    assert.equal(Math.round(p99!), 460);
    assert.equal(quantileMs(new Map(), 0.99), null);
  });

  it('computes the error rate from deltas, leaves scrapes out, and grades every metric', () => {
    const base = snapshotOf(scrape(100, 0, 90, 10), 0);
    const current = snapshotOf(scrape(1090, 10, 990, 10), 1000);
    const rows = criticalMetrics(base, current);
    const row = (k: string) => rows.find((r) => r.key === k)!;
    assert.equal(row('error_rate').value, 10 / 1000);
    assert.equal(row('error_rate').state, 'red');
    assert.ok(row('p99_latency').value! < 100);
    assert.equal(row('db_pool_usage').state, 'green');
    assert.equal(row('notification_delivery_rate').state, 'yellow');
    assert.equal(row('replication_lag').state, 'unknown');
    assert.equal(
      criticalMetrics(EMPTY_SNAPSHOT, EMPTY_SNAPSHOT)[0]!.value,
      null,
      'no traffic is no data, not 0 %',
    );
  });
});
