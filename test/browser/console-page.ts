/**
 * What the console's browser tests share: chromium's path, a console page
 * whose requests are kept on the server's origin, screenshots, and reading
 * the store.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestServer } from '../support/app.js';
import { gradientPng } from '../support/png.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`Browser tests skipped: no ${CHROMIUM} (apt-get install -y chromium; .ci/run does it).`);

/** Where the tests leave their screenshots (the README's come from here: CONSOLE_SCREENSHOTS=docs). */
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

export const NOTES = 'Meeting notes\n- ship the console\n- åäö: UTF-8 survives\n';
export const PHOTO = gradientPng(240, 160);

interface Opened {
  page: Page;
  context: BrowserContext;
  outside: string[];
  errors: string[];
  /** Paths and methods of every request the page made to its server. */
  requests: string[];
}

/** The console on `server`, every request leaving its origin refused and recorded, console and page errors recorded. */
export async function openConsole(browser: Browser, server: TestServer, viewport = { width: 1440, height: 900 }) {
  const origin = new URL(server.base).origin;
  const context = await browser.newContext({ viewport });
  const outside: string[] = [];
  const errors: string[] = [];
  const requests: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('request', (req) => {
    requests.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  await page.goto(`${server.base}/`);
  return { page, context, outside, errors, requests } satisfies Opened;
}

export async function screenshot(page: Page, name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

export async function bytesOf(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

export async function keysOf(s3: S3Client, bucket: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}
