// Expand/contract: while the old and the new version run side by side (canary, rollback), the
// schema must serve both. A pending migration that removes or reshapes what the old version
// reads or writes breaks the old version the moment it is applied.

export type CompatFinding = { line: number; kind: string; statement: string; why: string };
export type CompatReport = { contract: boolean; findings: CompatFinding[] };

/** Put this comment in a migration that is deliberately the "contract" step, run once the old version is gone. */
export const CONTRACT_MARKER = /--\s*swipesavvy:\s*contract\b/i;

const RULES: { kind: string; pattern: RegExp; why: string }[] = [
  {
    kind: 'drop-table',
    pattern: /\bDROP\s+TABLE\b/i,
    why: 'the old version still reads and writes this table',
  },
  {
    kind: 'drop-column',
    pattern:
      /\bALTER\s+TABLE\b[\s\S]*\bDROP\s+(?:COLUMN\s+)?(?!CONSTRAINT\b|DEFAULT\b|NOT\s+NULL\b|IDENTITY\b|EXPRESSION\b)[\w"]+/i,
    why: 'the old version still selects or inserts this column',
  },
  { kind: 'rename', pattern: /\bRENAME\b/i, why: 'the old version uses the old name' },
  {
    kind: 'alter-type',
    pattern: /\bALTER\s+COLUMN\s+[\w"]+\s+(?:SET\s+DATA\s+)?TYPE\b|^\s*ALTER\s+TYPE\b/im,
    why: 'values the old version writes may no longer fit, and the rewrite locks the table',
  },
  {
    kind: 'set-not-null',
    pattern: /\bSET\s+NOT\s+NULL\b/i,
    why: 'the old version may insert rows without this column',
  },
  { kind: 'truncate', pattern: /\bTRUNCATE\b/i, why: 'data the old version serves disappears' },
  {
    kind: 'drop-object',
    pattern: /\bDROP\s+(?:VIEW|FUNCTION|TYPE|SCHEMA|MATERIALIZED\s+VIEW)\b/i,
    why: 'the old version may call it',
  },
];

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
      if (rule.pattern.test(statement))
        findings.push({ line, kind: rule.kind, statement: compact.slice(0, 160), why: rule.why });
    }
    for (const m of statement.matchAll(ADD_NOT_NULL)) {
      if (!/\bDEFAULT\b/i.test(m[0]) && !/\bGENERATED\b/i.test(m[0])) {
        findings.push({
          line,
          kind: 'add-not-null-without-default',
          statement: compact.slice(0, 160),
          why: 'the old version inserts rows without this column, and existing rows have no value',
        });
      }
    }
  }
  return { contract: CONTRACT_MARKER.test(sql), findings };
}
