import { lazy, type ReactNode, Suspense } from 'react';

const Charts = () => import('./Charts.tsx');
export const TimeSeriesChart = lazy(() => Charts().then((m) => ({ default: m.TimeSeriesChart })));
export const Bars = lazy(() => Charts().then((m) => ({ default: m.Bars })));

/** A fixed-height frame: the page lays out at once and the chart fills it when its code arrives. */
export function ChartFrame({
  children,
  height = 260,
  label,
}: {
  children: ReactNode;
  height?: number;
  label: string;
}) {
  return (
    <figure className="chart" style={{ height }} aria-label={label}>
      <Suspense fallback={<div className="chart-loading">Loading chart…</div>}>{children}</Suspense>
    </figure>
  );
}
