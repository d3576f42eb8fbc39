/**
 * The web console in chromium, one object at a time: copy and rename, a file
 * dropped onto the page, PDF, audio and video previews, the details panel,
 * and errors shown as sentences. Every change is checked in the store with
 * the SDK. Skipped, with the reason printed, when chromium is not installed.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { Locator } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../support/browser.js';
import { bytesOf, consoleFixture, keysOf, NOTES, recordedWebm, screenshot, tinyPdf, toneWav } from './console-page.js';

const BUCKET = 'console-objects';

/** The value shown for `term` in a details panel's list of facts. */
const fact = (dialog: Locator, term: string) => dialog.locator(`dt:text-is("${term}") + dd`).textContent();

/** Resolves with a media element's duration once its metadata has loaded (the browser decoded the file's header). */
const mediaDuration = (media: Locator) =>
  media.evaluate(
    (el: HTMLMediaElement) =>
      new Promise<number>((resolve, reject) => {
        if (el.readyState >= 1) resolve(el.duration);
        el.addEventListener('loadedmetadata', () => resolve(el.duration));
        el.addEventListener('error', () => reject(new Error(`media error ${el.error?.code}`)));
      }),
  );

const chromiumHere = haveChromium();

describe.skipIf(!chromiumHere)('the web console, one object at a time', () => {
  const fx = consoleFixture('console-objects');

  beforeAll(async () => {
    await fx.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  async function openBucket(viewport?: { width: number; height: number }) {
    const console = await fx.open(viewport);
    await console.page.getByRole('button', { name: BUCKET, exact: true }).click();
    return console;
  }

  it('copies an object to a new key, then renames it (a copy, then the old key deleted)', async () => {
    await fx.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'copy/original.txt', Body: NOTES, ContentType: 'text/plain' }),
    );
    const { page, outside, errors } = await openBucket();
    await page.getByRole('button', { name: 'copy/', exact: true }).click();
    await page.getByRole('button', { name: 'original.txt', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'original.txt' });
    await dialog.getByLabel('New key').fill('copy/duplicate.txt');
    await dialog.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByRole('status').getByText('Copied to copy/duplicate.txt.').waitFor();
    expect(await keysOf(fx.s3, BUCKET)).toEqual(['copy/duplicate.txt', 'copy/original.txt']);
    expect((await bytesOf(fx.s3, BUCKET, 'copy/duplicate.txt')).toString()).toBe(NOTES);
    // The listing behind the dialog shows the copy.
    await page.getByRole('button', { name: 'duplicate.txt', exact: true }).waitFor();

    await dialog.getByLabel('New key').fill('copy/renamed.txt');
    await dialog.getByRole('button', { name: 'Rename', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await keysOf(fx.s3, BUCKET)).toEqual(['copy/duplicate.txt', 'copy/renamed.txt']);
    expect((await bytesOf(fx.s3, BUCKET, 'copy/renamed.txt')).toString()).toBe(NOTES);
    await page.getByRole('button', { name: 'renamed.txt', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'original.txt', exact: true }).count()).toBe(0);
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('uploads a file dropped onto the open folder', async () => {
    await fx.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dropbox/existing.txt', Body: 'here' }));
    const { page, outside, errors } = await openBucket();
    await page.getByRole('button', { name: 'dropbox/', exact: true }).click();
    await page.getByRole('button', { name: 'existing.txt', exact: true }).waitFor();
    // A DataTransfer built in the page, as a drag from the desktop would bring it.
    const transfer = await page.evaluateHandle((text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], 'dropped.txt', { type: 'text/plain' }));
      return data;
    }, NOTES);
    const target = page.locator('.browser');
    await target.dispatchEvent('dragenter', { dataTransfer: transfer });
    await target.dispatchEvent('dragover', { dataTransfer: transfer });
    await page.getByText('Drop to upload into dropbox/').waitFor();
    await target.dispatchEvent('drop', { dataTransfer: transfer });
    await expect.poll(() => page.locator('.upload-done').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.getByText('Drop to upload into').count()).toBe(0);
    expect((await bytesOf(fx.s3, BUCKET, 'dropbox/dropped.txt')).toString()).toBe(NOTES);
    const head = await fx.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dropbox/dropped.txt' }));
    expect(head.ContentType).toBe('text/plain');
    await page.getByRole('button', { name: 'dropped.txt', exact: true }).waitFor();
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("previews a PDF, a sound and a video with the stored type, at a phone's width", async () => {
    const { page, outside, errors } = await openBucket({ width: 390, height: 844 });
    const seed: [string, Buffer, string][] = [
      ['media/report.pdf', tinyPdf(), 'application/pdf'],
      ['media/tone.wav', toneWav(), 'audio/wav'],
      ['media/clip.webm', await recordedWebm(page), 'video/webm'],
    ];
    for (const [Key, Body, ContentType] of seed)
      await fx.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ContentType }));
    /** The type each /objects answer was served with. */
    const served = new Map<string, string>();
    page.on('response', (res) => {
      const path = new URL(res.url()).pathname;
      if (path.startsWith('/objects/')) served.set(path, res.headers()['content-type'] ?? '');
    });
    await page.reload();
    await page.getByRole('button', { name: BUCKET, exact: true }).click();
    await page.getByRole('button', { name: 'media/', exact: true }).click();

    // The PDF: fetched, then shown from a blob: URL of its bytes in a frame.
    await page.getByRole('button', { name: 'report.pdf', exact: true }).click();
    let dialog = page.getByRole('dialog', { name: 'report.pdf' });
    const frame = dialog.locator('iframe[title="Preview of report.pdf"]');
    await frame.waitFor();
    expect(await frame.getAttribute('src')).toMatch(/^blob:/);
    expect(served.get(`/objects/${BUCKET}/media/report.pdf`)).toBe('application/pdf');
    expect(await dialog.evaluate((d) => d.scrollWidth <= d.clientWidth)).toBe(true);
    await screenshot(page, 'console-narrow-pdf');
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Sound and video stream from /objects, and the browser reads their headers.
    for (const [name, type, role] of [
      ['tone.wav', 'audio/wav', 'audio'],
      ['clip.webm', 'video/webm', 'video'],
    ] as const) {
      await page.getByRole('button', { name, exact: true }).click();
      dialog = page.getByRole('dialog', { name });
      const media = dialog.locator(role);
      expect(await media.getAttribute('aria-label')).toBe(`Preview of ${name}`);
      expect(await media.getAttribute('src')).toBe(`/objects/${BUCKET}/media/${name}`);
      expect(await mediaDuration(media)).toBeGreaterThan(0);
      expect(served.get(`/objects/${BUCKET}/media/${name}`)).toBe(type);
      if (role === 'video') expect(await media.evaluate((el: HTMLVideoElement) => el.videoWidth)).toBe(160);
      expect(await dialog.evaluate((d) => d.scrollWidth <= d.clientWidth)).toBe(true);
      await screenshot(page, `console-narrow-${role}`);
      await dialog.getByRole('button', { name: 'Close' }).click();
    }
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows size, type, ETag, date and metadata in the details', async () => {
    const put = await fx.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'facts/data.json',
        Body: '{"a":1}',
        ContentType: 'application/json',
        Metadata: { owner: 'ada', project: 'engine' },
      }),
    );
    const head = await fx.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'facts/data.json' }));
    const { page, errors } = await openBucket();
    await page.getByRole('button', { name: 'facts/', exact: true }).click();
    await page.getByRole('button', { name: 'data.json', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'data.json' });
    await dialog.locator('dl.facts').waitFor();
    expect(await fact(dialog, 'Key')).toBe('facts/data.json');
    expect(await fact(dialog, 'Size')).toBe('7 B (7 bytes)');
    expect(await fact(dialog, 'Type')).toBe('application/json');
    expect(await fact(dialog, 'ETag')).toBe(put.ETag!.replaceAll('"', ''));
    const shown = await fact(dialog, 'Last modified');
    const year = String(head.LastModified!.getFullYear());
    expect(shown).toContain(year);
    expect(await dialog.locator('dt:text-is("Metadata") + dd > *').allTextContents()).toEqual([
      'owner: ada',
      'project: engine',
    ]);
    await expect.poll(() => dialog.getByLabel('Preview of data.json').textContent()).toBe('{"a":1}');
    expect(errors).toEqual([]);
  });

  it('says what went wrong in words, not as an error code', async () => {
    const { page, outside } = await openBucket();
    // A name the form lets through (letters, digits, dots) that S3's rules refuse.
    await page.getByLabel('New bucket name').fill('two..dots');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('The bucket name must not contain two adjacent dots.').waitFor();
    expect(await alert.textContent()).not.toContain('BAD_USER_INPUT');
    const names = (await fx.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
    expect(names).not.toContain('two..dots');
    await alert.getByRole('button', { name: 'Dismiss message' }).click();

    // A name the form itself refuses, with the rule, before anything is sent.
    const name = page.getByLabel('New bucket name');
    await name.fill('under_score');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    expect(await name.evaluate((input: HTMLInputElement) => input.validity.patternMismatch)).toBe(true);
    expect(await name.getAttribute('title')).toBe('3 to 63 characters: lower-case letters, digits, dots and hyphens');

    // A bucket deleted behind the console's back: said where its listing was.
    await fx.s3.send(new CreateBucketCommand({ Bucket: 'console-gone' }));
    await page.reload();
    await page.getByRole('button', { name: 'console-gone', exact: true }).click();
    await page.getByText('This bucket is empty.').waitFor();
    await fx.s3.send(new DeleteBucketCommand({ Bucket: 'console-gone' }));
    await page.getByLabel('Filter by prefix').fill('x');
    await page.getByRole('main').getByText('This bucket does not exist (any more).').waitFor();
    expect(outside).toEqual([]);
  });
});
