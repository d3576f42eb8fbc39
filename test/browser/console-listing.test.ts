/**
 * The web console in chromium on folders: sorting within a page, paging
 * through a folder of more objects than a page holds (never asking for more
 * than a page), the prefix filter, and reaching the main actions by keyboard
 * with names a screen reader reads. Skipped, with the reason printed, when
 * chromium is not installed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { haveChromium } from '../support/browser.js';
import { consoleFixture } from './console-page.js';

const BUCKET = 'console-listing';
const MANY = 250;
const nameOf = (i: number) => `obj-${String(i).padStart(3, '0')}`;

/** The names in the listing's rows, top to bottom. */
const rowNames = (page: Page) => page.locator('table.objects tbody tr .col-name button.name').allTextContents();

interface Listed {
  prefix: string;
  first: number;
  after: string | null;
}

/** The variables of every listing the page asks for from now on. */
function watchListings(page: Page): Listed[] {
  const listed: Listed[] = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname !== '/graphql' || req.method() !== 'POST') return;
    const body = req.postDataJSON() as { operationName?: string; variables: Listed } | undefined;
    if (body?.operationName === 'ConsoleList') listed.push(body.variables);
  });
  return listed;
}

/** The longest task the page's main thread ran, in ms, since `watchLongTasks`. */
const watchLongTasks = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as { longest: number };
    w.longest = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.longest = Math.max(w.longest, entry.duration);
    }).observe({ type: 'longtask' });
  });
const longestTask = (page: Page) => page.evaluate(() => (window as unknown as { longest: number }).longest);

const chromiumHere = haveChromium();

