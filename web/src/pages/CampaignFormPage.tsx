import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, type Campaign, type CampaignBody, CHANNELS, type Channel, unwrap } from '../api/client.ts';
import { ErrorNote, Field, FormError, Loading } from '../components/ui.tsx';

type VariantRow = { name: string; weight: string; subject: string; body: string; offer: string };
type SegmentKey = 'city' | 'ageBand' | 'device' | 'tier';
const SEGMENT_KEYS: [SegmentKey, string][] = [
  ['city', 'Cities'],
  ['ageBand', 'Age bands'],
  ['device', 'Devices'],
  ['tier', 'Tiers'],
];

type FormState = {
  name: string;
  description: string;
  channel: Channel;
  budget: string;
  unitCost: string;
  rewardRate: string;
  holdoutPct: string;
  status: 'draft' | 'scheduled' | 'running';
  segment: Record<SegmentKey, string>;
  variants: VariantRow[];
};

const emptyVariant = (name: string): VariantRow => ({ name, weight: '1', subject: '', body: '', offer: '' });

const blank: FormState = {
  name: '',
  description: '',
  channel: 'email',
  budget: '',
  unitCost: '',
  rewardRate: '',
  holdoutPct: '',
  status: 'draft',
  segment: { city: '', ageBand: '', device: '', tier: '' },
  variants: [emptyVariant('A')],
};

function fromCampaign(c: Campaign): FormState {
  return {
    name: c.name,
    description: c.description,
    channel: c.channel,
    budget: String(c.budget),
    unitCost: String(c.unitCost),
    rewardRate: String(c.rewardRate),
    holdoutPct: String(c.holdoutPct),
    status: 'draft',
    segment: {
      city: c.segment.city?.join(', ') ?? '',
      ageBand: c.segment.ageBand?.join(', ') ?? '',
      device: c.segment.device?.join(', ') ?? '',
      tier: c.segment.tier?.join(', ') ?? '',
    },
    variants: c.variants.map((v) => ({
      name: v.name,
      weight: String(v.weight),
      subject: v.content['subject'] ?? '',
      body: v.content['body'] ?? '',
      offer: v.content['offer'] ?? '',
    })),
  };
}

// Numbers are sent as typed: an empty or non-numeric entry goes to the API as is, so its own
// validation message appears next to the field rather than a guess made here.
const numberOrRaw = (v: string): number =>
  v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : (v as unknown as number);

function toBody(f: FormState): CampaignBody {
  const segment: NonNullable<CampaignBody['segment']> = {};
  for (const [key] of SEGMENT_KEYS) {
    const values = f.segment[key]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (values.length) segment[key] = [...new Set(values)];
  }
  return {
    name: f.name,
    description: f.description,
    channel: f.channel,
    budget: numberOrRaw(f.budget),
    ...(f.unitCost !== '' ? { unitCost: numberOrRaw(f.unitCost) } : {}),
    ...(f.rewardRate !== '' ? { rewardRate: numberOrRaw(f.rewardRate) } : {}),
    ...(f.holdoutPct !== '' ? { holdoutPct: numberOrRaw(f.holdoutPct) } : {}),
    segment,
    variants: f.variants.map((v) => {
      const content: Record<string, string> = {};
      if (v.subject) content['subject'] = v.subject;
      if (v.body) content['body'] = v.body;
      if (v.offer) content['offer'] = v.offer;
      return { name: v.name, weight: numberOrRaw(v.weight), content };
    }),
  };
}

const FIELDS = [
  'name',
  'description',
  'channel',
  'budget',
  'unitCost',
  'rewardRate',
  'holdoutPct',
  'segment',
  'variants',
  'status',
];

