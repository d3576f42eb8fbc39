/**
 * The web console in a real browser (Debian's chromium, driven by
 * playwright-core), against the app's own embedded store (the default set-up,
 * where parts go straight to the store under /s3 on the API's port):
 * buckets, uploads with progress (a 20 MiB file in parts), folders,
 * previews, share links, deletes, open uploads, the layout at two widths.
 * Every request that would leave the server's origin is refused. Skipped,
 * with the reason printed, when chromium is not installed.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../support/browser.js';
import { digestOf, expectedDigest, MiB, randomStream } from '../support/data.js';
import { bytesOf, consoleFixture, keysOf, NOTES, PHOTO, screenshot } from './console-page.js';

const BIG = 20 * MiB;

/** Records every value the page's <progress> elements take, from now on. */
const watchProgress = (page: Page) =>
  page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { progressSeen: number[] }).progressSeen = seen;
    new MutationObserver((records) => {
      for (const r of records) if (r.target instanceof HTMLProgressElement) seen.push(r.target.value);
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['value'] });
  });

const progressSeen = (page: Page) =>
  page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);

const chromiumHere = haveChromium();

describe.skipIf(!chromiumHere)('the web console in a browser', () => {
  const fx = consoleFixture('console');
  let files: string;

  beforeAll(async () => {
    files = join(fx.dataDir, 'picked');
    await mkdir(join(files, 'docs'), { recursive: true });
    await pipeline(randomStream(BIG, 'console-big'), createWriteStream(join(files, 'big.bin')));
    await writeFile(join(files, 'photo.png'), PHOTO);
    await writeFile(join(files, 'docs', 'notes.txt'), NOTES);
  });

  it('creates a bucket, uploads files (20 MiB in parts, with progress) and a folder, previews, shares and deletes', async () => {
    const { page, outside, errors, requests } = await fx.open();
    await page.getByLabel('New bucket name').fill('console-flow');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.getByRole('heading', { name: 'console-flow' }).waitFor();
    await page.getByText('This bucket is empty.').waitFor();

    await watchProgress(page);
    await page.getByLabel('Upload files').setInputFiles([join(files, 'big.bin'), join(files, 'photo.png')]);
    await page.getByLabel('Upload folder').setInputFiles(join(files, 'docs'));
    await expect.poll(() => page.locator('.upload-done').count(), { timeout: 60_000 }).toBe(3);
    expect(await page.getByLabel('Overall upload progress').getAttribute('value')).toBe('100');
    // The 20 MiB file went in parts, straight to the store, and its progress was shown on the way.
    const seen = await progressSeen(page);
    expect(seen.some((v) => v > 0 && v < 100)).toBe(true);
    expect(requests.filter((r) => r.startsWith('PUT /s3/console-flow/big.bin')).length).toBe(3);

    expect(digestOf(await bytesOf(fx.s3, 'console-flow', 'big.bin'))).toEqual(await expectedDigest(BIG, 'console-big'));
    expect((await bytesOf(fx.s3, 'console-flow', 'photo.png')).equals(PHOTO)).toBe(true);
    expect((await bytesOf(fx.s3, 'console-flow', 'docs/notes.txt')).toString()).toBe(NOTES);

    // The listing shows the folder and the two files; the folder opens with breadcrumbs.
    await page.getByRole('button', { name: 'docs/', exact: true }).click();
    await page.getByRole('navigation', { name: 'Folder path' }).getByRole('button', { name: 'docs' }).waitFor();
    await page.getByRole('button', { name: 'notes.txt', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'notes.txt' });
    await expect.poll(() => dialog.getByLabel('Preview of notes.txt').textContent()).toBe(NOTES);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page
      .getByRole('navigation', { name: 'Folder path' })
      .getByRole('button', { name: 'console-flow', exact: true })
      .click();

    await page.getByRole('button', { name: 'photo.png', exact: true }).click();
    const photo = page.getByRole('dialog', { name: 'photo.png' });
    await expect
      .poll(() =>
        photo.getByRole('img', { name: 'Preview of photo.png' }).evaluate((img: HTMLImageElement) => img.naturalWidth),
      )
      .toBe(240);
    await expect.poll(() => photo.getByText('image/png').count()).toBe(1);
    await photo.getByRole('button', { name: 'Close' }).click();

    // A share link, presigned for an hour, fetched as anyone would: the same bytes.
    await page.getByRole('button', { name: 'big.bin', exact: true }).click();
    const big = page.getByRole('dialog', { name: 'big.bin' });
    await big.getByLabel('Expires after').selectOption({ label: '1 hour' });
    await big.getByRole('button', { name: 'Create share link' }).click();
    const link = await big.getByLabel(/^Link/).inputValue();
    expect(link.startsWith(`${fx.server.base}/s3/console-flow/big.bin?`)).toBe(true);
    const shared = await fetch(link);
    expect(shared.status).toBe(200);
    expect(digestOf(Buffer.from(await shared.arrayBuffer()))).toEqual(await expectedDigest(BIG, 'console-big'));
    await screenshot(page, 'console-details');
    await big.getByRole('button', { name: 'Close' }).click();

    // Delete a selection (two files), then the folder, each after confirming.
    await page.getByLabel('Select big.bin').check();
    await page.getByLabel('Select photo.png').check();
    await page.getByRole('button', { name: 'Delete selected (2)' }).click();
    await page.getByRole('dialog', { name: 'Delete 2 objects?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => keysOf(fx.s3, 'console-flow')).toEqual(['docs/notes.txt']);
    await page.getByRole('button', { name: 'Delete folder docs/' }).click();
    await page.getByRole('dialog', { name: 'Delete folder docs/?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => keysOf(fx.s3, 'console-flow')).toEqual([]);
    await page.getByText('This bucket is empty.').waitFor();

    // Deleting the bucket, with what is in it, takes typing its name.
    await fx.s3.send(new PutObjectCommand({ Bucket: 'console-flow', Key: 'left.txt', Body: 'left' }));
    await page.getByRole('button', { name: 'Delete bucket' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete bucket console-flow?' });
    expect(await confirm.getByRole('button', { name: 'Delete' }).isDisabled()).toBe(true);
    await confirm.getByLabel(/^Type/).fill('console-flow');
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Choose a bucket.').waitFor();
    const buckets = await fx.s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).not.toContain('console-flow');

    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("lays out from a phone's width up, nothing wider than the screen", async () => {
    const seed: [string, string | Buffer, string][] = [
      ['reports/2026/summary.pdf', 'pdf', 'application/pdf'],
      ['images/logo.png', PHOTO, 'image/png'],
      ['images/banner.png', PHOTO, 'image/png'],
      ['a-rather-long-file-name-for-a-small-screen-2026-11-26.csv', 'a,b\n1,2\n', 'text/csv'],
      ['notes.txt', NOTES, 'text/plain'],
      ['photo.png', PHOTO, 'image/png'],
      ['backup.tar.gz', Buffer.alloc(3 * MiB + 12_345), 'application/gzip'],
    ];
    await fx.s3.send(new CreateBucketCommand({ Bucket: 'console-layout' }));
    for (const [Key, Body, ContentType] of seed) {
      await fx.s3.send(new PutObjectCommand({ Bucket: 'console-layout', Key, Body, ContentType }));
    }
    for (const [viewport, name] of [
      [{ width: 1440, height: 900 }, 'console-wide'],
      [{ width: 390, height: 844 }, 'console-narrow'],
    ] as const) {
      const { page, outside, errors } = await fx.open(viewport);
      await page.getByRole('button', { name: 'console-layout', exact: true }).click();
      await page.getByRole('button', { name: 'backup.tar.gz', exact: true }).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      // Every name is shown whole (a long one wraps), none clipped.
      const clipped = await page
        .locator('.col-name .name')
        .evaluateAll((names) => names.filter((n) => n.scrollWidth > n.clientWidth).map((n) => n.textContent));
      expect(clipped).toEqual([]);
      await screenshot(page, name);
      // An object's details, with its preview: nothing wider than the screen either.
      await page.getByRole('button', { name: 'photo.png', exact: true }).click();
      const photo = page.getByRole('dialog', { name: 'photo.png' });
      await expect
        .poll(() =>
          photo
            .getByRole('img', { name: 'Preview of photo.png' })
            .evaluate((img: HTMLImageElement) => img.naturalWidth),
        )
        .toBe(240);
      expect(await photo.evaluate((dialog) => dialog.scrollWidth <= dialog.clientWidth)).toBe(true);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      await screenshot(page, `${name}-details`);
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    }
  });

  it('lists an open multipart upload and aborts it', async () => {
    await fx.s3.send(new CreateBucketCommand({ Bucket: 'console-open' }));
    const created = await fx.s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'console-open', Key: 'left/over.bin' }),
    );
    await fx.s3.send(
      new UploadPartCommand({
        Bucket: 'console-open',
        Key: 'left/over.bin',
        UploadId: created.UploadId,
        PartNumber: 1,
        Body: 'part',
      }),
    );
    const { page, errors } = await fx.open();
    await page.getByRole('button', { name: 'console-open', exact: true }).click();
    await page.getByRole('button', { name: 'Open uploads' }).click();
    await page.getByRole('button', { name: 'Abort upload of left/over.bin' }).click();
    await page.getByText('No open uploads.').waitFor();
    const open = await fx.s3.send(new ListMultipartUploadsCommand({ Bucket: 'console-open' }));
    expect(open.Uploads ?? []).toEqual([]);
    expect(errors).toEqual([]);
  });
});
