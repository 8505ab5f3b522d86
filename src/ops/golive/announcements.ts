// The runbooks' announcement texts (execution guide phase 5, coordinator guide "External
// Communication") as templates filled from the go-live's measured values.

export type AnnouncementFacts = {
  version: string;
  at: Date;
  smoke: { passed: number; total: number } | undefined;
  errorRate: number | undefined;
  p99Ms: number | undefined;
  rolledBack: boolean;
  reason?: string;
};

export type Announcement = {
  audience: 'internal' | 'customer';
  channel: string;
  subject: string;
  text: string;
};

const RULE = '━'.repeat(41);
const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16);
const pct = (r: number | undefined) => (r === undefined ? 'n/a' : `${(r * 100).toFixed(2)}%`);

export function renderAnnouncements(f: AnnouncementFacts): Announcement[] {
  if (f.rolledBack) {
    return [
      {
        audience: 'internal',
        channel: '#go-live',
        subject: `SwipeSavvy ${f.version}: rolled back`,
        text: [
          RULE,
          `⏪ SWIPESAVVY ${f.version} WAS ROLLED BACK`,
          '',
          `Reason: ${f.reason ?? 'a go-live gate failed'}`,
          'The previous stable version serves all traffic.',
          `Time: ${when(f.at)} UTC`,
          RULE,
        ].join('\n'),
      },
      {
        audience: 'customer',
        channel: 'email',
        subject: "Scheduled Maintenance - We're Back!",
        text: [
          'We apologize for the brief interruption.',
          '',
          'We were deploying important upgrades and have rolled back',
          'to the previous stable version. All systems are now operational.',
          '',
          "We'll try again after further testing.",
          '',
          'Thank you for your patience!',
          '',
          'The SwipeSavvy Team',
        ].join('\n'),
      },
    ];
  }
  return [
    {
      audience: 'internal',
      channel: '#go-live',
      subject: `SwipeSavvy ${f.version} is live`,
      text: [
        RULE,
        '🚀 SWIPESAVVY IS NOW LIVE IN PRODUCTION!',
        '',
        '✅ Deployment: SUCCESSFUL',
        `✅ Smoke Tests: ${f.smoke ? `${f.smoke.passed}/${f.smoke.total} PASS` : 'skipped'}`,
        `✅ Error Rate: ${pct(f.errorRate)}`,
        `✅ Response Time: p99 ${f.p99Ms === undefined ? 'n/a' : `${Math.round(f.p99Ms)}ms`}`,
        '✅ All Systems: OPERATIONAL',
        '',
        'Starting 24/7 Production Monitoring',
        `Version: ${f.version} | Time: ${when(f.at)} UTC`,
        '',
        '@channel Celebrate! 🎉',
        RULE,
      ].join('\n'),
    },
    {
      audience: 'customer',
      channel: 'email',
      subject: 'SwipeSavvy is Now Live!',
      text: [
        'Dear Valued Customer,',
        '',
        "We're excited to announce that SwipeSavvy",
        'is now live in production!',
        '',
        `New in ${f.version}:`,
        '  ✅ Real-time push notifications',
        '  ✅ Campaign management with A/B testing',
        '  ✅ Merchant network discovery',
        '  ✅ Real-time performance metrics',
        '',
        'Support:',
        '  support@swipesavvy.com',
        '  Available 24/7',
        '',
        'Thank you for your patience!',
        'The SwipeSavvy Team',
      ].join('\n'),
    },
  ];
}

/** Posts each announcement to each webhook (Slack-compatible `text` plus the structured fields). */
export async function postAnnouncements(
  urls: string[],
  announcements: Announcement[],
): Promise<{ url: string; audience: string; status: number | string }[]> {
  const results: { url: string; audience: string; status: number | string }[] = [];
  for (const url of urls) {
    for (const a of announcements) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...a, body: a.text, text: `*${a.subject}*\n${a.text}` }),
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        results.push({ url, audience: a.audience, status: res.status });
      } catch (error) {
        results.push({ url, audience: a.audience, status: (error as Error).message });
      }
    }
  }
  return results;
}
