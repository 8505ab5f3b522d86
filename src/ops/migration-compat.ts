// Expand/contract: while the old and the new version run side by side (canary, rollback), the
// schema must serve both. A pending migration that removes or reshapes what the old version
// reads or writes breaks the old version the moment it is applied.

export type CompatFinding = { line: number; kind: string; statement: string; why: string; reason: string };
/** `contract`: the migration says it is the deliberate contract step (see CONTRACT_MARKER). */
export type CompatReport = { contract: boolean; findings: CompatFinding[] };
export type MigrationClass = 'expand' | 'contract';
export type MigrationCompat = { name: string; class: MigrationClass; findings: CompatFinding[] };

/** Put this comment in a migration that is deliberately the "contract" step, run once the old version is gone. */
export const CONTRACT_MARKER = /--\s*swipesavvy:\s*contract\b/i;

// kind: a stable name; reason: what the statement does; why: what that means for the old version
const RULES: { kind: string; pattern: RegExp; reason: string; why: string }[] = [
  {
    kind: 'drop-table',
    pattern: /\bDROP\s+TABLE\b/i,
    reason: 'drops an object (a table)',
    why: 'the old version still reads and writes this table',
  },
  {
    kind: 'drop-column',
    pattern:
      /\bALTER\s+TABLE\b[\s\S]*\bDROP\s+(?:COLUMN\s+)?(?!CONSTRAINT\b|DEFAULT\b|NOT\s+NULL\b|IDENTITY\b|EXPRESSION\b)[\w"]+/i,
    reason: 'drops a column',
    why: 'the old version still selects or inserts this column',
  },
  {
    kind: 'rename',
    pattern: /\bRENAME\b/i,
    reason: 'renames a table or column the previous version uses',
    why: 'the old version uses the old name',
  },
  {
    kind: 'alter-type',
    pattern: /\bALTER\s+COLUMN\s+[\w"]+\s+(?:SET\s+DATA\s+)?TYPE\b|^\s*ALTER\s+TYPE\b/im,
    reason: 'changes a column type (or an enum type)',
    why: 'values the old version writes may no longer fit, and the rewrite locks the table',
  },
  {
    kind: 'set-not-null',
    pattern: /\bSET\s+NOT\s+NULL\b/i,
    reason: 'makes a column NOT NULL',
    why: 'the old version may insert rows without this column',
  },
  {
    kind: 'truncate',
    // the statement itself (TRUNCATE [TABLE] …), not a trigger that fires on one
    pattern: /^\s*TRUNCATE\b/i,
    reason: 'deletes every row of a table',
    why: 'data the old version serves disappears',
  },
  {
    kind: 'delete',
    pattern: /^\s*DELETE\s+FROM\b/i,
    reason: 'deletes rows',
    why: 'data the old version serves disappears',
  },
  {
    kind: 'drop-object',
    pattern: /\bDROP\s+(?:VIEW|FUNCTION|TYPE|SCHEMA|SEQUENCE|MATERIALIZED\s+VIEW)\b/i,
    reason: 'drops an object',
    why: 'the old version may call it',
  },
];

// A generated column dropped and added again in the same ALTER TABLE, to have every row's
// value computed anew (PostgreSQL before 17 has no SET EXPRESSION): no release ever writes a
// generated column, and the statement's lock keeps the old version from reading between the
// drop and the add, so that version finds the column as before.
const DROPPED_COLUMN =
  /\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?!CONSTRAINT\b|DEFAULT\b|NOT\s+NULL\b|IDENTITY\b|EXPRESSION\b)([\w"]+)/gi;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function regeneratesEveryDroppedColumn(statement: string): boolean {
  const dropped = [...statement.matchAll(DROPPED_COLUMN)].map((m) => m[1]!);
  return (
    dropped.length > 0 &&
    dropped.every((name) =>
      new RegExp(
        `\\bADD\\s+(?:COLUMN\\s+)?${escapeRegExp(name)}\\s[^,;]*\\bGENERATED\\s+ALWAYS\\s+AS\\s*\\(`,
        'i',
      ).test(statement),
    )
  );
}

const ADD_NOT_NULL = /\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?[\w"]+\s+[^,;]*\bNOT\s+NULL\b[^,;]*/gi;

/** Blanks out comments and string/dollar-quoted bodies, keeping line breaks so line numbers hold. */
function blank(sql: string): string {
  const keepLines = (s: string) => s.replace(/[^\n]/g, ' ');
  return sql
    .replace(/\$(\w*)\$[\s\S]*?\$\1\$/g, keepLines)
    .replace(/'(?:[^']|'')*'/g, keepLines)
    .replace(/\/\*[\s\S]*?\*\//g, keepLines)
    .replace(/--[^\n]*/g, keepLines);
}

export function analyzeMigration(sql: string): CompatReport {
  const text = blank(sql);
  const findings: CompatFinding[] = [];
  let offset = 0;
  for (const statement of text.split(';')) {
    const lead = statement.length - statement.trimStart().length;
    const line = text.slice(0, offset + lead).split('\n').length;
    const compact = statement.replace(/\s+/g, ' ').trim();
    offset += statement.length + 1;
    if (!compact) continue;
    for (const rule of RULES) {
      if (rule.kind === 'drop-column' && regeneratesEveryDroppedColumn(statement)) continue;
      if (rule.pattern.test(statement))
        findings.push({
          line,
          kind: rule.kind,
          statement: compact.slice(0, 160),
          reason: rule.reason,
          why: rule.why,
        });
    }
    for (const m of statement.matchAll(ADD_NOT_NULL)) {
      if (!/\bDEFAULT\b/i.test(m[0]) && !/\bGENERATED\b/i.test(m[0])) {
        findings.push({
          line,
          kind: 'add-not-null-without-default',
          statement: compact.slice(0, 160),
          reason: 'adds a NOT NULL column without a default',
          why: 'the old version inserts rows without this column, and existing rows have no value',
        });
      }
    }
  }
  return { contract: CONTRACT_MARKER.test(sql), findings };
}

/** The expand/contract class of a migration, as preflight and rollback report it. */
export function classifyMigration(name: string, sql: string): MigrationCompat {
  const { findings } = analyzeMigration(sql);
  return { name, class: findings.length > 0 ? 'contract' : 'expand', findings };
}

/** What a rollback to the previous version needs from the database, in words an operator can act on. */
export function rollbackAdvice(migrations: MigrationCompat[]): string[] {
  const contracts = migrations.filter((m) => m.class === 'contract');
  if (contracts.length === 0) {
    return migrations.length === 0
      ? ['No migration was applied by this release: the database needs nothing.']
      : [
          `The ${migrations.length} migration(s) applied by this release only expand the schema (${migrations.map((m) => m.name).join(', ')}): the previous version runs against it as it is; the database needs nothing.`,
        ];
  }
  return [
    `${contracts.length} migration(s) applied by this release are not backward compatible:`,
    ...contracts.flatMap((m) =>
      m.findings.map((f) => `  ${m.name} line ${f.line}: ${f.reason} — ${f.statement}`),
    ),
    'The previous version may fail against this schema: restore the pre-deployment backup (swipesavvy restore) or reverse these changes before sending traffic to it.',
  ];
}
