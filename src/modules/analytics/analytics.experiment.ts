// The A/B verdict from per-variant units: each treatment against the control (the first variant),
// fixed-horizon and sequential-safe, gated by the sample-ratio-mismatch check.
import {
  type Interval,
  mixtureSequentialTest,
  sampleRatioMismatch,
  twoProportionTest,
} from './analytics.stats.ts';

export const ALPHA = 0.05;
export const SRM_THRESHOLD = 0.001;
/** below this many units per variant no verdict is given */
export const MIN_UNITS = 100;
/** a relative effect smaller than this is "no difference" once the confidence sequence is that narrow */
export const EQUIVALENCE_MARGIN = 0.1;

export type VariantInput = {
  name: string;
  weight: number;
  exposed: number;
  converted: number;
  assigned: number;
};

export type Verdict = 'winner' | 'no difference' | 'keep running' | 'invalid: SRM';

type Comparison = {
  variant: string;
  against: string;
  rate: number | null;
  controlRate: number | null;
  difference: number | null;
  differenceInterval: Interval | null;
  lift: number | null;
  liftInterval: Interval | null;
  zScore: number;
  pValue: number;
  sequential: { pValue: number; differenceInterval: Interval | null; significant: boolean };
  alpha: number;
};

export function analyseExperiment(variants: VariantInput[], options: { adaptive?: boolean } = {}) {
  const control = variants[0]!;
  const comparisons = variants.slice(1).map((v): Comparison => {
    // Bonferroni over the comparisons with the control
    const alpha = ALPHA / Math.max(1, variants.length - 1);
    const fixed = twoProportionTest(control.converted, control.exposed, v.converted, v.exposed, 1 - alpha);
    const pA = fixed.rateA;
    const pB = fixed.rateB;
    const variance =
      control.exposed > 0 && v.exposed > 0
        ? (pA * (1 - pA)) / control.exposed + (pB * (1 - pB)) / v.exposed
        : 0;
    // The mixture spreads its mass over differences of about ±10 % of the pooled rate: the
    // effects a campaign's A/B test is run to find (Johari et al. 2022, §4.3 on choosing τ).
    const pooled = (control.converted + v.converted) / Math.max(1, control.exposed + v.exposed);
    const tau2 = Math.max(0.1 * pooled, 1e-4) ** 2;
    const sequential = mixtureSequentialTest(fixed.difference, variance, tau2, alpha);
    return {
      variant: v.name,
      against: control.name,
      rate: Number.isFinite(pB) ? pB : null,
      controlRate: Number.isFinite(pA) ? pA : null,
      difference: Number.isFinite(fixed.difference) ? fixed.difference : null,
      differenceInterval: finiteInterval(fixed.differenceInterval),
      lift: fixed.lift,
      liftInterval: fixed.liftInterval,
      zScore: fixed.zScore,
      pValue: Number.isFinite(fixed.pValue) ? fixed.pValue : 1,
      sequential: {
        pValue: sequential.pValue,
        differenceInterval: finiteInterval(sequential.interval),
        significant: sequential.pValue < alpha,
      },
      alpha,
    };
  });

  const useAssigned = variants.every((v) => v.assigned > 0);
  const srm = sampleRatioMismatch(
    variants.map((v) => (useAssigned ? v.assigned : v.exposed)),
    variants.map((v) => v.weight),
    SRM_THRESHOLD,
  );
  const srmReport = {
    units: useAssigned ? ('messages sent' as const) : ('customers exposed' as const),
    // no exposed unit yet: 0 / 0, reported as no value
    chiSquare: Number.isFinite(srm.chiSquare) ? srm.chiSquare : null,
    degreesOfFreedom: srm.degreesOfFreedom,
    pValue: srm.pValue,
    expected: srm.expected,
    // adaptive allocation moves the weights on purpose: the configured ones are not the expectation
    mismatch: !options.adaptive && srm.mismatch,
    checked: !options.adaptive && variants.length > 1,
  };
  return { control: control.name, comparisons, srm: srmReport, ...verdict(variants, comparisons, srmReport) };
}

function finiteInterval(i: Interval | null): Interval | null {
  return i && Number.isFinite(i[0]) && Number.isFinite(i[1]) ? i : null;
}

function verdict(
  variants: VariantInput[],
  comparisons: Comparison[],
  srm: { mismatch: boolean; pValue: number },
): { verdict: Verdict; winner: string | null; reason: string } {
  if (variants.length < 2) {
    return {
      verdict: 'keep running',
      winner: null,
      reason: 'the campaign has one variant: nothing to compare',
    };
  }
  if (srm.mismatch) {
    return {
      verdict: 'invalid: SRM',
      winner: null,
      reason: `the units per variant do not match the configured weights (chi-square p = ${srm.pValue.toExponential(2)} < ${SRM_THRESHOLD}): assignment or tracking is broken, so no result can be trusted`,
    };
  }
  const small = variants.filter((v) => v.exposed < MIN_UNITS);
  if (small.length > 0) {
    return {
      verdict: 'keep running',
      winner: null,
      reason: `${small.map((v) => v.name).join(', ')} has fewer than ${MIN_UNITS} exposed customers`,
    };
  }
  const significant = comparisons.filter((c) => c.sequential.significant);
  if (significant.length > 0) {
    const better = significant.filter((c) => (c.difference ?? 0) > 0);
    if (better.length > 0) {
      const best = better.reduce((a, b) => ((b.rate ?? 0) > (a.rate ?? 0) ? b : a));
      return {
        verdict: 'winner',
        winner: best.variant,
        reason: `${best.variant} converts better than ${best.against} (${pct(best.rate)} vs ${pct(best.controlRate)}, always-valid p = ${best.sequential.pValue.toPrecision(2)})`,
      };
    }
    if (significant.length === comparisons.length) {
      return {
        verdict: 'winner',
        winner: variants[0]!.name,
        reason: `${variants[0]!.name} (the control) converts better than every other variant (always-valid p < ${significant[0]!.alpha})`,
      };
    }
  }
  const equivalent = comparisons.every((c) => {
    const i = c.sequential.differenceInterval;
    const margin = EQUIVALENCE_MARGIN * (c.controlRate ?? 0);
    return i !== null && margin > 0 && i[0] > -margin && i[1] < margin;
  });
  if (equivalent) {
    return {
      verdict: 'no difference',
      winner: null,
      reason: `every variant's confidence sequence lies within ±${EQUIVALENCE_MARGIN * 100} % of the control's rate`,
    };
  }
  return {
    verdict: 'keep running',
    winner: null,
    reason:
      'no variant differs at the sequential test yet, and the intervals are still wider than the equivalence margin',
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)} %`);
