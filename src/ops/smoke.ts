import { randomBytes } from 'node:crypto';
import { countUsers, runIntegrityCheck } from '../modules/integrity/integrity.service.ts';
import type { Queryable } from '../platform/db.ts';

/** The runbook's 20 smoke tests (execution guide, phase 4), each with the seed's time budget. */
export type SmokeResult = {
  id: string;
  name: string;
  status: 'pass' | 'fail';
  ms: number;
  budgetMs: number;
  detail: string;
};

export type SmokeReport = {
  baseUrl: string;
  startedAt: string;
  durationMs: number;
  passed: number;
  total: number;
  /** the seed's rule: 20/20 proceed, 19/20 review the failure, fewer roll back */
  decision: 'proceed' | 'review' | 'rollback';
  results: SmokeResult[];
};

export type SmokeOptions = {
  baseUrl: string;
  /** the database the CLI is configured with, for tests 6.1 and 6.2 */
  database?: () => Promise<Queryable>;
  /** where test 5.1 sends: defaults to email to the throwaway user */
  notify?: { channel: 'email' | 'webhook'; to: string };
  /** multiplies every budget (a slow staging machine); 1 = the seed's budgets */
  budgetScale?: number;
  onResult?: (result: SmokeResult) => void;
  /** removes the throwaway merchant afterwards, through the database */
  cleanup?: (merchantId: string) => Promise<void>;
};

class Check extends Error {}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Check(message);
}

type Json = Record<string, unknown>;

