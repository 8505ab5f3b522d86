// Statistical tests for the canary verdict. A canary sees little traffic, so the tests must be
// exact or hold up on small samples: Fisher's exact test for error counts (no large-sample
// assumption, unlike chi-square) and the Mann-Whitney U test for latencies (rank based: no
// normality assumption, robust to the long tail that latencies have).

const logFactorialCache: number[] = [0];

function logFactorial(n: number): number {
  for (let i = logFactorialCache.length; i <= n; i++)
    logFactorialCache[i] = logFactorialCache[i - 1]! + Math.log(i);
  return logFactorialCache[n]!;
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

export type FisherResult = { p: number; oddsRatio: number };

/**
 * One-sided Fisher's exact test on the 2×2 table
 *   [ aErrors, aTotal - aErrors ]   (the canary)
 *   [ bErrors, bTotal - bErrors ]   (the baseline)
 * with the alternative "a's error rate is greater than b's": p = P(X ≥ aErrors) under the
 * hypergeometric distribution with the table's margins fixed.
 */
export function fisherExactGreater(
  aErrors: number,
  aTotal: number,
  bErrors: number,
  bTotal: number,
): FisherResult {
  for (const [v, name] of [
    [aErrors, 'aErrors'],
    [aTotal, 'aTotal'],
    [bErrors, 'bErrors'],
    [bTotal, 'bTotal'],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer`);
  }
  if (aErrors > aTotal || bErrors > bTotal) throw new RangeError('errors cannot exceed totals');
  const n = aTotal + bTotal;
  const errors = aErrors + bErrors;
  const hi = Math.min(aTotal, errors);
  const logDenominator = logChoose(n, errors);
  let p = 0;
  for (let x = aErrors; x <= hi; x++) {
    p += Math.exp(logChoose(aTotal, x) + logChoose(bTotal, errors - x) - logDenominator);
  }
  const aOk = aTotal - aErrors;
  const bOk = bTotal - bErrors;
  const oddsRatio =
    aOk * bErrors === 0 ? (aErrors * bOk === 0 ? Number.NaN : Infinity) : (aErrors * bOk) / (aOk * bErrors);
  return { p: Math.min(1, p), oddsRatio };
}

/** The standard normal upper tail, 1 − Φ(z), via erfc (W. J. Cody's rational approximation, |error| < 1.2e-7). */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes in C, 2nd ed., §6.2 erfcc: fractional error below 1.2e-7 everywhere.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export type MannWhitneyResult = { u: number; z: number; p: number; nA: number; nB: number };

/**
 * One-sided Mann-Whitney U test, alternative "values in a tend to be greater than in b".
 * U is a's rank sum minus na(na+1)/2 (mid-ranks for ties); p from the normal approximation with
 * the tie-corrected variance and a continuity correction of 0.5 — the same as R's
 * wilcox.test(a, b, alternative = "greater", exact = FALSE, correct = TRUE) and SciPy's
 * mannwhitneyu(a, b, alternative="greater", method="asymptotic").
 */
export function mannWhitneyGreater(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  const nA = a.length;
  const nB = b.length;
  if (nA === 0 || nB === 0) return { u: Number.NaN, z: Number.NaN, p: Number.NaN, nA, nB };
  const all = new Float64Array(nA + nB);
  all.set(a, 0);
  all.set(b, nA);
  const order = Array.from({ length: all.length }, (_, i) => i).sort((i, j) => all[i]! - all[j]!);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && all[order[j + 1]!] === all[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1;
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (order[k]! < nA) rankSumA += midRank;
    i = j + 1;
  }
  const u = rankSumA - (nA * (nA + 1)) / 2;
  const n = nA + nB;
  const mean = (nA * nB) / 2;
  const variance = ((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, p: 1, nA, nB };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, p: normalUpperTail(z), nA, nB };
}

/** The q-quantile (0..1) by the nearest-rank method: the value a p99 dashboard shows. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of y over x (per unit of x); NaN with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
