/**
 * A browser form upload in a real browser (Debian's chromium, driven by
 * playwright-core): a page on another origin asks the API for presignPost,
 * sends the returned fields and then the file picked in an
 * `<input type="file">` straight to the embedded store under `/s3`, and
 * reads the store's 201 answer, as the README's example does. The store's
 * CORS rules decide whether the page may read that answer. The page comes
 * from a server of the test's own on another loopback port (a public origin
 * would meet Chromium's local network access checks); nothing leaves the
 * loopback. Skipped when chromium is not installed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteBucketCorsCommand, PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/app.js';
import { haveChromium, launchChromium } from '../support/browser.js';
import { digestOf, randomBytes } from '../support/data.js';
import { embeddedClient } from '../support/stores.js';

/** The page: the README's example, run when the button is clicked; it writes the outcome into #result. */
const PAGE = `<!doctype html>
<input type="file" id="file"><button id="send">Send</button><pre id="result"></pre>
<script>
document.getElementById('send').onclick = async () => {
  const out = document.getElementById('result');
  let step = 'presignPost';
  try {
    const file = document.getElementById('file').files[0];
    const api = new URL(location.search.slice(1));
    const res = await fetch(api, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation ($max: SafeInt!) { presignPost(bucket: "pics", keyPrefix: "u/", maxBytes: $max, contentTypePrefix: "image/") { url fields { key value } } }',
        variables: { max: 1048576 },
      }),
    });
    const { data, errors } = await res.json();
    if (errors) throw new Error(errors[0].message);
    const form = new FormData();
    for (const { key, value } of data.presignPost.fields) form.append(key, value);
    form.append('Content-Type', file.type);
    form.append('file', file);
    step = 'form';
    const sent = await fetch(data.presignPost.url, { method: 'POST', body: form });
    const xml = new DOMParser().parseFromString(await sent.text(), 'application/xml');
    out.textContent = sent.status + ' ' + xml.querySelector('Key')?.textContent + ' ' + sent.headers.get('etag');
  } catch (err) {
    out.textContent = 'failed: ' + err.message + ' at ' + step;
  }
};
</script>`;

describe.skipIf(!haveChromium())('a browser form upload with presignPost', () => {
  let browser: Browser;
  let dataDir: string;
  let app: TestServer;
  let s3: S3Client;
  let pageServer: Server;
  /** The page's origin: http://127.0.0.1:<port> of pageServer. */
  let pageOrigin: string;

  beforeAll(async () => {
    pageServer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(PAGE);
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    browser = await launchChromium();
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-browser-post-'));
    app = await startServer(undefined, { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0', CORS_ORIGINS: pageOrigin });
    s3 = embeddedClient(app);
    const created = await app.gql('mutation { createBucket(name: "pics") { name } }');
    expect(created.errors).toBeUndefined();
  });

  afterAll(async () => {
    await browser?.close();
    pageServer?.close();
    s3?.destroy();
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Opens the page, picks `bytes` as `name`, clicks Send and returns what the page wrote. */
  async function upload(name: string, bytes: Buffer): Promise<string> {
    const context: BrowserContext = await browser.newContext();
    try {
      const allowed = new Set([pageOrigin, new URL(app.base).origin]);
      await context.route('**/*', (route) =>
        allowed.has(new URL(route.request().url()).origin) ? route.continue() : route.abort('blockedbyclient'),
      );
      const page = await context.newPage();
      await page.goto(`${pageOrigin}/?${app.url}`);
      await page.locator('#file').setInputFiles({ name, mimeType: 'image/png', buffer: bytes });
      await page.locator('#send').click();
      await expect.poll(() => page.locator('#result').textContent(), { timeout: 20_000 }).not.toBe('');
      return (await page.locator('#result').textContent()) ?? '';
    } finally {
      await context.close();
    }
  }

  const rule = (origin: string) =>
    s3.send(
      new PutBucketCorsCommand({
        Bucket: 'pics',
        CORSConfiguration: {
          CORSRules: [
            { AllowedOrigins: [origin], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], ExposeHeaders: ['ETag'] },
          ],
        },
      }),
    );

  it("sends the fields, then the file, and reads the 201 answer once the bucket's CORS rules allow the page", async () => {
    await rule(pageOrigin);
    const bytes = await randomBytes(200 * 1024, 'browser-form');
    const result = await upload('photo.png', bytes);
    expect(result).toBe(`201 u/photo.png "${digestOf(bytes).md5}"`);
    const stored = await app.store.getObject('pics', 'u/photo.png');
    expect(stored.contentType).toBe('image/png');
    expect(digestOf(Buffer.concat(await stored.body!.toArray()))).toEqual(digestOf(bytes));
  });

  it('cannot read the answer when the bucket has no CORS rules, or rules for another origin', async () => {
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'pics' }));
    expect(await upload('no-rules.png', Buffer.from('no rules'))).toMatch(/^failed: /);
    await rule('https://elsewhere.example');
    expect(await upload('refused.png', Buffer.from('refused'))).toMatch(/^failed: /);
  });
});
