/**
 * The web console in chromium with API keys (the key prompt, a read key's
 * view, previews fetched with the key), and with a store on another origin
 * (parts through `uploadPart`, cancel aborts the multipart upload). Skipped,
 * with the reason printed, when chromium is not installed.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/app.js';
import { haveChromium, launchChromium } from '../support/browser.js';
import { digestOf, expectedDigest, MiB, randomStream } from '../support/data.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import { bytesOf, keysOf, NOTES, openConsole, PHOTO } from './console-page.js';

const chromiumHere = haveChromium();

describe.skipIf(!chromiumHere)('the web console with API keys', () => {
  const READER = 'console-reader-token-0123456789';
  let browser: Browser;
  let dataDir: string;
  let server: TestServer;
  let s3: S3Client;
  const opened: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-console-keys-'));
    const API_KEYS = JSON.stringify({
      keys: [{ name: 'viewer', token: READER, grants: [{ bucket: 'team', role: 'read' }] }],
    });
    server = await startServer(undefined, {
      DATA_DIR: dataDir,
      EMBEDDED_S3_PORT: '0',
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    const embedded = server.app.embedded!;
    s3 = new S3Client({
      endpoint: embedded.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: embedded.credentials,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'team' }));
    await s3.send(new PutObjectCommand({ Bucket: 'team', Key: 'photo.png', Body: PHOTO, ContentType: 'image/png' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'team', Key: 'docs/readme.txt', Body: NOTES, ContentType: 'text/plain' }),
    );
  });

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    s3?.destroy();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('asks for a key, keeps it for the tab, and shows a read key no upload, delete or create', async () => {
    const { page, context, outside, errors } = await openConsole(browser, server);
    opened.push(context);
    await page.getByLabel('API key').fill('not-a-key-of-this-server');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('This API key is not accepted.').waitFor();
    await page.getByLabel('API key').fill(READER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('viewer').waitFor();
    await page.getByRole('button', { name: 'team', exact: true }).click();
    await page.getByRole('button', { name: 'photo.png', exact: true }).waitFor();
    for (const name of ['Upload files', 'Upload folder', 'New bucket name'])
      expect(await page.getByLabel(name).count()).toBe(0);
    for (const name of [/^Delete/, 'Create bucket']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);

    // The preview is fetched with the key (an <img> could not send it) into a blob: URL.
    await page.getByRole('button', { name: 'photo.png', exact: true }).click();
    const photo = page.getByRole('dialog', { name: 'photo.png' });
    const img = photo.getByRole('img', { name: 'Preview of photo.png' });
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(240);
    expect(await img.getAttribute('src')).toMatch(/^blob:/);
    for (const name of ['Delete', 'Rename', 'Copy'])
      expect(await photo.getByRole('button', { name, exact: true }).count()).toBe(0);
    await photo.getByRole('button', { name: 'Close' }).click();

    // Kept for the tab (a reload stays signed in), in sessionStorage only; signing out forgets it.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([1, 0]);
    await page.reload();
    await page.getByRole('button', { name: 'team', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    expect(outside).toEqual([]);
    // The one failed request: the wrong key, answered 401.
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
  });
});

describe.skipIf(!chromiumHere)('the web console with a store on another origin', () => {
  const store = testStores()[0]!;
  let browser: Browser;
  let dataDir: string;
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;
  const opened: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-console-other-'));
    await pipeline(randomStream(9 * MiB, 'console-parts'), createWriteStream(join(dataDir, 'parts.bin')));
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'console');
    server = await startServer(store, { RATE_LIMIT_PER_MINUTE: '0' });
  });

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await removeBucket(s3, bucket);
    s3?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sends the parts through uploadPart when the page may not reach the store, byte-exact', async () => {
    const { page, context, outside, requests } = await openConsole(browser, server);
    opened.push(context);
    await page.getByRole('button', { name: bucket, exact: true }).click();
    await page.getByLabel('Upload files').setInputFiles(join(dataDir, 'parts.bin'));
    await expect.poll(() => page.locator('.upload-done').count(), { timeout: 60_000 }).toBe(1);
    expect(digestOf(await bytesOf(s3, bucket, 'parts.bin'))).toEqual(await expectedDigest(9 * MiB, 'console-parts'));
    // The presigned PUTs (one per part already under way) were stopped in the browser by the page's
    // policy: none reached the network, so the parts went through the server.
    expect(requests.filter((r) => r.startsWith('PUT ')).length).toBeGreaterThan(0);
    expect(outside).toEqual([]);
  });

  it('cancelling a multipart upload aborts it in the store', async () => {
    const { page, context } = await openConsole(browser, server);
    opened.push(context);
    // Hold the parts on their way, so that the upload is still running when it is cancelled.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let partsSeen = 0;
    await page.route('**/graphql', async (route) => {
      if (!(route.request().headers()['content-type'] ?? '').startsWith('multipart/form-data')) return route.continue();
      partsSeen += 1;
      await held;
      return route.continue().catch(() => undefined);
    });
    await page.getByRole('button', { name: bucket, exact: true }).click();
    await page.getByLabel('Upload files').setInputFiles({
      name: 'cancelled.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(9 * MiB, 7),
    });
    await expect.poll(() => partsSeen, { timeout: 30_000 }).toBeGreaterThan(0);
    const started = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(started.Uploads?.map((u) => u.Key)).toEqual(['cancelled.bin']);

    await page.getByRole('button', { name: 'Cancel upload of cancelled.bin' }).click();
    await page.locator('.upload-cancelled').waitFor();
    release();
    await expect
      .poll(async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [])
      .toEqual([]);
    expect(await keysOf(s3, bucket)).not.toContain('cancelled.bin');
  });
});
