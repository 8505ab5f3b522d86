import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fisherExactGreater, mannWhitneyGreater, normalUpperTail, quantile, slope } from './stats.ts';

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} ≠ ${expected} (±${tolerance})`);

test("Fisher's exact test: the lady tasting tea", () => {
  // Fisher, The Design of Experiments (1935), §2: 3 of 4 cups right; one-sided p = 17/70.
  close(fisherExactGreater(3, 4, 1, 4).p, 17 / 70, 1e-12);
});

test("Fisher's exact test: sparse errors against a large clean baseline", () => {
  // 5/100 canary errors vs 1/1000 stable: SciPy 1.17 fisher_exact([[5,95],[1,999]], alternative='greater')
  close(fisherExactGreater(5, 100, 1, 1000).p, 3.151040092260627e-5, 1e-10);
});

test("Fisher's exact test: a baseline with zero errors and a canary with zero errors is p = 1, not a failure", () => {
  assert.equal(fisherExactGreater(0, 60, 0, 1200).p, 1);
  assert.throws(() => fisherExactGreater(3, 2, 0, 5), RangeError);
});

test('Mann-Whitney U: small samples with the normal approximation', () => {
  // SciPy 1.17 mannwhitneyu(a, b, alternative='greater', method='asymptotic'): U = 17, p = 0.055673443266570206
  const r = mannWhitneyGreater([19, 22, 16, 29, 24], [20, 11, 17, 12]);
  assert.equal(r.u, 17);
  close(r.p, 0.055673443266570206, 1e-6);
});

test('Mann-Whitney U: the depression-scale data of R’s ?wilcox.test (Hollander & Wolfe 1973, p. 29)', () => {
  const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
  // SciPy 1.17 mannwhitneyu(x, y, alternative='greater', method='asymptotic'): U = 58, p = 0.06645972909265946
  const r = mannWhitneyGreater(x, y);
  assert.equal(r.u, 58);
  close(r.p, 0.06645972909265946, 1e-6);
});

test('Mann-Whitney U: ties get mid-ranks and the tie-corrected variance', () => {
  // SciPy 1.17 mannwhitneyu([2,3,3,4,4,5,6,6,7], [1,2,2,3,3,3,4,5], alternative='greater', method='asymptotic')
  const r = mannWhitneyGreater([2, 3, 3, 4, 4, 5, 6, 6, 7], [1, 2, 2, 3, 3, 3, 4, 5]);
  assert.equal(r.u, 55.5);
  close(r.p, 0.031242397836170603, 1e-6);
});

test('Mann-Whitney U: identical samples are not significant; a clear shift is', () => {
  const same = Array.from({ length: 200 }, (_, i) => (i * 7919) % 101);
  assert.ok(mannWhitneyGreater(same, same).p > 0.4);
  const slower = same.map((v) => v + 60);
  assert.ok(mannWhitneyGreater(slower, same).p < 1e-6);
  assert.ok(mannWhitneyGreater(same, slower).p > 0.999);
});

test('normal tail, quantile and slope', () => {
  close(normalUpperTail(1.959963984540054), 0.025, 2e-7);
  close(normalUpperTail(0), 0.5, 1e-7);
  assert.equal(quantile([5, 1, 4, 2, 3], 0.99), 5);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5), 5);
  close(
    slope([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 5 },
    ]),
    2,
  );
});
