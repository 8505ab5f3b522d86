import type { GoliveReport } from './golive.service.ts';

const mark = { pass: '✅', fail: '❌', skipped: '⏭️', warn: '⚠️' } as const;

/** The deployment report for people: decision, sign-offs, timeline, verdict with raw values. */
export function renderMarkdown(r: GoliveReport): string {
  const lines = [
    `# Go-live report: SwipeSavvy ${r.version}`,
    '',
    `- **Decision:** ${r.decision.toUpperCase()}${r.reason ? ` — ${r.reason}` : ''}`,
    `- **Previous version:** ${r.previousVersion ?? 'n/a'}`,
    `- **Started:** ${r.startedAt}  **Finished:** ${r.finishedAt}`,
    `- **Deployment record:** #${r.deploymentId}`,
    '',
    '## Sign-offs',
    '',
    ...(r.signoffs.length
      ? [
          '| role | name | at |',
          '|---|---|---|',
          ...r.signoffs.map((s) => `| ${s.role} | ${s.name} | ${s.at} |`),
        ]
      : ['none recorded']),
    '',
    '## Timeline',
    '',
    '| phase | status | ms | detail |',
    '|---|---|---:|---|',
    ...r.timeline.map(
      (t) =>
        `| ${t.phase} | ${mark[t.status]} ${t.status} | ${t.ms} | ${t.detail.replaceAll('|', '\\|').replaceAll('\n', ' ')} |`,
    ),
    '',
  ];
  if (r.verdict) {
    lines.push(
      '## Canary analysis',
      '',
      `Verdict **${r.verdict.decision.toUpperCase()}** at confidence ${r.verdict.confidence}, window ${r.verdict.windowSeconds}s.`,
      '',
      '| metric | stable | canary | status | limit | detail |',
      '|---|---:|---:|---|---|---|',
      ...r.verdict.metrics.map(
        (m) =>
          `| ${m.label} | ${m.stable ?? 'n/a'} | ${m.canary ?? 'n/a'} | ${m.status} | ${m.limit} | ${m.detail} |`,
      ),
      '',
    );
  }
  if (r.smoke) {
    lines.push(
      '## Smoke tests',
      '',
      `${r.smoke.passed}/${r.smoke.total} passed — ${r.smoke.decision}`,
      '',
      '| test | status | ms | budget |',
      '|---|---|---:|---:|',
      ...r.smoke.results.map((t) => `| ${t.id} ${t.name} | ${t.status} | ${t.ms} | ${t.budgetMs} |`),
      '',
    );
  }
  if (r.watch) {
    lines.push(
      '## Stabilisation watch',
      '',
      `${r.watch.requests} requests, error rate ${(r.watch.errorRate * 100).toFixed(2)} %, p99 ${r.watch.p99Ms.toFixed(1)} ms`,
      '',
    );
  }
  if (r.rollback) {
    lines.push(
      '## Rollback',
      '',
      `Traffic back on ${r.rollback.to} in **${r.rollback.rollbackMs} ms**; ${r.rollback.from.join(', ')} drained and stopped after ${r.rollback.drainMs} ms.`,
      '',
      ...r.rollback.databaseAdvice.map((a) => `- ${a}`),
      '',
    );
  }
  for (const a of r.announcements)
    lines.push(`## Announcement (${a.audience}, ${a.channel}): ${a.subject}`, '', '```', a.text, '```', '');
  return `${lines.join('\n')}\n`;
}