describe.skipIf(!chromiumHere)('the web console on folders', () => {
  const fx = consoleFixture('console-listing');

  beforeAll(async () => {
    await fx.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    // Sizes and dates in another order than the names: b (300 B, oldest), c (100 B), a (200 B, newest).
    for (const [name, size] of [
      ['b.txt', 300],
      ['c.txt', 100],
      ['a.txt', 200],
    ] as const) {
      await fx.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `sort/${name}`, Body: Buffer.alloc(size, 1) }));
      await sleep(1100);
    }
    for (let i = 0; i < MANY; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          fx.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `many/${nameOf(i + j)}`, Body: nameOf(i + j) })),
        ),
      );
    }
  });

  async function openFolder(folder: string) {
    const console = await fx.open();
    const listed = watchListings(console.page);
    await console.page.getByRole('button', { name: BUCKET, exact: true }).click();
    await console.page.getByRole('button', { name: `${folder}/`, exact: true }).click();
    await console.page.getByRole('navigation', { name: 'Folder path' }).waitFor();
    return { ...console, listed };
  }

  it('sorts the page by name, size and date, both ways', async () => {
    const { page, errors } = await openFolder('sort');
    await page.getByRole('button', { name: 'a.txt', exact: true }).waitFor();
    expect(await rowNames(page)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    const header = (name: string) => page.getByRole('columnheader', { name });
    const sortBy = (name: string) => header(name).getByRole('button').click();

    await sortBy('Name');
    expect(await rowNames(page)).toEqual(['c.txt', 'b.txt', 'a.txt']);
    expect(await header('Name').getAttribute('aria-sort')).toBe('descending');
    await sortBy('Size');
    expect(await rowNames(page)).toEqual(['c.txt', 'a.txt', 'b.txt']);
    expect(await header('Size').getAttribute('aria-sort')).toBe('ascending');
    expect(await header('Name').getAttribute('aria-sort')).toBe('none');
    await sortBy('Size');
    expect(await rowNames(page)).toEqual(['b.txt', 'a.txt', 'c.txt']);
    await sortBy('Last modified');
    expect(await rowNames(page)).toEqual(['b.txt', 'c.txt', 'a.txt']);
    await sortBy('Last modified');
    expect(await rowNames(page)).toEqual(['a.txt', 'c.txt', 'b.txt']);
    expect(errors).toEqual([]);
  });

  it('pages through a folder larger than a page, never asking for more than a page', async () => {
    const { page, listed, errors } = await openFolder('many');
    await watchLongTasks(page);
    await page.getByRole('button', { name: nameOf(0), exact: true }).waitFor();
    expect(await rowNames(page)).toEqual(Array.from({ length: 100 }, (_, i) => nameOf(i)));
    expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);

    // Sorting sorts this page only, and asks for nothing.
    const asked = listed.length;
    await page.getByRole('columnheader', { name: 'Name' }).getByRole('button').click();
    expect((await rowNames(page))[0]).toBe(nameOf(99));
    expect(listed.length).toBe(asked);
    await page.getByRole('columnheader', { name: 'Name' }).getByRole('button').click();

    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('button', { name: nameOf(100), exact: true }).waitFor();
    expect(await rowNames(page)).toEqual(Array.from({ length: 100 }, (_, i) => nameOf(100 + i)));
    await page.getByText('Page 2', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('button', { name: nameOf(200), exact: true }).waitFor();
    expect(await rowNames(page)).toEqual(Array.from({ length: 50 }, (_, i) => nameOf(200 + i)));
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('button', { name: nameOf(100), exact: true }).waitFor();

    // A smaller page: 50 at a time, from the first page again.
    await page.getByLabel('Per page').selectOption('50');
    await page.getByRole('button', { name: nameOf(49), exact: true }).waitFor();
    expect((await rowNames(page)).length).toBe(50);

    const folderListings = listed.filter((l) => l.prefix.startsWith('many/'));
    expect(folderListings.length).toBeGreaterThanOrEqual(4);
    for (const l of folderListings) expect(l.first).toBeLessThanOrEqual(100);
    expect(folderListings.at(-1)).toMatchObject({ prefix: 'many/', first: 50, after: null });
    // No page of a hundred rows held the main thread for long.
    expect(await longestTask(page)).toBeLessThan(1000);
    expect(errors).toEqual([]);
  });

  it('filters the folder by a prefix', async () => {
    const { page, listed, errors } = await openFolder('many');
    await page.getByRole('button', { name: nameOf(0), exact: true }).waitFor();
    await page.getByLabel('Filter by prefix').fill('obj-02');
    await expect.poll(() => rowNames(page)).toEqual(Array.from({ length: 10 }, (_, i) => nameOf(20 + i)));
    expect(listed.at(-1)).toMatchObject({ prefix: 'many/obj-02', first: 100, after: null });
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByLabel('Filter by prefix').fill('nothing-like-this');
    await page.getByText('Nothing here.').waitFor();
    await page.getByLabel('Filter by prefix').fill('');
    await page.getByRole('button', { name: nameOf(0), exact: true }).waitFor();
    expect(errors).toEqual([]);
  });

  it('reaches the main actions with Tab, each with a name, and opens an object with Enter', async () => {
    const { page, errors } = await openFolder('sort');
    await page.getByRole('button', { name: 'a.txt', exact: true }).waitFor();
    // Tab from the top of the page (a click sets where sequential focus starts).
    await page.getByRole('heading', { level: 1 }).click();
    /** What a screen reader announces for each element Tab reaches, in order. */
    const reached: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const focused = page.locator(':focus');
      if ((await focused.count()) === 0) break;
      reached.push((await focused.ariaSnapshot()).split('\n')[0]!.replace(/^- /, ''));
    }
    for (const expected of [
      'link "GraphiQL"',
      `button "${BUCKET}"`,
      'textbox "New bucket name"',
      'button "Create bucket"',
      'button "Open uploads"',
      'button "Delete bucket"',
      /^button "console-listing"/,
      /^searchbox "Filter by prefix"/,
      'button "Upload files"',
      'button "Upload folder"',
      'checkbox "Select every object on this page"',
      'button "Name"',
      'button "Size"',
      'button "Last modified"',
      'checkbox "Select a.txt"',
      'button "a.txt"',
      'combobox "Per page"',
    ])
      expect(reached.some((r) => (typeof expected === 'string' ? r.startsWith(expected) : expected.test(r)))).toBe(
        true,
      );
    // Everything reached has a name.
    for (const r of reached) expect(r).toMatch(/^[a-z]+ "[^"]+"/);

    await page.getByRole('button', { name: 'a.txt', exact: true }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'a.txt' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  });
});
