import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { eventually, testConfig, testDatabase } from '../../../test/helpers.ts';
import { snapshotOf } from '../../ops/ops-metrics.ts';
import { createPool } from '../../platform/db.ts';
import { startAlertEvaluator } from './alerts.service.ts';

// Two API processes on one database: incidents are global, so only one of them may evaluate.
describe('the in-process alert evaluator elects one leader per database', async () => {
  const url = await testDatabase();
  const config = testConfig(url, { ALERTS_INTERVAL_SECONDS: '0.05' });
  const pools = [createPool(url, 3), createPool(url, 3)];
  const empty = async () => ({ base: snapshotOf(''), current: snapshotOf('') });
  const ticks = [0, 0];
  const errors: Error[] = [];
  const evaluators = pools.map((pool, i) =>
    startAlertEvaluator(
      pool,
      config,
      empty,
      (e) => errors.push(e),
      () => {
        ticks[i]! += 1;
      },
    ),
  );
  const extra: ReturnType<typeof startAlertEvaluator>[] = [];
  // evaluators first: a pool ends only when the leader has given its connection back
  after(async () => {
    await Promise.all([...evaluators, ...extra].map((e) => e.stop()));
    await Promise.all(pools.map((p) => p.end()));
  });

  it('one process evaluates, the other waits', async () => {
    await eventually(async () => ticks[0]! + ticks[1]! >= 5);
    const leaders = evaluators.filter((e) => e.isLeader());
    assert.equal(leaders.length, 1);
    const follower = evaluators.findIndex((e) => !e.isLeader());
    assert.equal(ticks[follower], 0, 'the follower must not evaluate');
    assert.deepEqual(errors, []);
  });

  it('when the leader stops, the other takes over', async () => {
    const leader = evaluators.findIndex((e) => e.isLeader());
    const other = 1 - leader;
    await evaluators[leader]!.stop();
    await eventually(async () => evaluators[other]!.isLeader() && ticks[other]! > 0);
    assert.deepEqual(errors, []);
  });

  it("when the leader's connection dies, the lock goes with it and the other takes over", async () => {
    const leader = evaluators.findIndex((e) => e.isLeader());
    assert.ok(leader >= 0);
    // restart the first evaluator as a follower, then kill the leader's session from outside
    const restarted = startAlertEvaluator(pools[1 - leader]!, config, empty, (e) => errors.push(e));
    extra.push(restarted);
    const before = ticks[leader]!;
    await pools[1 - leader]!.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
        WHERE locktype = 'advisory' AND objid = 74122026 AND granted`,
    );
    // the old leader notices on its next tick; then whichever process ticks first leads again
    await eventually(async () => restarted.isLeader() || ticks[leader]! > before + 1);
    assert.equal([evaluators[leader]!, restarted].filter((e) => e.isLeader()).length, 1);
  });
});
