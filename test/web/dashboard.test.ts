// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the real
// server: database, queue, workers and local mailbox. Screenshots of each page land in test-results/web.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type RunningServer, startServer } from '../../src/server.ts';
import { buildDashboard, buildIsCurrent } from '../../web/scripts/build.ts';
import { testConfig, testDatabase } from '../helpers.ts';
import { type Browser, chromiumMissing, launchBrowser, PHONE, shoot, watchConsole } from './browser.ts';

let server: RunningServer;
let browser: Browser;
let dataDir: string;
// testDatabase registers its own cleanup with after(), so it is called at the top level, not in a hook
const databaseUrl = chromiumMissing ? '' : await testDatabase();

before(async () => {
  if (chromiumMissing) return;
  if (!buildIsCurrent()) await buildDashboard();
  dataDir = mkdtempSync(path.join(tmpdir(), 'swipesavvy-web-'));
  server = await startServer(testConfig(databaseUrl, { DATA_DIR: dataDir }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function api<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json as T;
}

/** Seeds events the way a client would: customers, then impressions, clicks and conversions. */
async function seedEvents(token: string, campaignId: string) {
  const cities = ['Austin', 'Austin', 'Boston', 'Boston', 'Boston'];
  const customers: { id: string }[] = [];
  for (const [i, city] of cities.entries())
    customers.push(
      await api<{ id: string }>('POST', '/api/customers', token, {
        email: `buyer${i}@example.test`,
        attributes: { city, device: 'ios' },
      }),
    );
  const at = new Date(Date.now() - 60_000).toISOString();
  const event = (type: string, i: number) => ({
    id: randomUUID(),
    type,
    campaignId,
    variant: i % 2 ? 'B' : 'A',
    customerId: customers[i]!.id,
    at,
  });
  // 5 impressions, 2 clicks, 1 conversion: CTR 40.0 %, conversion 50.0 %
  const events = [0, 1, 2, 3, 4].map((i) => event('impression', i));
  events.push(event('click', 0), event('click', 2), event('conversion', 2));
  const result = await api<{ accepted: number }>('POST', '/api/events', token, { events });
  assert.equal(result.accepted, events.length);
}

async function token(page: Page): Promise<string> {
  const session = await page.evaluate(() => localStorage.getItem('swipesavvy.session'));
  assert.ok(session, 'the session is kept in localStorage');
  return JSON.parse(session).token;
}

test('the dashboard in Chromium: sign up, campaigns, metrics, a test notification, operations', {
  skip: chromiumMissing,
  timeout: 240_000,
}, async (t) => {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
  const console = watchConsole(page);
  const url = (p: string) => `${server.url}${p}`;
  const email = `owner-${randomUUID().slice(0, 8)}@example.test`;
  const password = 'correct horse battery';

  await t.test('sign up, with the API error next to the bad field', async () => {
    await page.goto(url('/'));
    await page.waitForURL('**/login');
    await shoot(page, 'login');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Your name').fill('Browser Owner');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Password').fill('short');
    await console.expecting([/status of 400/], async () => {
      await page.getByRole('button', { name: 'Create account' }).click();
      const emailError = page.locator('[data-field-error="email"]');
      await emailError.waitFor();
      assert.match((await emailError.textContent()) ?? '', /email/);
      assert.match((await page.locator('[data-field-error="password"]').textContent()) ?? '', /8/);
    });
    await shoot(page, 'signup-errors');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Business name (optional)').fill('Browser Bakery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/campaigns');
  });

  await t.test('log out, log in, and stay logged in across a reload', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/campaigns');
    await page.reload();
    await page.getByRole('heading', { name: 'Campaigns' }).waitFor();
    assert.ok(page.url().endsWith('/campaigns'), 'still signed in after the reload');
    type Sw = { navigator: { serviceWorker: { ready: Promise<{ active: { scriptURL: string } | null }> } } };
    const registration = await page.evaluate(
      async () => (await (globalThis as unknown as Sw).navigator.serviceWorker.ready).active?.scriptURL,
    );
    assert.equal(registration, url('/sw.js'), 'the service worker is registered');
  });

  let campaignId = '';
  await t.test(
    'create a campaign (a bad budget is refused next to the field) and see it listed',
    async () => {
      await page.getByRole('link', { name: 'New campaign' }).click();
      await page.getByLabel('Name', { exact: true }).first().fill('Browser Spring Offer');
      await page.getByLabel('Budget (USD)').fill('-5');
      await console.expecting([/status of 400/], async () => {
        await page.getByRole('button', { name: 'Create campaign' }).click();
        const budgetError = page.locator('[data-field-error="budget"]');
        await budgetError.waitFor();
        assert.match((await budgetError.textContent()) ?? '', /0/);
      });
      await shoot(page, 'campaign-form-errors');
      await page.getByLabel('Budget (USD)').fill('500');
      await page.getByLabel('Cities').fill('Austin, Boston');
      await page.getByRole('button', { name: 'Add variant' }).click();
      await page.getByRole('button', { name: 'Create campaign' }).click();
      await page.waitForURL(/\/campaigns\/[0-9a-f-]{36}$/);
      campaignId = page.url().split('/').at(-1)!;
      await page.getByRole('link', { name: 'Campaigns' }).click();
      await page.getByLabel('Search campaigns').fill('Spring');
      await page.waitForURL(/q=Spring/);
      const row = page.getByTestId('campaign-list').getByRole('link', { name: 'Browser Spring Offer' });
      await row.waitFor();
      await shoot(page, 'campaigns');
    },
  );

  await t.test('the campaign page shows metrics computed from ingested events', async () => {
    await seedEvents(await token(page), campaignId);
    await page.goto(url(`/campaigns/${campaignId}`));
    const kpis = page.getByTestId('metrics');
    await kpis.getByText('40.0 %').waitFor();
    await kpis.getByText('50.0 %').waitFor();
    const segments = page.getByTestId('segments');
    await segments.getByRole('cell', { name: 'Boston' }).waitFor();
    await segments.getByRole('cell', { name: 'Austin' }).waitFor();
    await page.getByRole('figure').first().locator('svg').first().waitFor();
    await shoot(page, 'campaign', () => page.getByRole('figure').first().locator('svg').first().waitFor());
  });

  await t.test('edit the campaign: rename it and change its audience', async () => {
    await page.getByRole('link', { name: 'Edit' }).click();
    const name = page.getByLabel('Name', { exact: true }).first();
    await name.waitFor();
    assert.equal(await name.inputValue(), 'Browser Spring Offer');
    assert.equal(await page.getByLabel('Cities').inputValue(), 'Austin, Boston');
    await name.fill('Browser Spring Offer 2');
    await page.getByLabel('Devices').fill('ios');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Browser Spring Offer 2' }).waitFor();
    const saved = await api<{ name: string; segment: { device?: string[] } }>(
      'GET',
      `/api/campaigns/${campaignId}`,
      await token(page),
    );
    assert.equal(saved.name, 'Browser Spring Offer 2');
    assert.deepEqual(saved.segment.device, ['ios']);
  });

  await t.test('on a phone, the campaign is started from its page', async () => {
    await page.setViewportSize(PHONE);
    await page.getByLabel('New status').selectOption('running');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.badge-running').first().waitFor();
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Portfolio' }).click();
    await page.getByTestId('ranking').getByText('Browser Spring Offer 2').waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });
    await shoot(page, 'portfolio', () => page.getByRole('figure').first().locator('svg').first().waitFor());
  });

  await t.test('send a test email and see it delivered, then read it in the mailbox', async () => {
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByLabel('Send to').fill('reader@example.test');
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.locator('[data-testid="receipt"][data-status="delivered"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('delivery-rate').waitFor();

    // the campaign's audience (5 customers with an email address) gets it, and the page follows the send
    await page.getByLabel('Campaign', { exact: true }).selectOption(campaignId);
    await page.getByRole('button', { name: 'Prepare send' }).click();
    const progress = page.getByTestId('send-progress');
    await page.locator('[data-testid="send-progress"][data-status="ready"]').waitFor();
    await page.getByRole('button', { name: 'Start sending' }).click();
    await page.locator('[data-testid="send-progress"][data-status="completed"]').waitFor({ timeout: 60_000 });
    const recipients = Number((await progress.textContent())?.match(/(\d+) recipients/)?.[1]);
    assert.ok(recipients >= 1 && recipients <= 5, `recipients: ${recipients}`);
    await progress.getByText(`delivered ${recipients}`).waitFor();
    await shoot(page, 'notifications');
    await page.getByRole('link', { name: 'Mailbox' }).click();
    const item = page.getByTestId('mail-list').getByRole('button', { name: /reader@example\.test/ });
    await item.waitFor();
    assert.ok(
      (await page
        .getByTestId('mail-list')
        .getByRole('button', { name: /buyer\d@example\.test/ })
        .count()) >= 1,
    );
    await item.click();
    await page.locator('.mail-body').waitFor();
    await shoot(page, 'mailbox');
  });

  await t.test('the service worker shows a push and confirms its receipt', async () => {
    await browser.context.grantPermissions(['notifications'], { origin: server.url });
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByRole('heading', { name: 'Send a test' }).waitFor();
    const cdp = await browser.context.newCDPSession(page);
    let registrationId: string | undefined;
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      registrationId ??= e.registrations.find((r) => r.scopeURL === url('/') && !r.isDeleted)?.registrationId;
    });
    await cdp.send('ServiceWorker.enable');
    for (let i = 0; i < 100 && !registrationId; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(registrationId, 'the service worker is registered for the whole origin');
    const id = randomUUID();
    const receipt = browser.context.waitForEvent('request', (r) =>
      r.url().endsWith(`/api/notifications/${id}/receipt`),
    );
    // what a push service hands the browser: the service worker takes it from here
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: server.url,
      registrationId,
      data: JSON.stringify({ id, title: 'Flash sale', body: 'Two coffees for one today' }),
    });
    await page.getByText('shown: Flash sale').waitFor();
    const request = await receipt;
    assert.equal(request.method(), 'POST');
    assert.deepEqual(request.postDataJSON(), { event: 'displayed' });
    await cdp.detach();
  });

  await t.test('merchant network and operations pages', async () => {
    // a new merchant stays out of the directory until it lists itself
    await api('PUT', '/api/merchants/me', await token(page), {
      listed: true,
      category: 'bakery',
      city: 'Austin',
    });
    await page.getByRole('link', { name: 'Merchants' }).click();
    await page.getByTestId('merchants').locator('li').first().waitFor();
    await page.getByLabel('Search merchants').fill('Browser Bakery');
    await page.getByTestId('merchants').getByText('Browser Bakery').waitFor();
    await page.getByLabel('Category').selectOption('bakery');
    await page.getByTestId('merchants').getByText('Browser Bakery').waitFor();
    await shoot(page, 'merchants');
    await page.getByRole('link', { name: 'Operations' }).click();
    const services = page.getByTestId('services');
    await services.getByText('database').waitFor();
    const rows = page.getByTestId('critical-metrics').locator('tbody tr');
    assert.ok((await rows.count()) >= 8, 'every critical metric of the thresholds table is listed');
    await page.getByTestId('critical-metrics').getByText('P99 Response Time').waitFor();
    await shoot(page, 'ops');
  });

  await t.test('an unknown address shows a page, never a blank screen', async () => {
    await page.goto(url('/no-such-page'));
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.getByRole('link', { name: 'Back to campaigns' }).click();
    await page.getByRole('heading', { name: 'Campaigns' }).waitFor();
  });

  await page.close();
  assert.deepEqual(console.errors, [], 'no console errors during the flows');
});
