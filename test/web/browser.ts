import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, type ConsoleMessage, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install chromium): the browser tests are skipped`;

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };
export const SCREENSHOTS = path.resolve('test-results', 'web');

// Debian's Chromium, quiet: no first-run UI, no calls home, nothing but the page under test.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type Browser = { context: BrowserContext; close(): Promise<void> };

/** Chromium on a fresh profile directory, removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'swipesavvy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: DESKTOP,
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Records what the page writes to the console as errors, and uncaught exceptions. `allow` names the
 * failed requests a step provokes on purpose (a form sent with bad input answers 400, and Chromium
 * logs that as "Failed to load resource"); anything else is a failure of the dashboard.
 */
export function watchConsole(page: Page) {
  const errors: string[] = [];
  let allowed: RegExp[] = [];
  const onConsole = (message: ConsoleMessage) => {
    if (message.type() !== 'error') return;
    const text = `${message.text()} @ ${message.location().url}`;
    const i = allowed.findIndex((re) => re.test(text));
    if (i >= 0) allowed.splice(i, 1);
    else errors.push(text);
  };
  page.on('console', onConsole);
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return {
    errors,
    /** Lets the given failed requests (one console line each) through while `step` runs. */
    async expecting<T>(patterns: RegExp[], step: () => Promise<T>): Promise<T> {
      allowed = [...patterns];
      try {
        return await step();
      } finally {
        allowed = [];
      }
    },
  };
}

/** A screenshot of the page at desktop and at phone size, as test-results/web/<name>-{desktop,phone}.png. */
export async function shoot(page: Page, name: string, settle?: () => Promise<unknown>) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [size, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await settle?.();
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}
