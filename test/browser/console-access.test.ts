/**
 * The web console in chromium with API keys (the key prompt, a read key's
 * view, previews fetched with the key), and with a store on another origin
 * (parts through `uploadPart`, cancel aborts the multipart upload). Skipped,
 * with the reason printed, when chromium is not installed.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../support/browser.js';
import { digestOf, expectedDigest, MiB, randomStream } from '../support/data.js';
import { createTestBucket, removeBucket, testStores } from '../support/stores.js';
import { bytesOf, consoleFixture, keysOf, NOTES, PHOTO } from './console-page.js';

const chromiumHere = haveChromium();

describe.skipIf(!chromiumHere)('the web console with API keys', () => {
  const READER = 'console-reader-token-0123456789';
  const fx = consoleFixture('console-keys', {
    env: {
      API_KEYS: JSON.stringify({
        keys: [{ name: 'viewer', token: READER, grants: [{ bucket: 'team', role: 'read' }] }],
      }),
    },
  });

  beforeAll(async () => {
    await fx.s3.send(new CreateBucketCommand({ Bucket: 'team' }));
    await fx.s3.send(new PutObjectCommand({ Bucket: 'team', Key: 'photo.png', Body: PHOTO, ContentType: 'image/png' }));
    await fx.s3.send(
      new PutObjectCommand({ Bucket: 'team', Key: 'docs/readme.txt', Body: NOTES, ContentType: 'text/plain' }),
    );
  });

  it('asks for a key, keeps it for the tab, and shows a read key no upload, delete or create', async () => {
    const { page, outside, errors } = await fx.open();
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
  const fx = consoleFixture('console-other', { store });
  let bucket: string;

  beforeAll(async () => {
    await pipeline(randomStream(9 * MiB, 'console-parts'), createWriteStream(join(fx.dataDir, 'parts.bin')));
    bucket = await createTestBucket(fx.s3, 'console');
  });

  afterAll(() => removeBucket(fx.s3, bucket));

  it('sends the parts through uploadPart when the page may not reach the store, byte-exact', async () => {
    const { page, outside, requests } = await fx.open();
    await page.getByRole('button', { name: bucket, exact: true }).click();
    await page.getByLabel('Upload files').setInputFiles(join(fx.dataDir, 'parts.bin'));
    await expect.poll(() => page.locator('.upload-done').count(), { timeout: 60_000 }).toBe(1);
    expect(digestOf(await bytesOf(fx.s3, bucket, 'parts.bin'))).toEqual(await expectedDigest(9 * MiB, 'console-parts'));
    // The presigned PUTs (one per part already under way) were stopped in the browser by the page's
    // policy: none reached the network, so the parts went through the server.
    expect(requests.filter((r) => r.startsWith('PUT ')).length).toBeGreaterThan(0);
    expect(outside).toEqual([]);
  });

  it('cancelling a multipart upload aborts it in the store', async () => {
    const { page } = await fx.open();
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
    const started = await fx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(started.Uploads?.map((u) => u.Key)).toEqual(['cancelled.bin']);

    await page.getByRole('button', { name: 'Cancel upload of cancelled.bin' }).click();
    await page.locator('.upload-cancelled').waitFor();
    release();
    await expect
      .poll(async () => (await fx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [])
      .toEqual([]);
    expect(await keysOf(fx.s3, bucket)).not.toContain('cancelled.bin');
  });
});
