import Type from 'typebox';
import { Timestamp } from '../../platform/schemas.ts';

export const MetricRow = Type.Object({
  key: Type.String(),
  label: Type.String(),
  target: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()]),
  unit: Type.String(),
  state: Type.Union([
    Type.Literal('green'),
    Type.Literal('yellow'),
    Type.Literal('red'),
    Type.Literal('unknown'),
  ]),
});

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const TimelineEvent = Type.Object({
  at: Timestamp,
  kind: Type.String(),
  level: Nullable(Type.Integer()),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const Incident = Type.Object({
  id: Type.String({ format: 'uuid' }),
  rule: Type.String(),
  groupKey: Type.String(),
  title: Type.String(),
  status: Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]),
  level: Type.Integer({ minimum: 1, maximum: 3 }),
  value: Nullable(Type.Number()),
  threshold: Nullable(Type.Number()),
  openedAt: Timestamp,
  acknowledgedAt: Nullable(Timestamp),
  acknowledgedBy: Nullable(Type.String()),
  resolvedAt: Nullable(Timestamp),
  resolvedBy: Nullable(Type.String()),
  timeline: Type.Optional(Type.Array(TimelineEvent)),
});

export const Overview = Type.Object({
  metrics: Type.Array(MetricRow),
  deployments: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  incidents: Type.Array(Incident),
});

export const IncidentQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
});

export const IncidentList = Type.Object({ items: Type.Array(Incident) });
