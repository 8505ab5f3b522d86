import type { Queryable } from '../../platform/db.ts';

export type DeploymentRow = {
  id: number;
  kind: 'deploy' | 'rollback' | 'golive';
  version: string;
  previousVersion: string | null;
  mode: string;
  router: string;
  weights: Record<string, number>;
  startedAt: string;
  finishedAt: string | null;
  verdict: unknown;
  decision: string;
  rollbackMs: number | null;
  signoffs: unknown[];
  reportPath: string | null;
  detail: Record<string, unknown>;
};

const COLUMNS = `id, kind, version, previous_version AS "previousVersion", mode, router, weights,
  started_at AS "startedAt", finished_at AS "finishedAt", verdict, decision, rollback_ms AS "rollbackMs",
  signoffs, report_path AS "reportPath", detail`;

export async function insertDeployment(
  db: Queryable,
  row: Pick<
    DeploymentRow,
    'kind' | 'version' | 'previousVersion' | 'mode' | 'router' | 'weights' | 'decision'
  > & {
    startedAt: Date;
  },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO deployments (kind, version, previous_version, mode, router, weights, started_at, decision)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      row.kind,
      row.version,
      row.previousVersion,
      row.mode,
      row.router,
      JSON.stringify(row.weights),
      row.startedAt,
      row.decision,
    ],
  );
  return rows[0]!.id;
}

export async function finishDeployment(
  db: Queryable,
  id: number,
  fields: {
    decision: string;
    weights?: Record<string, number>;
    verdict?: unknown;
    rollbackMs?: number;
    signoffs?: unknown[];
    reportPath?: string;
    detail?: Record<string, unknown>;
  },
): Promise<void> {
  await db.query(
    `UPDATE deployments SET finished_at = now(), decision = $2,
       weights = COALESCE($3::jsonb, weights), verdict = COALESCE($4::jsonb, verdict),
       rollback_ms = COALESCE($5, rollback_ms), signoffs = COALESCE($6::jsonb, signoffs),
       report_path = COALESCE($7, report_path), detail = detail || COALESCE($8::jsonb, '{}')
     WHERE id = $1`,
    [
      id,
      fields.decision,
      fields.weights ? JSON.stringify(fields.weights) : null,
      fields.verdict === undefined ? null : JSON.stringify(fields.verdict),
      fields.rollbackMs === undefined ? null : Math.round(fields.rollbackMs),
      fields.signoffs ? JSON.stringify(fields.signoffs) : null,
      fields.reportPath ?? null,
      fields.detail ? JSON.stringify(fields.detail) : null,
    ],
  );
}

export async function listDeployments(db: Queryable, limit: number): Promise<DeploymentRow[]> {
  const { rows } = await db.query<DeploymentRow>(
    `SELECT ${COLUMNS} FROM deployments ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function getDeployment(db: Queryable, id: number): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow>(`SELECT ${COLUMNS} FROM deployments WHERE id = $1`, [id]);
  return rows[0];
}
