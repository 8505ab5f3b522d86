import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../api/client.ts';
import { ErrorNote, Loading, when } from '../components/ui.tsx';

export default function MailboxPage() {
  const [openId, setOpenId] = useState<string | null>(null);
  const mailbox = useQuery({
    queryKey: ['mailbox'],
    queryFn: async () => unwrap(await api.GET('/api/mailbox', { params: { query: { limit: 50 } } })),
    refetchInterval: 5_000,
  });
  if (mailbox.isPending) return <Loading />;
  if (mailbox.error) return <ErrorNote error={mailbox.error} />;
  const open = mailbox.data.items.find((m) => m.id === openId);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Local mailbox</h1>
        <span className="muted">Emails the platform sent, as the built-in SMTP server received them</span>
      </div>
      {mailbox.data.items.length === 0 ? (
        <p className="empty">No email yet. Send a test notification on the email channel.</p>
      ) : (
        <div className="mailbox">
          <ul className="mail-list" data-testid="mail-list">
            {mailbox.data.items.map((m) => (
              <li key={m.id}>
                <button
                  type="button"
                  className={`mail-item${m.id === openId ? ' active' : ''}`}
                  onClick={() => setOpenId(m.id)}
                >
                  <span className="mail-subject">{m.subject || '(no subject)'}</span>
                  <span className="muted">
                    to {m.to.join(', ')} · {when(m.receivedAt)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          <article className="card mail-view">
            {open ? (
              <>
                <h2>{open.subject || '(no subject)'}</h2>
                <p className="muted">
                  From {open.from} to {open.to.join(', ')} · {when(open.receivedAt)} · {open.sizeBytes} bytes
                </p>
                <pre className="mail-body">{open.text}</pre>
              </>
            ) : (
              <p className="muted">Choose a message to read it.</p>
            )}
          </article>
        </div>
      )}
    </div>
  );
}
