import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { Bars, ChartFrame } from '../charts/index.tsx';
import { ErrorNote, Loading, money, num, pct, StatusBadge } from '../components/ui.tsx';

type Rank = 'roi' | 'conversions' | 'revenue' | 'ctr';
const RANKS: [Rank, string][] = [
  ['roi', 'ROI'],
  ['revenue', 'Revenue'],
  ['conversions', 'Conversions'],
  ['ctr', 'CTR'],
];

export default function PortfolioPage() {
  const [rank, setRank] = useState<Rank>('roi');
  const portfolio = useQuery({
    queryKey: ['portfolio', rank],
    queryFn: async () => unwrap(await api.GET('/api/analytics/portfolio', { params: { query: { rank } } })),
    refetchInterval: 30_000,
  });
  if (portfolio.isPending) return <Loading />;
  if (portfolio.error) return <ErrorNote error={portfolio.error} />;
  const { totals, campaigns } = portfolio.data;
  const top = campaigns.slice(0, 10);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Portfolio</h1>
        <select aria-label="Rank by" value={rank} onChange={(e) => setRank(e.target.value as Rank)}>
          {RANKS.map(([k, l]) => (
            <option key={k} value={k}>
              Ranked by {l}
            </option>
          ))}
        </select>
      </div>
      <section className="kpis" data-testid="portfolio-totals">
        <div className="kpi">
          <div className="kpi-label">Campaigns</div>
          <div className="kpi-value">{num(totals.campaigns)}</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">Revenue</div>
          <div className="kpi-value">{money(totals.revenue)}</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">Spend</div>
          <div className="kpi-value">{money(totals.spend)}</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">ROI</div>
          <div className="kpi-value">{pct(totals.roi, 0)}</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">CTR</div>
          <div className="kpi-value">{pct(totals.ctr)}</div>
        </div>
        <div className="kpi">
          <div className="kpi-label">Conversion</div>
          <div className="kpi-value">{pct(totals.conversionRate)}</div>
        </div>
      </section>
      {top.length > 0 ? (
        <div className="grid-2">
          <section className="card">
            <h2>Revenue and spend</h2>
            <ChartFrame label="Revenue and spend per campaign" height={300}>
              <Bars
                data={top.map((c) => ({ name: c.name, revenue: c.revenue, spend: c.spend }))}
                category="name"
                layout="vertical"
                keys={[
                  { key: 'revenue', label: 'Revenue' },
                  { key: 'spend', label: 'Spend' },
                ]}
              />
            </ChartFrame>
          </section>
          <section className="card">
            <h2>Conversions</h2>
            <ChartFrame label="Conversions per campaign" height={300}>
              <Bars
                data={top.map((c) => ({ name: c.name, conversions: c.conversions }))}
                category="name"
                layout="vertical"
                keys={[{ key: 'conversions', label: 'Conversions' }]}
              />
            </ChartFrame>
          </section>
        </div>
      ) : null}
      <section className="card">
        <h2>Ranking</h2>
        {campaigns.length === 0 ? (
          <p className="empty">No campaigns yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="table responsive" data-testid="ranking">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>Campaign</th>
                  <th>Status</th>
                  <th className="num">ROI</th>
                  <th className="num">Revenue</th>
                  <th className="num">Conversions</th>
                  <th className="num">CTR</th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => (
                  <tr key={c.campaignId}>
                    <td data-label="Rank" className="num">
                      {c.rank}
                    </td>
                    <td data-label="Campaign">
                      <Link to={`/campaigns/${c.campaignId}`}>{c.name}</Link>
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={c.status} />
                    </td>
                    <td data-label="ROI" className="num">
                      {pct(c.roi, 0)}
                    </td>
                    <td data-label="Revenue" className="num">
                      {money(c.revenue)}
                    </td>
                    <td data-label="Conversions" className="num">
                      {num(c.conversions)}
                    </td>
                    <td data-label="CTR" className="num">
                      {pct(c.ctr)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
