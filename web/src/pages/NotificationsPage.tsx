import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import {
  api,
  CHANNELS,
  type Channel,
  type Notification,
  type RecipientStatus,
  unwrap,
} from '../api/client.ts';
import { ErrorNote, Field, FormError, Loading, num, pct, StatusBadge, when } from '../components/ui.tsx';
import { onPushMessage, type PushEvent, pushSupported, subscribeToPush } from '../push.ts';

const FINAL = new Set(['delivered', 'failed', 'bounced']);
const PLACEHOLDER: Record<Channel, string> = {
  email: 'someone@example.com',
  webhook: 'https://example.com/hooks/swipesavvy',
  push: 'a PushSubscription JSON — use “Subscribe this browser”',
};

export default function NotificationsPage() {
  return (
    <div className="page">
      <div className="page-head">
        <h1>Notifications</h1>
      </div>
      <div className="grid-2">
        <SendTest />
        <DeliveryRateCard />
      </div>
      <CampaignSend />
    </div>
  );
}

function SendTest() {
  const [channel, setChannel] = useState<Channel>('email');
  const [to, setTo] = useState('');
  const [pushes, setPushes] = useState<PushEvent[]>([]);
  const [subscribeError, setSubscribeError] = useState<unknown>(null);
  useEffect(() => onPushMessage((e) => setPushes((list) => [e, ...list].slice(0, 5))), []);

  const send = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/notifications/send-test', { body: { channel, to } })),
  });
  const sent = send.data;
  const status = useQuery({
    queryKey: ['notification', sent?.id],
    queryFn: async () =>
      unwrap(await api.GET('/api/notifications/{id}/status', { params: { path: { id: sent!.id } } })),
    enabled: Boolean(sent),
    initialData: sent,
    refetchInterval: (q) => (q.state.data && FINAL.has(q.state.data.status) ? false : 1000),
  });
  const pushAvailable = pushSupported();
  const queryClient = useQueryClient();
  const finalStatus = status.data && FINAL.has(status.data.status) ? status.data.status : null;
  useEffect(() => {
    if (finalStatus) queryClient.invalidateQueries({ queryKey: ['delivery-rate'] });
  }, [finalStatus, queryClient]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    send.mutate();
  };
  const subscribePush = async () => {
    setSubscribeError(null);
    try {
      const subscription = await subscribeToPush();
      setChannel('push');
      setTo(JSON.stringify(subscription));
    } catch (error) {
      setSubscribeError(error);
    }
  };

  return (
    <section className="card">
      <h2>Send a test</h2>
      <form onSubmit={submit} noValidate className="stack">
        <Field label="Channel" field="channel" error={send.error}>
          <select name="channel" value={channel} onChange={(e) => setChannel(e.target.value as Channel)}>
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </Field>
        <Field label="Send to" field="to" error={send.error}>
          {channel === 'push' ? (
            <textarea
              name="to"
              rows={3}
              value={to}
              placeholder={PLACEHOLDER.push}
              onChange={(e) => setTo(e.target.value)}
            />
          ) : (
            <input
              name="to"
              value={to}
              placeholder={PLACEHOLDER[channel]}
              onChange={(e) => setTo(e.target.value)}
            />
          )}
        </Field>
        {channel === 'push' ? (
          pushAvailable ? (
            <button type="button" className="secondary" onClick={subscribePush}>
              Subscribe this browser
            </button>
          ) : (
            <p className="muted">This browser cannot receive web push.</p>
          )
        ) : null}
        <ErrorNote error={subscribeError} />
        <FormError error={send.error} fields={['channel', 'to']} />
        <button type="submit" disabled={send.isPending}>
          {send.isPending ? 'Sending…' : 'Send test'}
        </button>
      </form>
      {status.data ? <Receipt n={status.data} /> : null}
      {pushes.length ? (
        <div>
          <h3>Pushes this browser received</h3>
          <ul className="records">
            {pushes.map((p) => (
              <li key={`${p.kind}-${p.id}-${p.at}`}>
                {p.kind === 'push-received' ? 'shown' : 'opened'}: {p.title ?? p.id} · {when(p.at)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}

function Receipt({ n }: { n: Notification }) {
  return (
    <dl className="receipt" data-testid="receipt" data-status={n.status}>
      <dt>Status</dt>
      <dd>
        <StatusBadge status={n.status} />
      </dd>
      <dt>To</dt>
      <dd className="break">{n.recipient}</dd>
      <dt>Attempts</dt>
      <dd>{n.attempts}</dd>
      {n.receipt ? (
        <>
          <dt>Response</dt>
          <dd className="break">
            {n.receipt.responseCode ?? ''} {n.receipt.response ?? ''} ({Math.round(n.receipt.latencyMs)} ms)
          </dd>
        </>
      ) : null}
      {n.lastError ? (
        <>
          <dt>Error</dt>
          <dd className="break">{n.lastError}</dd>
        </>
      ) : null}
      <dt>Delivered</dt>
      <dd>{when(n.deliveredAt)}</dd>
    </dl>
  );
}

function DeliveryRateCard() {
  const rate = useQuery({
    queryKey: ['delivery-rate'],
    queryFn: async () => unwrap(await api.GET('/api/notifications/delivery-rate')),
    refetchInterval: 10_000,
  });
  return (
    <section className="card">
      <h2>Delivery rate</h2>
      <ErrorNote error={rate.error} />
      {rate.data ? (
        <div data-testid="delivery-rate">
          <div className="kpi-value">{pct(rate.data.rate, 2)}</div>
          <p className="muted">
            {num(rate.data.delivered)} delivered · {num(rate.data.failed)} failed · {num(rate.data.bounced)}{' '}
            bounced · {num(rate.data.pending)} pending · {num(rate.data.total)} in all
          </p>
        </div>
      ) : (
        <Loading />
      )}
    </section>
  );
}

const COUNT_KEYS = ['queued', 'sending', 'sent', 'delivered', 'failed', 'bounced'] as const;

function CampaignSend() {
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const sendId = params.get('send');
  const [campaignId, setCampaignId] = useState('');
  const [recipientStatus, setRecipientStatus] = useState<RecipientStatus | ''>('');

  const campaigns = useQuery({
    queryKey: ['campaigns', 'for-send'],
    queryFn: async () => unwrap(await api.GET('/api/campaigns', { params: { query: { limit: 100 } } })),
  });
  const prepare = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/notifications/campaign', { body: { campaignId } })),
    onSuccess: (send) => {
      queryClient.setQueryData(['send', send.id], send);
      setParams({ send: send.id }, { replace: true });
    },
  });
  const progress = useQuery({
    queryKey: ['send', sendId],
    queryFn: async () =>
      unwrap(await api.GET('/api/notifications/campaign/{id}', { params: { path: { id: sendId! } } })),
    enabled: Boolean(sendId),
    refetchInterval: (q) => (q.state.data?.status === 'sending' ? 1000 : false),
  });
  const start = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/notifications/campaign/{id}/send', { params: { path: { id: sendId! } } })),
    onSuccess: (send) => queryClient.setQueryData(['send', send.id], send),
  });
  const control = useMutation({
    mutationFn: async (action: 'pause' | 'resume' | 'cancel' | 'retry-failed') =>
      unwrap(
        await api.POST(`/api/notifications/campaign/{id}/${action}`, { params: { path: { id: sendId! } } }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['send', sendId] }),
  });
  const recipients = useQuery({
    queryKey: ['recipients', sendId, recipientStatus],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/notifications/campaign/{id}/recipients', {
          params: { path: { id: sendId! }, query: recipientStatus ? { status: recipientStatus } : {} },
        }),
      ),
    enabled: Boolean(sendId),
  });

  const s = progress.data;
  const counts = s?.counts;
  useEffect(() => {
    if (s?.status === 'completed') queryClient.invalidateQueries({ queryKey: ['delivery-rate'] });
  }, [s?.status, queryClient]);
  // the list follows the progress: when the status or a count changes, the recipients are listed again
  // (a small send goes from ready to completed between two polls of a fixed interval)
  const progressMark = s ? `${s.id} ${s.status} ${COUNT_KEYS.map((k) => counts?.[k] ?? 0).join(' ')}` : '';
  const lastMark = useRef(progressMark);
  useEffect(() => {
    const previous = lastMark.current;
    lastMark.current = progressMark;
    if (previous && progressMark && previous !== progressMark)
      queryClient.invalidateQueries({ queryKey: ['recipients', sendId] });
  }, [progressMark, sendId, queryClient]);
  return (
    <section className="card">
      <h2>Notification campaign</h2>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          prepare.mutate();
        }}
        noValidate
      >
        <select
          aria-label="Campaign"
          name="campaignId"
          value={campaignId}
          onChange={(e) => setCampaignId(e.target.value)}
        >
          <option value="">Choose a campaign…</option>
          {campaigns.data?.items.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.channel}, {c.status})
            </option>
          ))}
        </select>
        <button type="submit" disabled={!campaignId || prepare.isPending}>
          Prepare send
        </button>
      </form>
      <ErrorNote error={prepare.error} />
      {sendId && progress.isPending ? <Loading /> : null}
      <ErrorNote error={progress.error} />
      {s ? (
        <div data-testid="send-progress" data-status={s.status}>
          <p>
            <StatusBadge status={s.status} /> {num(s.recipients)} recipients on {s.channel} · created{' '}
            {when(s.createdAt)}
            {s.completedAt ? ` · completed ${when(s.completedAt)}` : ''}
          </p>
          {counts ? (
            <>
              <div className="progress" role="img" aria-label="Progress by status">
                {COUNT_KEYS.map((k) =>
                  counts[k] > 0 ? (
                    <span
                      key={k}
                      className={`progress-${k}`}
                      style={{ width: `${(counts[k] / Math.max(counts.total, 1)) * 100}%` }}
                    />
                  ) : null,
                )}
              </div>
              <ul className="counts">
                {COUNT_KEYS.map((k) => (
                  <li key={k}>
                    <span className={`dot progress-${k}`} /> {k} {num(counts[k])}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          <div className="actions">
            {s.status === 'ready' ? (
              <button type="button" onClick={() => start.mutate()} disabled={start.isPending}>
                Start sending
              </button>
            ) : null}
            {s.status === 'sending' ? (
              <button type="button" className="secondary" onClick={() => control.mutate('pause')}>
                Pause
              </button>
            ) : null}
            {s.status === 'paused' ? (
              <button type="button" className="secondary" onClick={() => control.mutate('resume')}>
                Resume
              </button>
            ) : null}
            {s.status !== 'completed' && s.status !== 'cancelled' ? (
              <button type="button" className="secondary" onClick={() => control.mutate('cancel')}>
                Cancel
              </button>
            ) : null}
            {counts && counts.failed > 0 ? (
              <button type="button" className="secondary" onClick={() => control.mutate('retry-failed')}>
                Retry {num(counts.failed)} failed
              </button>
            ) : null}
          </div>
          <ErrorNote error={start.error ?? control.error} />
          <h3>Recipients</h3>

          <select
            aria-label="Recipient status"
            value={recipientStatus}
            onChange={(e) => setRecipientStatus(e.target.value as RecipientStatus | '')}
          >
            <option value="">All</option>
            {COUNT_KEYS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
          <ErrorNote error={recipients.error} />
          {recipients.data ? (
            <div className="table-wrap">
              <table className="table responsive">
                <thead>
                  <tr>
                    <th>Recipient</th>
                    <th>Status</th>
                    <th className="num">Attempts</th>
                    <th>Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {recipients.data.items.map((r) => (
                    <tr key={r.id}>
                      <td data-label="Recipient" className="break">
                        {r.recipient}
                      </td>
                      <td data-label="Status">
                        <StatusBadge status={r.status} />
                      </td>
                      <td data-label="Attempts" className="num">
                        {num(r.attempts)}
                      </td>
                      <td data-label="Last error" className="break">
                        {r.lastError ?? ''}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
