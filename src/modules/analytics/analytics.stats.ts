// The statistics behind A/B verdicts, incremental ROI and adaptive allocation. Pure functions:
// the distributions come from jStat, the formulas' sources are cited where they are used.
import jstat from 'jstat';

const { jStat } = jstat;

export type Interval = [number, number];

const normalCdf = (z: number) => jStat.normal.cdf(z, 0, 1);
const normalQuantile = (p: number) => jStat.normal.inv(p, 0, 1);

/**
 * Pooled two-proportion z-test of H0: pA = pB, two-sided, with the unpooled (Wald) interval of
 * pB − pA and the relative lift pB / pA − 1 with the log risk-ratio interval
 * (Katz, Baptista, Azen & Pike 1978, Biometrics 34:469 — var log(pB/pA) ≈ (1−pA)/xA + (1−pB)/xB).
 */
export function twoProportionTest(xA: number, nA: number, xB: number, nB: number, confidence = 0.95) {
  if (nA === 0 || nB === 0) {
    const none: Interval = [Number.NaN, Number.NaN];
    return {
      rateA: xA / nA,
      rateB: xB / nB,
      difference: Number.NaN,
      differenceInterval: none,
      lift: null,
      liftInterval: null,
      zScore: 0,
      pValue: 1,
    };
  }
  const pA = xA / nA;
  const pB = xB / nB;
  const pooled = (xA + xB) / (nA + nB);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  const z = se0 === 0 ? 0 : (pB - pA) / se0;
  const q = normalQuantile(1 - (1 - confidence) / 2);
  const se = Math.sqrt((pA * (1 - pA)) / nA + (pB * (1 - pB)) / nB);
  const diff = pB - pA;
  let lift: number | null = null;
  let liftInterval: Interval | null = null;
  if (xA > 0 && xB > 0) {
    lift = pB / pA - 1;
    const seLog = Math.sqrt((1 - pA) / xA + (1 - pB) / xB);
    const log = Math.log(pB / pA);
    liftInterval = [Math.exp(log - q * seLog) - 1, Math.exp(log + q * seLog) - 1];
  }
  return {
    rateA: pA,
    rateB: pB,
    difference: diff,
    differenceInterval: [diff - q * se, diff + q * se] as Interval,
    lift,
    liftInterval,
    zScore: z,
    pValue: se0 === 0 ? 1 : 2 * (1 - normalCdf(Math.abs(z))),
  };
}

/**
 * Always-valid inference for the difference of two means (here rates) by the normal-mixture
 * sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis & Walsh, "Always Valid
 * Inference: Continuous Monitoring of A/B Tests", Operations Research 70(3), 2022, eq. (4) and
 * section 4: with the estimate Δ̂ ~ N(θ, v) and the mixing distribution θ ~ N(0, τ²),
 *   Λ = sqrt(v / (v + τ²)) · exp(τ² Δ̂² / (2 v (v + τ²))),
 * a nonnegative martingale under H0 (asymptotically, with v estimated), so by Ville's inequality
 * p = min(1, 1/Λ) may be checked after every batch without inflating false positives, and
 *   { θ : Λ(θ) < 1/α } = Δ̂ ± sqrt(v (v + τ²) / τ² · (2 log(1/α) + log((v + τ²) / v)))
 * is a confidence sequence (the same normal-mixture boundary as Howard, Ramdas, McAuliffe &
 * Sekhon 2021, Annals of Statistics 49(2), eq. (14)).
 */
export function mixtureSequentialTest(difference: number, variance: number, tau2: number, alpha = 0.05) {
  if (!(variance > 0) || !(tau2 > 0)) {
    return { pValue: 1, interval: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] as Interval };
  }
  const v = variance;
  const logLambda = 0.5 * Math.log(v / (v + tau2)) + (tau2 * difference ** 2) / (2 * v * (v + tau2));
  const half = Math.sqrt(((v * (v + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((v + tau2) / v)));
  return {
    pValue: Math.min(1, Math.exp(-logLambda)),
    interval: [difference - half, difference + half] as Interval,
  };
}

/**
 * Sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the observed units per
 * variant against the configured weights (the SRM check of Fabijan et al., KDD 2019, flagged at
 * p < 0.001 as GrowthBook does).
 */
export function sampleRatioMismatch(observed: number[], weights: number[], threshold = 0.001) {
  const n = observed.reduce((s, x) => s + x, 0);
  const w = weights.reduce((s, x) => s + x, 0);
  const expected = weights.map((x) => (n * x) / w);
  const chiSquare = observed.reduce((s, o, i) => s + (o - expected[i]!) ** 2 / expected[i]!, 0);
  const df = observed.length - 1;
  const pValue = n === 0 || df === 0 ? 1 : 1 - jStat.chisquare.cdf(chiSquare, df);
  return { chiSquare, degreesOfFreedom: df, pValue, expected, mismatch: pValue < threshold };
}

/**
 * Welch's interval for the difference of two means from sufficient statistics (n, Σx, Σx²),
 * normal approximation: the baseline comparison behind incremental ROI.
 */
export function meanDifference(
  a: { n: number; sum: number; sumSq: number },
  b: { n: number; sum: number; sumSq: number },
  confidence = 0.95,
) {
  const mean = (s: typeof a) => s.sum / s.n;
  const variance = (s: typeof a) => (s.n > 1 ? Math.max(0, (s.sumSq - s.sum ** 2 / s.n) / (s.n - 1)) : 0);
  const diff = mean(a) - mean(b);
  const se = Math.sqrt(variance(a) / a.n + variance(b) / b.n);
  const q = normalQuantile(1 - (1 - confidence) / 2);
  return {
    meanA: mean(a),
    meanB: mean(b),
    difference: diff,
    interval: [diff - q * se, diff + q * se] as Interval,
  };
}

/**
 * Thompson sampling allocation: each variant's conversion rate has a Beta(1 + converted,
 * 1 + exposed − converted) posterior; the share of posterior draws in which a variant is best is
 * its probability of being best (Russo et al., "A Tutorial on Thompson Sampling", 2018, §3).
 * Weights are that probability, with every variant kept at `floor` or more so the loser still
 * gathers evidence, in integer parts of `scale`.
 */
export function thompsonAllocation(
  units: { exposed: number; converted: number }[],
  floor: number,
  options: { draws?: number; random?: () => number; scale?: number } = {},
) {
  const draws = options.draws ?? 20_000;
  const scale = options.scale ?? 10_000;
  const k = units.length;
  if (options.random) jStat.setRandom(options.random);
  const wins = new Array<number>(k).fill(0);
  for (let d = 0; d < draws; d++) {
    let best = 0;
    let bestValue = -1;
    for (let i = 0; i < k; i++) {
      const u = units[i]!;
      const x = jStat.beta.sample(1 + u.converted, 1 + Math.max(0, u.exposed - u.converted));
      if (x > bestValue) {
        bestValue = x;
        best = i;
      }
    }
    wins[best]! += 1;
  }
  if (options.random) jStat.setRandom(Math.random);
  const probabilityBest = wins.map((w) => w / draws);
  const f = Math.min(floor, 1 / k);
  const shares = probabilityBest.map((p) => f + (1 - k * f) * p);
  const weights = shares.map((s) => Math.max(1, Math.round(s * scale)));
  return { probabilityBest, weights };
}
