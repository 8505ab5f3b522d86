import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CRITICAL_METRICS, stateOf } from './thresholds.ts';

const metric = (key: string) => CRITICAL_METRICS.find((m) => m.key === key)!;

describe('thresholds', () => {
  it('grades the error rate as the execution guide does', () => {
    assert.equal(stateOf(metric('error_rate'), 0.0005), 'green');
    assert.equal(stateOf(metric('error_rate'), 0.003), 'yellow');
    assert.equal(stateOf(metric('error_rate'), 0.006), 'red');
  });

  it('grades metrics where higher is better the other way round', () => {
    assert.equal(stateOf(metric('notification_delivery_rate'), 0.998), 'green');
    assert.equal(stateOf(metric('notification_delivery_rate'), 0.95), 'yellow');
    assert.equal(stateOf(metric('notification_delivery_rate'), 0.85), 'red');
  });

  it('has one entry per metric key', () => {
    assert.equal(new Set(CRITICAL_METRICS.map((m) => m.key)).size, CRITICAL_METRICS.length);
  });
});
