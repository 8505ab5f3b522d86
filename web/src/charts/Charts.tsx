// Recharts is the heaviest dependency: this module is loaded lazily by the pages that draw charts,
// inside a box of fixed height so nothing shifts when it arrives.
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';

const COLORS = ['#0f766e', '#2563eb', '#d97706', '#7c3aed', '#dc2626'];

/** A point of the metrics route's `series` (its fields this chart draws). */
export type SeriesRow = {
  at: string;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
};

export function TimeSeriesChart({ series }: { series: SeriesRow[] }) {
  const rows = series.map((p) => ({
    ...p,
    day: new Date(p.at).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }),
  }));
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
        <XAxis dataKey="day" fontSize={12} />
        <YAxis yAxisId="count" fontSize={12} />
        <YAxis yAxisId="money" orientation="right" fontSize={12} />
        <Tooltip />
        <Legend />
        <Line
          yAxisId="count"
          type="monotone"
          dataKey="impressions"
          stroke={COLORS[0]}
          dot={false}
          isAnimationActive={false}
        />
        <Line
          yAxisId="count"
          type="monotone"
          dataKey="clicks"
          stroke={COLORS[1]}
          dot={false}
          isAnimationActive={false}
        />
        <Line
          yAxisId="count"
          type="monotone"
          dataKey="conversions"
          stroke={COLORS[2]}
          dot={false}
          isAnimationActive={false}
        />
        <Line
          yAxisId="money"
          type="monotone"
          dataKey="revenue"
          stroke={COLORS[3]}
          dot={false}
          isAnimationActive={false}
        />
      </LineChart>
    </ResponsiveContainer>
  );
}

/** A bar per row of `data`, one colour per key. */
export function Bars({
  data,
  category,
  keys,
  layout = 'horizontal',
}: {
  data: Record<string, string | number | null>[];
  category: string;
  keys: { key: string; label: string }[];
  layout?: 'horizontal' | 'vertical';
}) {
  const vertical = layout === 'vertical';
  return (
    <ResponsiveContainer width="100%" height="100%">
      <BarChart
        data={data}
        layout={layout}
        margin={{ top: 8, right: 16, bottom: 0, left: vertical ? 24 : 0 }}
      >
        <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
        {vertical ? (
          <>
            <XAxis type="number" fontSize={12} />
            <YAxis type="category" dataKey={category} width={110} fontSize={12} />
          </>
        ) : (
          <>
            <XAxis dataKey={category} fontSize={12} />
            <YAxis fontSize={12} />
          </>
        )}
        <Tooltip />
        {keys.length > 1 ? <Legend /> : null}
        {keys.map((k, i) => (
          <Bar
            key={k.key}
            dataKey={k.key}
            name={k.label}
            fill={COLORS[i % COLORS.length]}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    </ResponsiveContainer>
  );
}
