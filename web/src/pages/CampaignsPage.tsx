import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, CAMPAIGN_STATUSES, type CampaignStatus, unwrap } from '../api/client.ts';
import { ErrorNote, Loading, money, StatusBadge, when } from '../components/ui.tsx';

const PAGE_SIZE = 10;

export default function CampaignsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const status = (params.get('status') ?? '') as CampaignStatus | '';
  const [text, setText] = useState(q);
  // cursors of the pages before this one, so "Previous" can go back
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);

  useEffect(() => {
    const t = setTimeout(() => {
      if (text === q) return;
      const next = new URLSearchParams(params);
      if (text) next.set('q', text);
      else next.delete('q');
      setParams(next, { replace: true });
      setCursors([]);
    }, 300);
    return () => clearTimeout(t);
  }, [text, q, params, setParams]);

  const list = useQuery({
    queryKey: ['campaigns', { q, status, cursor }],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/campaigns', {
          params: {
            query: {
              limit: PAGE_SIZE,
              ...(q ? { q } : {}),
              ...(status ? { status } : {}),
              ...(cursor ? { cursor } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const setStatus = (value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set('status', value);
    else next.delete('status');
    setParams(next, { replace: true });
    setCursors([]);
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Campaigns</h1>
        <Link className="button" to="/campaigns/new">
          New campaign
        </Link>
      </div>
      <div className="filters">
        <input
          type="search"
          placeholder="Search by name"
          aria-label="Search campaigns"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">All statuses</option>
          {CAMPAIGN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={list.error} />
      {list.isPending ? (
        <Loading />
      ) : list.data && list.data.items.length === 0 ? (
        <p className="empty">No campaigns match. Create one to get started.</p>
      ) : (
        <div className="table-wrap">
          <table className="table responsive" data-testid="campaign-list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Channel</th>
                <th className="num">Budget</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((c) => (
                <tr key={c.id}>
                  <td data-label="Name">
                    <Link to={`/campaigns/${c.id}`}>{c.name}</Link>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={c.status} />
                  </td>
                  <td data-label="Channel">{c.channel}</td>
                  <td data-label="Budget" className="num">
                    {money(c.budget)}
                  </td>
                  <td data-label="Updated">{when(c.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        <button
          type="button"
          className="secondary"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
        <button
          type="button"
          className="secondary"
          disabled={!list.data?.nextCursor}
          onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}
        >
          Next
        </button>
      </div>
    </div>
  );
}
