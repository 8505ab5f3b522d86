import { useQuery } from '@tanstack/react-query';
import { CRITICAL_METRICS, type Threshold } from '../../../src/ops/thresholds.ts';
import { api, type OpsMetric, unwrap } from '../api/client.ts';
import { ErrorNote, Loading } from '../components/ui.tsx';

const LIGHT = { green: '🟢', yellow: '🟡', red: '🔴', unknown: '⚪' } as const;
const REFRESH_MS = 5_000;

function formatValue(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined) return '—';
  if (unit === 'ratio') return `${(value * 100).toFixed(value < 0.01 ? 2 : 1)} %`;
  if (unit === 'ms') return `${Math.round(value)} ms`;
  if (unit === 'seconds') return `${value.toFixed(1)} s`;
  return value.toLocaleString('en-US');
}

function target(t: Threshold): string {
  return `${t.direction === 'below' ? '<' : '>'} ${formatValue(t.green, t.unit)}`;
}

export default function OpsPage() {
  const status = useQuery({
    queryKey: ['status'],
    queryFn: async () => unwrap(await api.GET('/api/status')),
    refetchInterval: REFRESH_MS,
  });
  const overview = useQuery({
    queryKey: ['ops-overview'],
    queryFn: async () => unwrap(await api.GET('/api/ops/overview')),
    refetchInterval: REFRESH_MS,
  });

  const live = new Map<string, OpsMetric>((overview.data?.metrics ?? []).map((m) => [m.key, m]));
  const rows = CRITICAL_METRICS.map((t) => ({ threshold: t, live: live.get(t.key) }));
  for (const m of overview.data?.metrics ?? [])
    if (!CRITICAL_METRICS.some((t) => t.key === m.key)) rows.push({ threshold: undefined as never, live: m });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Operations</h1>
        <span className="muted">Refreshes every {REFRESH_MS / 1000} s</span>
      </div>

      <section className="card">
        <h2>
          Services{' '}
          {status.data ? (
            <span className={`badge badge-${status.data.status}`}>{status.data.status}</span>
          ) : null}
        </h2>
        <ErrorNote error={status.error} />
        {status.data ? (
          <ul className="services" data-testid="services">
            {Object.entries(status.data.services).map(([name, state]) => (
              <li key={name} className={`service service-${state}`}>
                <span>{state === 'running' ? LIGHT.green : state === 'down' ? LIGHT.red : LIGHT.yellow}</span>{' '}
                {name}
                <span className="muted"> {state}</span>
              </li>
            ))}
          </ul>
        ) : (
          <Loading />
        )}
        {status.data ? <p className="muted">Version {status.data.version}</p> : null}
      </section>

      <section className="card">
        <h2>Critical metrics</h2>
        <ErrorNote error={overview.error} />
        <div className="table-wrap">
          <table className="table responsive" data-testid="critical-metrics">
            <thead>
              <tr>
                <th>State</th>
                <th>Metric</th>
                <th className="num">Value</th>
                <th>Target</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ threshold, live: m }) => (
                <tr key={threshold?.key ?? m?.key}>
                  <td data-label="State">
                    {m ? LIGHT[m.state] : '⚪'} <span className="muted">{m?.state ?? 'not measured'}</span>
                  </td>
                  <td data-label="Metric" title={threshold?.source}>
                    {threshold?.label ?? m?.label}
                  </td>
                  <td data-label="Value" className="num">
                    {formatValue(m?.value, m?.unit ?? threshold?.unit ?? '')}
                  </td>
                  <td data-label="Target">{threshold ? target(threshold) : String(m?.target ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <div className="grid-2">
        <section className="card">
          <h2>Recent deployments</h2>
          <Records items={overview.data?.deployments} empty="No deployment recorded." />
        </section>
        <section className="card">
          <h2>Incidents</h2>
          <Records items={overview.data?.incidents} empty="No incident." />
        </section>
      </div>
    </div>
  );
}

/** Records whose exact fields the operations service decides: shown as their key facts. */
function Records({ items, empty }: { items: Record<string, unknown>[] | undefined; empty: string }) {
  if (!items) return <Loading />;
  if (items.length === 0) return <p className="empty">{empty}</p>;
  return (
    <ul className="records">
      {items.slice(0, 20).map((item, i) => (
        <li key={String(item['id'] ?? i)}>
          {Object.entries(item)
            .filter(([, v]) => v !== null && typeof v !== 'object')
            .slice(0, 6)
            .map(([k, v]) => (
              <span key={k} className="record-field">
                <span className="muted">{k}</span> {String(v)}
              </span>
            ))}
        </li>
      ))}
    </ul>
  );
}