export function decide(passed: number, total: number): SmokeReport['decision'] {
  if (passed === total) return 'proceed';
  if (passed === total - 1) return 'review';
  return 'rollback';
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const scale = options.budgetScale ?? 1;
  const ctx: Json & {
    token?: string;
    userId?: string;
    merchantId?: string;
    campaignId?: string;
    notificationId?: string;
  } = {};
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const email = `smoke-${suffix}@smoke.swipesavvy.test`;
  const password = randomBytes(18).toString('base64url');

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      json = { raw: text.slice(0, 200) };
    }
    return { status: res.status, json };
  }

  async function ok(method: string, path: string, expected: number, body?: unknown): Promise<Json> {
    const { status, json } = await call(method, path, body);
    expect(
      status === expected,
      `${method} ${path} answered ${status}${json['code'] ? ` ${json['code']}: ${json['detail']}` : ''} (expected ${expected})`,
    );
    return json;
  }

  const tests: { id: string; name: string; budgetMs: number; run: () => Promise<string> }[] = [
    {
      id: '1.1',
      name: 'Health Check',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', '/api/health', 200);
        expect(j['status'] === 'healthy', `status is ${j['status']}`);
        expect(typeof j['version'] === 'string', 'no version');
        return `version ${j['version']}`;
      },
    },
    {
      id: '1.2',
      name: 'Database Connectivity',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', '/api/health/db', 200);
        expect(j['database'] === 'connected', `database is ${j['database']}`);
        expect(
          typeof j['latencyMs'] === 'number' && j['latencyMs'] < 50,
          `latency ${j['latencyMs']} ms ≥ 50 ms`,
        );
        return `latency ${j['latencyMs']} ms`;
      },
    },
    {
      id: '1.3',
      name: 'Service Status',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', '/api/status', 200);
        const services = (j['services'] ?? {}) as Record<string, string>;
        const bad = Object.entries(services).filter(([, s]) => s !== 'running' && s !== 'external');
        expect(Object.keys(services).length > 0, 'no services listed');
        expect(bad.length === 0, `not running: ${bad.map(([n, s]) => `${n}=${s}`).join(', ')}`);
        return `${Object.keys(services).length} services running`;
      },
    },
    {
      id: '2.1',
      name: 'User Signup',
      budgetMs: 500,
      run: async () => {
        const j = await ok('POST', '/api/users/signup', 201, {
          email,
          password,
          name: 'Smoke Test',
          merchantName: `Smoke test ${suffix}`,
        });
        ctx.userId = j['id'] as string;
        ctx.merchantId = j['merchantId'] as string;
        const welcome = j['welcomeEmail'] as Json | undefined;
        expect(welcome && typeof welcome['notificationId'] === 'string', 'no welcome email queued');
        return `user ${ctx.userId}, welcome email ${welcome['status']}`;
      },
    },
    {
      id: '2.2',
      name: 'User Login',
      budgetMs: 200,
      run: async () => {
        const j = await ok('POST', '/api/auth/login', 200, { email, password });
        expect(typeof j['token'] === 'string' && j['tokenType'] === 'Bearer', 'no Bearer token');
        ctx.token = j['token'] as string;
        return `token expires in ${j['expiresIn']} s`;
      },
    },
    {
      id: '2.3',
      name: 'Get User Profile',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', `/api/users/${ctx.userId}`, 200);
        expect(j['email'] === email, 'another user came back');
        expect(!('passwordHash' in j) && !('password_hash' in j), 'the password hash is exposed');
        return 'profile returned';
      },
    },
    {
      id: '2.4',
      name: 'Update User Settings',
      budgetMs: 150,
      run: async () => {
        await ok('PUT', `/api/users/${ctx.userId}/settings`, 200, { timezone: 'UTC' });
        const j = await ok('PUT', `/api/users/${ctx.userId}/settings`, 200, { smokeRun: suffix });
        const s = j['settings'] as Json;
        expect(s['timezone'] === 'UTC' && s['smokeRun'] === suffix, 'settings were not merged');
        return 'settings merged';
      },
    },
    {
      id: '3.1',
      name: 'Create Campaign',
      budgetMs: 300,
      run: async () => {
        const j = await ok('POST', '/api/campaigns', 201, {
          name: `Smoke campaign ${suffix}`,
          channel: 'email',
          budget: 100,
          variants: [
            { name: 'A', weight: 1, content: { subject: 'Smoke A' } },
            { name: 'B', weight: 1, content: { subject: 'Smoke B' } },
          ],
        });
        expect(typeof j['id'] === 'string', 'no id');
        ctx.campaignId = j['id'] as string;
        return `campaign ${ctx.campaignId}`;
      },
    },
    {
      id: '3.2',
      name: 'Get Campaign',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', `/api/campaigns/${ctx.campaignId}`, 200);
        expect(j['id'] === ctx.campaignId, 'another campaign came back');
        expect(typeof j['metrics'] === 'object' && j['metrics'] !== null, 'no metrics');
        return 'campaign with metrics';
      },
    },
    {
      id: '3.3',
      name: 'List Campaigns',
      budgetMs: 200,
      run: async () => {
        const j = await ok('GET', '/api/campaigns?limit=10', 200);
        const items = j['items'] as Json[];
        expect(
          Array.isArray(items) && items.some((c) => c['id'] === ctx.campaignId),
          'the new campaign is not listed',
        );
        expect('nextCursor' in j, 'no nextCursor');
        return `${items.length} campaign(s)`;
      },
    },
    {
      id: '3.4',
      name: 'Update Campaign',
      budgetMs: 200,
      run: async () => {
        const j = await ok('PUT', `/api/campaigns/${ctx.campaignId}`, 200, {
          status: 'running',
          budget: 150,
        });
        expect(j['status'] === 'running' && j['budget'] === 150, 'the update did not stick');
        return 'status running, budget 150';
      },
    },
    {
      id: '4.1',
      name: 'Get Campaign Metrics',
      budgetMs: 200,
      run: async () => {
        const j = await ok('GET', `/api/analytics/campaign/${ctx.campaignId}/metrics`, 200);
        for (const key of [
          'impressions',
          'clicks',
          'conversions',
          'revenue',
          'spend',
          'ctr',
          'conversionRate',
          'roi',
        ]) {
          expect(key in j, `no ${key}`);
        }
        return 'CTR, conversion rate and ROI present';
      },
    },
    {
      id: '4.2',
      name: 'Get Campaign Segments',
      budgetMs: 200,
      run: async () => {
        const j = await ok('GET', `/api/analytics/campaign/${ctx.campaignId}/segments`, 200);
        expect(Array.isArray(j['segments']), 'no segments array');
        return `${(j['segments'] as unknown[]).length} segment(s)`;
      },
    },
    {
      id: '4.3',
      name: 'Get Analytics Portfolio',
      budgetMs: 500,
      run: async () => {
        const j = await ok('GET', '/api/analytics/portfolio', 200);
        const campaigns = j['campaigns'] as Json[];
        expect(typeof j['totals'] === 'object', 'no totals');
        expect(
          campaigns.some((c) => c['campaignId'] === ctx.campaignId),
          'the campaign is missing from the portfolio',
        );
        return `${campaigns.length} campaign(s)`;
      },
    },
    {
      id: '5.1',
      name: 'Send Test Notification',
      budgetMs: 1000,
      run: async () => {
        const target = options.notify ?? { channel: 'email' as const, to: email };
        const j = await ok('POST', '/api/notifications/send-test', 201, {
          channel: target.channel,
          to: target.to,
        });
        ctx.notificationId = j['id'] as string;
        expect(
          j['status'] === 'delivered',
          `status ${j['status']}${j['lastError'] ? `: ${j['lastError']}` : ''}`,
        );
        const receipt = j['receipt'] as Json | null;
        expect(receipt, 'no receipt');
        return `${target.channel} receipt ${receipt['responseCode'] ?? ''}`.trim();
      },
    },
    {
      id: '5.2',
      name: 'Get Notification Status',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', `/api/notifications/${ctx.notificationId}/status`, 200);
        expect(j['status'] === 'delivered', `status ${j['status']}`);
        return `delivered after ${j['attempts']} attempt(s)`;
      },
    },
    {
      id: '5.3',
      name: 'Create Notification Campaign',
      budgetMs: 300,
      run: async () => {
        const j = await ok('POST', '/api/notifications/campaign', 201, { campaignId: ctx.campaignId });
        expect(j['status'] === 'ready', `status ${j['status']}`);
        expect(typeof j['recipients'] === 'number' && j['recipients'] > 0, 'no recipients');
        return `ready for ${j['recipients']} recipient(s)`;
      },
    },
    {
      id: '5.4',
      name: 'Verify Delivery Rate',
      budgetMs: 100,
      run: async () => {
        const j = await ok('GET', '/api/notifications/delivery-rate', 200);
        expect(typeof j['rate'] === 'number' && j['rate'] > 0.99, `rate ${j['rate']}`);
        return `${((j['rate'] as number) * 100).toFixed(1)}% of ${j['delivered']} delivered`;
      },
    },
    {
      id: '6.1',
      name: 'User Count Query',
      budgetMs: 100,
      run: async () => {
        expect(options.database, 'no database configured for the CLI');
        const db = await options.database();
        const users = await countUsers(db);
        expect(users > 0, 'no users');
        return `${users} users`;
      },
    },
    {
      id: '6.2',
      name: 'Data Consistency Check',
      budgetMs: 500,
      run: async () => {
        expect(options.database, 'no database configured for the CLI');
        const result = await runIntegrityCheck(await options.database());
        const broken = result.checks.filter((c) => c.violations > 0);
        expect(broken.length === 0, broken.map((c) => `${c.checkName}: ${c.violations}`).join(', '));
        return `${result.checks.length} invariants hold`;
      },
    },
  ];

  const started = Date.now();
  const results: SmokeResult[] = [];
  for (const test of tests) {
    if (test.id === '5.3' && ctx.token) {
      // untimed setup: the campaign needs an audience member for its notification campaign
      await call('POST', '/api/customers', { email: `smoke-customer-${suffix}@smoke.swipesavvy.test` }).catch(
        () => {},
      );
    }
    if (test.id === '6.1' && options.database) {
      await options.database().catch(() => {}); // connect outside the timed test
    }
    const budgetMs = test.budgetMs * scale;
    const t0 = performance.now();
    let status: SmokeResult['status'] = 'pass';
    let detail: string;
    try {
      detail = await test.run();
    } catch (error) {
      status = 'fail';
      detail = error instanceof Check ? error.message : `${(error as Error).message}`;
    }
    const ms = Math.round(performance.now() - t0);
    if (status === 'pass' && ms > budgetMs) {
      status = 'fail';
      detail = `took ${ms} ms, over the ${budgetMs} ms budget (${detail})`;
    }
    const result = { id: test.id, name: test.name, status, ms, budgetMs, detail };
    results.push(result);
    options.onResult?.(result);
  }
  if (options.cleanup && ctx.merchantId) await options.cleanup(ctx.merchantId).catch(() => {});
  const passed = results.filter((r) => r.status === 'pass').length;
  return {
    baseUrl: base,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    passed,
    total: results.length,
    decision: decide(passed, results.length),
    results,
  };
}
