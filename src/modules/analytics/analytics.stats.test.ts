import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseExperiment } from './analytics.experiment.ts';
import {
  meanDifference,
  mixtureSequentialTest,
  sampleRatioMismatch,
  thompsonAllocation,
  twoProportionTest,
} from './analytics.stats.ts';

const close = (actual: number, expected: number, tolerance: number, what = '') =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what} ${actual} is not within ${tolerance} of ${expected}`,
  );

/** mulberry32, so simulations are the same on every run */
function seeded(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('two-proportion test', () => {
  it('matches the pooled z-test and the log risk-ratio interval', () => {
    const r = twoProportionTest(200, 2000, 250, 2000);
    // Expected from SciPy 1.17: p=(450/4000); z=(0.125-0.1)/sqrt(p*(1-p)*(1/2000+1/2000)) = 2.501955416802671,
    // 2*scipy.stats.norm.sf(z) = 0.012350947711191423
    close(r.zScore, 2.501955416802671, 1e-12, 'z');
    close(r.pValue, 0.012350947711191423, 1e-9, 'p');
    // exp(log(1.25) ± norm.ppf(0.975)*sqrt((1-0.1)/200 + (1-0.125)/250)) - 1 (Katz et al. 1978), SciPy 1.17
    close(r.liftInterval![0], 0.04900179776172586, 1e-9, 'lift low');
    close(r.liftInterval![1], 0.48951126998441263, 1e-9, 'lift high');
    close(r.lift!, 0.25, 1e-12, 'lift');
  });

  it('reports p = 1 and no lift interval when nothing converted', () => {
    const r = twoProportionTest(0, 100, 0, 100);
    assert.equal(r.pValue, 1);
    assert.equal(r.liftInterval, null);
  });
});

describe('sample ratio mismatch', () => {
  it("reproduces Mendel's dihybrid cross against 9:3:3:1", () => {
    // Mendel (1866) peas 315/108/101/32; chi-square 0.470, p = 0.9254 (Zar, Biostatistical Analysis, ex. 22.2;
    // scipy.stats.chisquare gives 0.4700239808153477, p 0.925425895103616)
    const r = sampleRatioMismatch([315, 108, 101, 32], [9, 3, 3, 1]);
    close(r.chiSquare, 0.4700239808153477, 1e-12, 'chi-square');
    close(r.pValue, 0.925425895103616, 1e-9, 'p');
    assert.equal(r.degreesOfFreedom, 3);
    assert.equal(r.mismatch, false);
  });

  it('flags a 51.5/48.5 split of 10,000 units at p < 0.001 only when it is that far', () => {
    // scipy.stats.chisquare([5150, 4850], [5000, 5000]) = 9.0, p = 0.0026997960632601883: not flagged
    const mild = sampleRatioMismatch([5150, 4850], [1, 1]);
    close(mild.pValue, 0.0026997960632601883, 1e-9, 'p');
    assert.equal(mild.mismatch, false);
    assert.equal(sampleRatioMismatch([5300, 4700], [1, 1]).mismatch, true);
  });
});

describe('mixture SPRT (always-valid p-value and confidence sequence)', () => {
  it('matches the normal-mixture likelihood ratio computed from the two normal densities', () => {
    // Λ = N(0.025; 0, v+τ²) / N(0.025; 0, v) with v = τ² = 1e-4: scipy.stats.norm.pdf gives Λ = 3.373417784200967,
    // p = 1/Λ = 0.29643526653692004; the interval ends solve log Λ(θ) = log(1/0.05) (scipy.optimize.brentq):
    // −0.011563948713638467 and 0.06156394871363847
    const r = mixtureSequentialTest(0.025, 1e-4, 1e-4, 0.05);
    close(r.pValue, 0.29643526653692004, 1e-12, 'p');
    close(r.interval[0], -0.011563948713638467, 1e-12, 'low');
    close(r.interval[1], 0.06156394871363847, 1e-12, 'high');
  });

  it('keeps the false-positive rate at alpha under continuous monitoring, where the fixed z-test does not', () => {
    // A/A tests (both arms convert at 10 %), checked after every 100 units per arm up to 5,000:
    // stopping at the first p < 0.05 must stay near 5 % for the always-valid p-value.
    const random = seeded(42);
    const runs = 300;
    let sequentialFalse = 0;
    let naiveFalse = 0;
    for (let run = 0; run < runs; run++) {
      let xA = 0;
      let xB = 0;
      let n = 0;
      let seqHit = false;
      let naiveHit = false;
      for (let look = 0; look < 50; look++) {
        for (let i = 0; i < 100; i++) {
          if (random() < 0.1) xA++;
          if (random() < 0.1) xB++;
        }
        n += 100;
        const fixed = twoProportionTest(xA, n, xB, n);
        const v = ((xA / n) * (1 - xA / n) + (xB / n) * (1 - xB / n)) / n;
        const seq = mixtureSequentialTest(fixed.difference, v, (0.1 * ((xA + xB) / (2 * n))) ** 2);
        if (fixed.pValue < 0.05) naiveHit = true;
        if (seq.pValue < 0.05) seqHit = true;
      }
      if (seqHit) sequentialFalse++;
      if (naiveHit) naiveFalse++;
    }
    assert.ok(sequentialFalse / runs <= 0.06, `sequential false positives ${sequentialFalse}/${runs}`);
    assert.ok(
      naiveFalse / runs >= 0.15,
      `peeking at the fixed test should inflate errors: ${naiveFalse}/${runs}`,
    );
  });

  it('finds a real difference', () => {
    const fixed = twoProportionTest(500, 5000, 650, 5000);
    const v = (0.1 * 0.9 + 0.13 * 0.87) / 5000;
    assert.ok(mixtureSequentialTest(fixed.difference, v, (0.1 * 0.115) ** 2).pValue < 0.01);
  });
});

describe('Welch interval for incremental revenue', () => {
  it('matches a hand computation', () => {
    const a = [10, 0, 0, 25, 5, 0, 12, 0, 8, 0];
    const b = [0, 5, 0, 0, 10, 0, 0, 3, 0, 0];
    const stats = (x: number[]) => ({
      n: x.length,
      sum: x.reduce((s, v) => s + v, 0),
      sumSq: x.reduce((s, v) => s + v * v, 0),
    });
    // numpy/scipy: diff of means 4.2, ± norm.ppf(0.975)*sqrt(var(a,ddof=1)/10 + var(b,ddof=1)/10)
    // = [-1.2645164378496467, 9.664516437849647]
    const r = meanDifference(stats(a), stats(b));
    close(r.difference, 4.2, 1e-12);
    close(r.interval[0], -1.2645164378496467, 1e-9);
    close(r.interval[1], 9.664516437849647, 1e-9);
  });
});

describe('Thompson sampling', () => {
  it('estimates the probability of being best as the Beta posteriors give it', () => {
    // P(B > A) for Beta(121, 881) vs Beta(101, 901): scipy.integrate.quad of beta.pdf(x,121,881)*beta.cdf(x,101,901)
    // = 0.92318343897356
    const r = thompsonAllocation(
      [
        { exposed: 1000, converted: 100 },
        { exposed: 1000, converted: 120 },
      ],
      0.05,
      { draws: 40_000, random: seeded(7) },
    );
    close(r.probabilityBest[1]!, 0.92318343897356, 0.01, 'P(best)');
    close(r.weights[0]! + r.weights[1]!, 10_000, 1);
  });

  it('keeps every variant at its floor', () => {
    const r = thompsonAllocation(
      [
        { exposed: 5000, converted: 100 },
        { exposed: 5000, converted: 600 },
        { exposed: 5000, converted: 110 },
      ],
      0.1,
      { random: seeded(3) },
    );
    assert.ok(r.weights[0]! >= 1000 && r.weights[2]! >= 1000, String(r.weights));
    assert.ok(r.weights[1]! >= 7900, String(r.weights));
  });
});

describe('experiment verdict', () => {
  const v = (name: string, exposed: number, converted: number, weight = 1, assigned = 0) => ({
    name,
    weight,
    exposed,
    converted,
    assigned,
  });

  it('declares a winner when the sequential test is significant', () => {
    const r = analyseExperiment([v('A', 5000, 500), v('B', 5000, 700)]);
    assert.equal(r.verdict, 'winner');
    assert.equal(r.winner, 'B');
    assert.ok(r.comparisons[0]!.sequential.pValue < 0.05);
  });

  it('refuses a verdict on a sample ratio mismatch, whatever the rates', () => {
    const r = analyseExperiment([v('A', 5000, 500), v('B', 4000, 700)]);
    assert.equal(r.verdict, 'invalid: SRM');
    assert.match(r.reason, /weights/);
  });

  it('keeps running when a fixed-horizon p < 0.05 is not yet enough for the sequential test', () => {
    const r = analyseExperiment([v('A', 2000, 200), v('B', 2000, 250)]);
    assert.ok(r.comparisons[0]!.pValue < 0.05);
    assert.equal(r.verdict, 'keep running');
  });

  it('says no difference once the confidence sequence is inside the equivalence margin', () => {
    const r = analyseExperiment([v('A', 400_000, 40_000), v('B', 400_000, 40_100)]);
    assert.equal(r.verdict, 'no difference', r.reason);
  });

  it('keeps running with too few units', () => {
    assert.equal(analyseExperiment([v('A', 50, 5), v('B', 50, 20)]).verdict, 'keep running');
  });
});
