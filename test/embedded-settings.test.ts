import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { embeddedSettings } from '../src/platform/embedded-db.ts';

describe('the embedded PostgreSQL sizes', () => {
  it('take a quarter of a small laptop, stop at 2 GB on a big server, and follow EMBEDDED_PG_MEMORY_MB', () => {
    assert.equal(embeddedSettings(undefined, 4096).shared_buffers, '1024MB');
    assert.equal(embeddedSettings(undefined, 1024).shared_buffers, '256MB');
    assert.equal(embeddedSettings(undefined, 256).shared_buffers, '128MB');
    const big = embeddedSettings(undefined, 65536);
    assert.equal(big.shared_buffers, '2048MB');
    assert.equal(big.effective_cache_size, '32768MB');
    assert.equal(big.max_wal_size, '4096MB');
    const set = embeddedSettings(300, 65536);
    assert.equal(set.shared_buffers, '300MB');
    assert.equal(set.maintenance_work_mem, '75MB');
  });
});