export default function CampaignFormPage() {
  const { id } = useParams();
  const editing = Boolean(id);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<FormState>(blank);

  const existing = useQuery({
    queryKey: ['campaign', id],
    queryFn: async () => unwrap(await api.GET('/api/campaigns/{id}', { params: { path: { id: id! } } })),
    enabled: editing,
  });
  // filled once per campaign: a background refetch must not overwrite what the user is typing
  const [filledFor, setFilledFor] = useState<string | null>(null);
  useEffect(() => {
    if (existing.data && filledFor !== existing.data.id) {
      setForm(fromCampaign(existing.data));
      setFilledFor(existing.data.id);
    }
  }, [existing.data, filledFor]);

  const save = useMutation({
    mutationFn: async () => {
      const body = toBody(form);
      if (editing)
        return unwrap(await api.PUT('/api/campaigns/{id}', { params: { path: { id: id! } }, body }));
      return unwrap(await api.POST('/api/campaigns', { body: { ...body, status: form.status } }));
    },
    onSuccess: (campaign) => {
      queryClient.invalidateQueries({ queryKey: ['campaigns'] });
      queryClient.setQueryData(['campaign', campaign.id], campaign);
      navigate(`/campaigns/${campaign.id}`);
    },
  });

  if (editing && existing.isPending) return <Loading />;
  if (editing && existing.error) return <ErrorNote error={existing.error} />;

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setForm({ ...form, [key]: value });
  const setVariant = (i: number, patch: Partial<VariantRow>) =>
    set(
      'variants',
      form.variants.map((v, j) => (i === j ? { ...v, ...patch } : v)),
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const err = save.error;

  return (
    <div className="page">
      <div className="page-head">
        <h1>{editing ? `Edit ${existing.data?.name ?? 'campaign'}` : 'New campaign'}</h1>
        <Link to={editing ? `/campaigns/${id}` : '/campaigns'}>Cancel</Link>
      </div>
      <form className="card form-grid" onSubmit={submit} noValidate>
        <Field label="Name" field="name" error={err}>
          <input name="name" value={form.name} onChange={(e) => set('name', e.target.value)} />
        </Field>
        <Field label="Channel" field="channel" error={err}>
          <select
            name="channel"
            value={form.channel}
            onChange={(e) => set('channel', e.target.value as Channel)}
          >
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </Field>
        <Field label="Budget (USD)" field="budget" error={err}>
          <input
            name="budget"
            inputMode="decimal"
            value={form.budget}
            onChange={(e) => set('budget', e.target.value)}
          />
        </Field>
        <Field label="Cost per message" field="unitCost" error={err}>
          <input
            name="unitCost"
            inputMode="decimal"
            value={form.unitCost}
            onChange={(e) => set('unitCost', e.target.value)}
          />
        </Field>
        <Field label="Reward rate (0–1)" field="rewardRate" error={err}>
          <input
            name="rewardRate"
            inputMode="decimal"
            value={form.rewardRate}
            onChange={(e) => set('rewardRate', e.target.value)}
          />
        </Field>
        <Field label="Holdout %" field="holdoutPct" error={err}>
          <input
            name="holdoutPct"
            inputMode="decimal"
            value={form.holdoutPct}
            onChange={(e) => set('holdoutPct', e.target.value)}
          />
        </Field>
        {!editing ? (
          <Field label="Start as" field="status" error={err}>
            <select
              name="status"
              value={form.status}
              onChange={(e) => set('status', e.target.value as FormState['status'])}
            >
              <option value="draft">draft</option>
              <option value="scheduled">scheduled</option>
              <option value="running">running</option>
            </select>
          </Field>
        ) : null}
        <Field label="Description" field="description" error={err}>
          <textarea
            name="description"
            rows={2}
            value={form.description}
            onChange={(e) => set('description', e.target.value)}
          />
        </Field>

        <fieldset className="wide">
          <legend>Audience segment</legend>
          <p className="hint">Comma-separated values; leave empty to reach everyone.</p>
          <div className="form-grid">
            {SEGMENT_KEYS.map(([key, label]) => (
              <Field key={key} label={label} field={`segment/${key}`} error={err}>
                <input
                  name={`segment.${key}`}
                  value={form.segment[key]}
                  onChange={(e) => set('segment', { ...form.segment, [key]: e.target.value })}
                />
              </Field>
            ))}
          </div>
        </fieldset>

        <fieldset className="wide">
          <legend>Variants (A/B)</legend>
          {form.variants.map((v, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place and have no id of their own
            <div className="variant-row" key={i}>
              <Field label="Name" field={`variants/${i}/name`} error={err}>
                <input
                  name={`variants.${i}.name`}
                  value={v.name}
                  onChange={(e) => setVariant(i, { name: e.target.value })}
                />
              </Field>
              <Field label="Weight" field={`variants/${i}/weight`} error={err}>
                <input
                  inputMode="numeric"
                  value={v.weight}
                  onChange={(e) => setVariant(i, { weight: e.target.value })}
                />
              </Field>
              <Field label="Subject" field={`variants/${i}/content/subject`} error={err}>
                <input value={v.subject} onChange={(e) => setVariant(i, { subject: e.target.value })} />
              </Field>
              <Field label="Offer" field={`variants/${i}/content/offer`} error={err}>
                <input value={v.offer} onChange={(e) => setVariant(i, { offer: e.target.value })} />
              </Field>
              <Field label="Message" field={`variants/${i}/content/body`} error={err}>
                <textarea rows={2} value={v.body} onChange={(e) => setVariant(i, { body: e.target.value })} />
              </Field>
              <button
                type="button"
                className="secondary"
                disabled={form.variants.length === 1}
                onClick={() =>
                  set(
                    'variants',
                    form.variants.filter((_, j) => j !== i),
                  )
                }
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            className="secondary"
            onClick={() =>
              set('variants', [
                ...form.variants,
                emptyVariant(String.fromCharCode(65 + form.variants.length)),
              ])
            }
          >
            Add variant
          </button>
        </fieldset>

        <div className="wide">
          <FormError error={err} fields={FIELDS} />
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : editing ? 'Save changes' : 'Create campaign'}
          </button>
        </div>
      </form>
    </div>
  );
}
