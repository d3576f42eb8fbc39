/**
 * GraphiQL in a real browser (Debian's chromium, driven by playwright-core):
 * the page the server builds from web/ loads with no request leaving the
 * server's origin, runs the example query, sends files bound in the Files
 * panel as a multipart request, and sends the headers editor's headers.
 * Skipped, with the reason printed, when chromium is not installed.
 */
import { mkdirSync } from 'node:fs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../support/data.js';
import { startServer, type TestServer } from '../support/app.js';
import { guardedPage, haveChromium, launchChromium } from '../support/browser.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

/** Where the tests leave their screenshots, to look at the page. */
const SHOTS = process.env.GRAPHIQL_SCREENSHOTS;

const store = testStores()[0]!;
const TOKEN = 'graphiql-browser-test-token';

/**
 * A browser page on `server`: every request that would leave the server's
 * origin is refused and recorded in `outside`; console errors (CSP
 * violations among them) and page errors are recorded in `errors`.
 */
async function openPage(browser: Browser, server: TestServer, viewport = { width: 1440, height: 900 }) {
  const origin = new URL(server.base).origin;
  const opened = await guardedPage(browser, (url) => url.origin === origin, { viewport });
  await opened.page.goto(`${server.base}/graphql`);
  await opened.page.locator('.graphiql-query-editor .view-lines').first().waitFor({ timeout: 30_000 });
  return opened;
}

/** The text of a Monaco editor's visible lines (Monaco writes spaces as no-break spaces). */
const editorText = async (page: Page, selector: string) =>
  ((await page.locator(`${selector} .view-lines`).first().textContent()) ?? '').replace(/\u00a0/g, ' ');

/** Replaces the content of the Monaco editor under `selector` with `text`. */
async function fillEditor(page: Page, selector: string, text: string) {
  await page.locator(`${selector} .view-lines:visible`).click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

/** Runs the operation in the editor and waits for a result that contains `expected`. */
async function run(page: Page, expected: string) {
  await page.locator('.graphiql-execute-button').click();
  await expect.poll(() => editorText(page, '.graphiql-response'), { timeout: 20_000 }).toContain(expected);
  return editorText(page, '.graphiql-response');
}

async function screenshot(page: Page, name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

describe.skipIf(!haveChromium())('GraphiQL in a browser', () => {
  let browser: Browser;
  let s3: S3Client;
  let bucket: string;
  const opened: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'graphiql');
  });

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  describe('without API keys', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(store);
    });
    afterAll(() => server?.close());

    it('renders from the server alone, and runs the example query', async () => {
      const { page, context, outside, errors } = await openPage(browser, server);
      opened.push(context);
      expect(await editorText(page, '.graphiql-query-editor')).toContain('query BucketsAndObjects');
      expect(await page.locator('body').textContent()).not.toMatch(/Loading/);

      const result = await run(page, `"${bucket}"`);
      expect(result).toContain('"buckets"');
      // The schema arrived: the docs explorer lists the root types.
      await page.getByRole('button', { name: /Show Documentation Explorer/i }).click();
      await page.getByText('Root Types').waitFor();
      await screenshot(page, 'desktop');

      const phone = await openPage(browser, server, { width: 390, height: 844 });
      opened.push(phone.context);
      // The narrow response pane wraps long lines.
      await run(phone.page, '"buckets"');
      await screenshot(phone.page, 'phone');

      expect(outside).toEqual([]);
      expect(phone.outside).toEqual([]);
      expect([...errors, ...phone.errors]).toEqual([]);
    });

    it('sends a file bound in the Files panel, which lands in the store byte for byte', async () => {
      const { page, context, outside, errors } = await openPage(browser, server);
      opened.push(context);
      const bytes = await randomBytes(300 * 1024 + 7, 'graphiql-upload');
      await page.getByRole('button', { name: /Show Files/i }).click();
      await page.getByLabel('Variable path').first().fill('file');
      await page
        .getByLabel('File for file')
        .setInputFiles({ name: 'picked.bin', mimeType: 'application/octet-stream', buffer: bytes });
      await page.getByText('picked.bin, 300.0 KiB').waitFor();
      await screenshot(page, 'files-panel');

      await fillEditor(
        page,
        '.graphiql-query-editor',
        `mutation Upload($file: Upload!) { uploadObject(bucket: "${bucket}", key: "from-graphiql.bin", file: $file) { key size } }`,
      );
      // GraphiQL reads the operation's name from the editor a moment later; its tab shows it then.
      await page.locator('.graphiql-tab', { hasText: 'Upload' }).waitFor();
      const result = await run(page, '"from-graphiql.bin"');
      expect(result).toContain(`"size": ${bytes.length}`);

      const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'from-graphiql.bin' }));
      expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(bytes)).toBe(true);
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    });
  });

  describe('with API keys and GRAPHIQL=true', () => {
    let server: TestServer;
    beforeAll(async () => {
      const API_KEYS = JSON.stringify({
        keys: [{ name: 'explorer', token: TOKEN, grants: [{ bucket, role: 'read' }] }],
      });
      server = await startServer(store, { API_KEYS, GRAPHIQL: 'true', RATE_LIMIT_PER_MINUTE: '0' });
    });
    afterAll(() => server?.close());

    it("sends the headers editor's Authorization with the operation", async () => {
      const { page, context, outside } = await openPage(browser, server);
      opened.push(context);
      const authorizations: (string | undefined)[] = [];
      page.on('request', (req) => {
        if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql') {
          authorizations.push(req.headers().authorization);
        }
      });

      await run(page, 'UNAUTHENTICATED');
      await page.getByRole('button', { name: 'Headers' }).click();
      await fillEditor(page, '.graphiql-editor-tool', `{"Authorization": "Bearer ${TOKEN}"}`);
      const result = await run(page, `"${bucket}"`);
      expect(result).not.toContain('UNAUTHENTICATED');
      expect(authorizations).toContain(`Bearer ${TOKEN}`);
      expect(outside).toEqual([]);
    });
  });
});
