import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useDeferredValue, useState } from 'react';
import { api, unwrap } from '../api/client.ts';
import { ErrorNote, Loading } from '../components/ui.tsx';

export default function MerchantsPage() {
  const [q, setQ] = useState('');
  const [category, setCategory] = useState('');
  const [city, setCity] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const query = useDeferredValue(q);
  const cursor = cursors.at(-1);
  const merchants = useQuery({
    queryKey: ['merchants', { query, category, city, cursor }],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/merchants', {
          params: {
            query: {
              limit: 20,
              ...(query ? { q: query } : {}),
              ...(category ? { category } : {}),
              ...(city ? { city } : {}),
              ...(cursor ? { cursor } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const facets = merchants.data?.facets;
  const reset =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      set(v);
      setCursors([]);
    };
  return (
    <div className="page">
      <div className="page-head">
        <h1>Merchant network</h1>
      </div>
      <div className="filters">
        <input
          type="search"
          placeholder="Search merchants"
          aria-label="Search merchants"
          value={q}
          onChange={(e) => reset(setQ)(e.target.value)}
        />
        <select aria-label="Category" value={category} onChange={(e) => reset(setCategory)(e.target.value)}>
          <option value="">All categories</option>
          {facets?.categories.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
        <select aria-label="City" value={city} onChange={(e) => reset(setCity)(e.target.value)}>
          <option value="">All cities</option>
          {facets?.cities.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </div>
      <ErrorNote error={merchants.error} />
      {merchants.isPending ? (
        <Loading />
      ) : merchants.data?.items.length === 0 ? (
        <p className="empty">No merchant matches.</p>
      ) : (
        <ul className="cards" data-testid="merchants">
          {merchants.data?.items.map((m) => (
            <li key={m.id} className="card merchant">
              <h3>{m.name}</h3>
              <p className="muted">
                {m.category}
                {m.city ? ` · ${m.city}` : ''}
              </p>
              {m.description ? <p>{m.description}</p> : null}
              {m.tags.length ? (
                <p className="tags">
                  {m.tags.map((t) => (
                    <span key={t} className="tag">
                      {t}
                    </span>
                  ))}
                </p>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <div className="pager">
        <button
          type="button"
          className="secondary"
          disabled={!cursors.length}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!merchants.data?.nextCursor}
          onClick={() => merchants.data?.nextCursor && setCursors([...cursors, merchants.data.nextCursor])}
        >
          Next
        </button>
      </div>
    </div>
  );
}
