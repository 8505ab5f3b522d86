// Expand/contract classification of a migration. An "expand" migration only adds (tables,
// nullable or defaulted columns, indexes), so the previous version keeps working against the
// new schema and a rollback needs nothing from the database. A "contract" migration removes or
// changes what the previous version may still use; rolling back across it needs the database
// restored (or the change reversed by hand) first.

export type MigrationClass = 'expand' | 'contract';

export type CompatFinding = { statement: string; reason: string };

export type MigrationCompat = { name: string; class: MigrationClass; findings: CompatFinding[] };

const DESTRUCTIVE: { pattern: RegExp; reason: string }[] = [
  {
    pattern: /^DROP\s+(TABLE|VIEW|MATERIALIZED\s+VIEW|TYPE|SCHEMA|FUNCTION|SEQUENCE)\b/i,
    reason: 'drops an object',
  },
  { pattern: /^TRUNCATE\b/i, reason: 'deletes every row of a table' },
  { pattern: /^DELETE\s+FROM\b/i, reason: 'deletes rows' },
  {
    pattern: /^ALTER\s+TABLE\b[\s\S]*\bDROP\s+(COLUMN\b|(?!CONSTRAINT|DEFAULT|NOT\s+NULL|INDEX)\w)/i,
    reason: 'drops a column',
  },
  {
    pattern: /^ALTER\s+TABLE\b[\s\S]*\bRENAME\b/i,
    reason: 'renames a table or column the previous version uses',
  },
  {
    pattern: /^ALTER\s+TABLE\b[\s\S]*\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b/i,
    reason: 'changes a column type',
  },
  {
    pattern: /^ALTER\s+TABLE\b[\s\S]*\bALTER\s+(COLUMN\s+)?\S+\s+SET\s+NOT\s+NULL\b/i,
    reason: 'makes a column NOT NULL (the previous version may insert without it)',
  },
  {
    pattern:
      /^ALTER\s+TABLE\b[\s\S]*\bADD\s+(COLUMN\s+)?(?!CONSTRAINT\b)\S+\s+[^,;]*\bNOT\s+NULL\b(?![^,;]*\bDEFAULT\b)/i,
    reason: 'adds a NOT NULL column without a default (the previous version inserts without it)',
  },
  { pattern: /^ALTER\s+TABLE\b[\s\S]*\bRENAME\s+TO\b/i, reason: 'renames a table' },
  { pattern: /^ALTER\s+TYPE\b[\s\S]*\b(RENAME|DROP)\b/i, reason: 'changes an enum type' },
];

/** Splits SQL into statements, ignoring comments and the insides of strings and dollar quotes. */
export function sqlStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    if (rest.startsWith('--')) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      current += ' ';
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      current += ' ';
      continue;
    }
    const dollar = /^\$[A-Za-z_]*\$/.exec(rest);
    if (dollar) {
      const end = sql.indexOf(dollar[0], i + dollar[0].length);
      const stop = end === -1 ? sql.length : end + dollar[0].length;
      current += ' $body$ ';
      i = stop;
      continue;
    }
    const ch = sql[i]!;
    if (ch === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === "'" && sql[j + 1] !== "'")) j += sql[j] === "'" ? 2 : 1;
      current += "''";
      i = j + 1;
      continue;
    }
    if (ch === ';') {
      if (current.trim()) out.push(current.trim().replace(/\s+/g, ' '));
      current = '';
      i++;
      continue;
    }
    current += ch;
    i++;
  }
  if (current.trim()) out.push(current.trim().replace(/\s+/g, ' '));
  return out;
}

export function classifyMigration(name: string, sql: string): MigrationCompat {
  const findings: CompatFinding[] = [];
  for (const statement of sqlStatements(sql)) {
    const rule = DESTRUCTIVE.find((r) => r.pattern.test(statement));
    if (rule)
      findings.push({
        statement: statement.length > 160 ? `${statement.slice(0, 157)}…` : statement,
        reason: rule.reason,
      });
  }
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
    ...contracts.flatMap((m) => m.findings.map((f) => `  ${m.name}: ${f.reason} — ${f.statement}`)),
    'The previous version may fail against this schema: restore the pre-deployment backup (swipesavvy restore) or reverse these changes before sending traffic to it.',
  ];
}
