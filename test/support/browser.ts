/**
 * Browser tests: Debian's chromium driven by playwright-core (the npm
 * package's own browser download cannot work here), and browser contexts in
 * which every request a test does not allow (anything off loopback) is
 * refused and recorded, with the page's console errors and uncaught errors.
 *
 * Two fences: the browser is launched with a proxy on a closed loopback port
 * (Chromium never proxies loopback), so nothing reaches another host; and a
 * page's requests are routed through Playwright, which refuses and records
 * those `allow` rejects. Playwright answers CORS preflights itself while it
 * routes requests (with a grant), so a test of CORS turns routing off
 * (`route: false`): the requests are then only recorded, the proxy refusing
 * those off loopback. The browser's own pages (chrome:, chrome-extension:,
 * such as the PDF viewer a frame of a PDF loads) never reach the network and
 * always load.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** Whether chromium is installed; when not, says so once per test file (browser tests are skipped then). */
export function haveChromium(): boolean {
  const have = existsSync(CHROMIUM);
  if (!have) console.log(`Browser tests skipped: no ${CHROMIUM} (apt-get install -y chromium; .ci/run does it).`);
  return have;
}

/** Nothing listens on port 9 (discard) here: a proxy there refuses every request sent to it. */
const NO_PROXY = 'http://127.0.0.1:9';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--proxy-server=${NO_PROXY}`] });
}

/** Schemes of the browser's own resources: served from inside chromium, never from the network. */
const BROWSER_OWN = new Set(['chrome:', 'chrome-extension:']);

export interface GuardedPage {
  page: Page;
  context: BrowserContext;
  /** Requests refused because `allow` did not let them through. */
  outside: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
}

/**
 * A page in a fresh context where only requests `allow` accepts leave the
 * browser; the others are refused and recorded. With `route: false` they are
 * recorded only, and refused by the browser's proxy when off loopback.
 * The browser's own resources load whatever `allow` says.
 */
export async function guardedPage(
  browser: Browser,
  allow: (url: URL) => boolean,
  { viewport = { width: 1440, height: 900 }, route = true } = {},
): Promise<GuardedPage> {
  const context = await browser.newContext({ viewport });
  const outside: string[] = [];
  const errors: string[] = [];
  const allowed = (url: URL) => BROWSER_OWN.has(url.protocol) || allow(url);
  if (route) {
    await context.route('**/*', (routed) => {
      const url = routed.request().url();
      if (allowed(new URL(url))) return routed.continue();
      outside.push(url);
      return routed.abort('blockedbyclient');
    });
  } else {
    context.on('request', (request) => {
      if (!allowed(new URL(request.url()))) outside.push(request.url());
    });
  }
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  return { page, context, outside, errors };
}
