import type { ReactNode } from 'react';
import { ApiError } from '../api/client.ts';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      {label}
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div className="error-note" role="alert">
      {message}
      {code ? <span className="code"> ({code})</span> : null}
    </div>
  );
}

/** A labelled input with the API's messages for that field right under it. */
export function Field({
  label,
  error,
  field,
  children,
  hint,
}: {
  label: string;
  error?: unknown;
  field: string;
  children: ReactNode;
  hint?: string;
}) {
  const messages = error instanceof ApiError ? error.fieldMessages(field) : [];
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is the children, inside the label
    <label className={`field${messages.length ? ' invalid' : ''}`}>
      <span className="field-label">{label}</span>
      {children}
      {hint ? <span className="hint">{hint}</span> : null}
      {messages.map((m) => (
        <span key={m} className="field-error" role="alert" data-field-error={field}>
          {m}
        </span>
      ))}
    </label>
  );
}

/** The form-level problem, for errors no field claims. */
export function FormError({ error, fields }: { error: unknown; fields: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.errors.length > 0) {
    const claimed = fields.some((f) => error.fieldMessages(f).length > 0);
    if (claimed)
      return (
        <div className="error-note" role="alert">
          {error.message}
        </div>
      );
  }
  return <ErrorNote error={error} />;
}

export const pct = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)} %`;
export const money = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : v.toLocaleString('en-US', { style: 'currency', currency: 'USD' });
export const num = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : v.toLocaleString('en-US');
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
