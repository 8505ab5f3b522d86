import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, CAMPAIGN_STATUSES, type CampaignStatus, type Experiment, unwrap } from '../api/client.ts';
import { Bars, ChartFrame, TimeSeriesChart } from '../charts/index.tsx';
import { ErrorNote, Loading, money, num, pct, StatusBadge } from '../components/ui.tsx';
import { campaignQuery } from '../query.ts';
import { verdictInWords } from './experiment-words.ts';

type SegmentBy = 'city' | 'ageBand' | 'device' | 'tier';
const SEGMENT_BY: [SegmentBy, string][] = [
  ['city', 'City'],
  ['ageBand', 'Age band'],
  ['device', 'Device'],
  ['tier', 'Tier'],
];

export default function CampaignPage() {
  const { id } = useParams() as { id: string };
  const queryClient = useQueryClient();
  const [by, setBy] = useState<SegmentBy>('city');
  const [nextStatus, setNextStatus] = useState<CampaignStatus | ''>('');

  const campaign = useQuery(campaignQuery(id));
  const metrics = useQuery({
    queryKey: ['metrics', id],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/analytics/campaign/{id}/metrics', {
          params: { path: { id }, query: { interval: 'day' } },
        }),
      ),
    refetchInterval: 15_000,
  });
  const segments = useQuery({
    queryKey: ['segments', id, by],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/analytics/campaign/{id}/segments', { params: { path: { id }, query: { by } } }),
      ),
  });
  const experiment = useQuery({
    queryKey: ['experiment', id],
    queryFn: async () =>
      unwrap(await api.GET('/api/analytics/campaign/{id}/experiment', { params: { path: { id } } })),
  });

  const changeStatus = useMutation({
    mutationFn: async (status: CampaignStatus) =>
      unwrap(await api.PUT('/api/campaigns/{id}', { params: { path: { id } }, body: { status } })),
    onSuccess: (updated) => {
      queryClient.setQueryData(['campaign', id], updated);
      queryClient.invalidateQueries({ queryKey: ['campaigns'] });
      setNextStatus('');
    },
  });

  // the campaign itself carries its metrics: they show at once, the analytics query refreshes them
  const m = metrics.data ?? campaign.data?.metrics;
  const series = metrics.data?.series;
  useEffect(() => {
    // the benchmark's "first meaningful render": the campaign's figures are on screen
    if (m && !performance.getEntriesByName('campaign-metrics').length) performance.mark('campaign-metrics');
  }, [m]);

  if (campaign.isPending) return <Loading />;
  if (campaign.error) return <ErrorNote error={campaign.error} />;
  const c = campaign.data;

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>{c.name}</h1>
          <p className="muted">
            <StatusBadge status={c.status} /> {c.channel} · budget {money(c.budget)}
            {c.description ? ` · ${c.description}` : ''}
          </p>
        </div>
        <div className="actions">
          <Link className="button secondary" to={`/campaigns/${id}/edit`}>
            Edit
          </Link>
          <form
            className="inline"
            onSubmit={(e) => {
              e.preventDefault();
              if (nextStatus) changeStatus.mutate(nextStatus);
            }}
          >
            <select
              aria-label="New status"
              value={nextStatus}
              onChange={(e) => setNextStatus(e.target.value as CampaignStatus)}
            >
              <option value="">Change status…</option>
              {CAMPAIGN_STATUSES.filter((s) => s !== c.status).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
            <button type="submit" disabled={!nextStatus || changeStatus.isPending}>
              Apply
            </button>
          </form>
        </div>
      </div>
      <ErrorNote error={changeStatus.error} />

      <section className="kpis" data-testid="metrics" aria-busy={!m}>
        <Kpi
          label="CTR"
          value={m ? pct(m.ctr) : '…'}
          detail={m ? `${num(m.clicks)} clicks / ${num(m.impressions)} impressions` : ''}
        />
        <Kpi
          label="Conversion"
          value={m ? pct(m.conversionRate) : '…'}
          detail={m ? `${num(m.conversions)} conversions` : ''}
        />
        <Kpi
          label="ROI"
          value={m ? pct(m.roi, 0) : '…'}
          detail={m ? `${money(m.revenue)} revenue / ${money(m.spend)} spend` : ''}
        />
        <Kpi
          label="Messages sent"
          value={m ? num(m.messagesSent) : '…'}
          detail={m ? `${num(m.opens)} opens` : ''}
        />
      </section>
      <ErrorNote error={metrics.error} />

      <section className="card">
        <h2>Over time</h2>
        {series && series.length > 0 ? (
          <ChartFrame label="Daily impressions, clicks, conversions and revenue">
            <TimeSeriesChart series={series} />
          </ChartFrame>
        ) : m && (series || metrics.error) ? (
          <>
            <p className="muted">
              {series ? 'No daily data yet;' : 'The daily series could not be loaded;'} the totals so far:
            </p>
            <ChartFrame label="Totals so far" height={200}>
              <Bars
                data={[
                  { stage: 'Impressions', value: m.impressions },
                  { stage: 'Opens', value: m.opens },
                  { stage: 'Clicks', value: m.clicks },
                  { stage: 'Conversions', value: m.conversions },
                ]}
                category="stage"
                keys={[{ key: 'value', label: 'Count' }]}
              />
            </ChartFrame>
          </>
        ) : (
          <div className="chart" style={{ height: 260 }} />
        )}
      </section>

      <section className="card">
        <div className="section-head">
          <h2>Segments</h2>
          <select aria-label="Segment by" value={by} onChange={(e) => setBy(e.target.value as SegmentBy)}>
            {SEGMENT_BY.map(([key, label]) => (
              <option key={key} value={key}>
                by {label}
              </option>
            ))}
          </select>
        </div>
        <ErrorNote error={segments.error} />
        {segments.data ? (
          segments.data.segments.length === 0 ? (
            <p className="empty">No events for this campaign yet.</p>
          ) : (
            <div className="table-wrap">
              <table className="table responsive" data-testid="segments">
                <thead>
                  <tr>
                    <th>{SEGMENT_BY.find(([k]) => k === by)?.[1]}</th>
                    <th className="num">Impressions</th>
                    <th className="num">Clicks</th>
                    <th className="num">CTR</th>
                    <th className="num">Conversions</th>
                    <th className="num">Conversion</th>
                    <th className="num">Revenue</th>
                    <th className="num">ROI</th>
                  </tr>
                </thead>
                <tbody>
                  {segments.data.segments.map((s) => (
                    <tr key={s.segment}>
                      <td data-label="Segment">{s.segment}</td>
                      <td data-label="Impressions" className="num">
                        {num(s.impressions)}
                      </td>
                      <td data-label="Clicks" className="num">
                        {num(s.clicks)}
                      </td>
                      <td data-label="CTR" className="num">
                        {pct(s.ctr)}
                      </td>
                      <td data-label="Conversions" className="num">
                        {num(s.conversions)}
                      </td>
                      <td data-label="Conversion" className="num">
                        {pct(s.conversionRate)}
                      </td>
                      <td data-label="Revenue" className="num">
                        {money(s.revenue)}
                      </td>
                      <td data-label="ROI" className="num">
                        {pct(s.roi, 0)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : (
          <Loading />
        )}
      </section>

      <section className="card" data-testid="experiment">
        <h2>A/B test</h2>
        {experiment.error ? (
          <ErrorNote error={experiment.error} />
        ) : experiment.data ? (
          <ExperimentResult experiment={experiment.data} />
        ) : (
          <Loading />
        )}
      </section>
    </div>
  );
}

function Kpi({ label, value, detail }: { label: string; value: string; detail: string }) {
  return (
    <div className="kpi">
      <div className="kpi-label">{label}</div>
      <div className="kpi-value">{value}</div>
      <div className="kpi-detail">{detail}</div>
    </div>
  );
}

function ExperimentResult({ experiment }: { experiment: Experiment }) {
  const words = verdictInWords(experiment);
  return (
    <div>
      <p className={`verdict verdict-${words.tone}`}>
        <strong>{words.headline}</strong> {experiment.reason}
      </p>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th>Variant</th>
              <th className="num">Exposed</th>
              <th className="num">Converted</th>
              <th className="num">Conversion</th>
              <th className="num">Lift</th>
            </tr>
          </thead>
          <tbody>
            {experiment.variants.map((v) => {
              // the lift against the control; the control itself has none
              const comparison = experiment.comparisons.find((c) => c.variant === v.name);
              return (
                <tr key={v.name}>
                  <td>
                    {v.name}
                    {v.name === experiment.control ? <span className="muted"> (control)</span> : null}
                  </td>
                  <td className="num">{num(v.exposed)}</td>
                  <td className="num">{num(v.converted)}</td>
                  <td className="num">{pct(v.unitConversionRate)}</td>
                  <td className="num">{pct(comparison?.lift)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
