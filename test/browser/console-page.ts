/**
 * What the console's browser tests share: the suite's chromium, server and
 * store (`consoleFixture`), a console page whose requests are kept on the
 * server's origin (test/support/browser.ts), screenshots, and reading the store.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startServer, type TestServer } from '../support/app.js';
import { type GuardedPage, guardedPage, launchChromium } from '../support/browser.js';
import { gradientPng } from '../support/png.js';
import { embeddedClient, s3Client, type StoreUnderTest } from '../support/stores.js';

/** Where the tests leave their screenshots (the README's come from here: CONSOLE_SCREENSHOTS=docs). */
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

export const NOTES = 'Meeting notes\n- ship the console\n- åäö: UTF-8 survives\n';
export const PHOTO = gradientPng(240, 160);

interface Opened extends GuardedPage {
  /** Paths and methods of every request the page made to its server. */
  requests: string[];
}

type Viewport = { width: number; height: number };

/** The console on `server`, every request leaving its origin refused and recorded, console and page errors recorded. */
async function openConsole(browser: Browser, server: TestServer, viewport: Viewport): Promise<Opened> {
  const origin = new URL(server.base).origin;
  const opened = await guardedPage(browser, (url) => url.origin === origin, { viewport });
  const requests: string[] = [];
  opened.page.on('request', (req) => {
    requests.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  await opened.page.goto(`${server.base}/`);
  return { ...opened, requests };
}

/** A console suite's set-up, filled in by its `beforeAll`. */
export interface ConsoleFixture {
  server: TestServer;
  /** An SDK client of the server's store. */
  s3: S3Client;
  /** A fresh directory of the suite's own, removed after it (the embedded store keeps its data in `store/` under it). */
  dataDir: string;
  /** A console page (see `openConsole`) in a browser context of its own, closed after the test. */
  open(viewport?: Viewport): Promise<Opened>;
}

/**
 * Registers a console suite's hooks: chromium, a temp dir (`s3-graphql-<name>-`),
 * the app with rate limiting off and `env` on top, on `store` or else on its
 * own embedded store, and an SDK client of that store; the contexts `open`
 * opened are closed after each test, the rest after the suite. The suite's
 * own `beforeAll` (registered after this) runs once all this is up, and its
 * `afterAll` before it is torn down (vitest runs after-hooks as a stack).
 */
export function consoleFixture(
  name: string,
  { store, env = {} }: { store?: StoreUnderTest; env?: Record<string, string> } = {},
): ConsoleFixture {
  let browser: Browser | undefined;
  const opened: BrowserContext[] = [];
  const fixture = {
    async open(viewport = { width: 1440, height: 900 }) {
      const page = await openConsole(browser!, fixture.server, viewport);
      opened.push(page.context);
      return page;
    },
  } as ConsoleFixture;

  beforeAll(async () => {
    browser = await launchChromium();
    fixture.dataDir = await mkdtemp(join(tmpdir(), `s3-graphql-${name}-`));
    const embedded: Record<string, string> = store
      ? {}
      : { DATA_DIR: join(fixture.dataDir, 'store'), EMBEDDED_S3_PORT: '0' };
    fixture.server = await startServer(store, { ...embedded, RATE_LIMIT_PER_MINUTE: '0', ...env });
    fixture.s3 = store ? s3Client(store) : embeddedClient(fixture.server);
  });

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    fixture.s3?.destroy();
    await fixture.server?.close();
    if (fixture.dataDir) await rm(fixture.dataDir, { recursive: true, force: true });
  });

  return fixture;
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

/** A one-page PDF that draws a line of text: the smallest a viewer shows as a page. */
export function tinyPdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    '<< /Length 37 >>\nstream\nBT /F1 18 Tf 20 40 Td (Hello) Tj ET\nendstream',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** Half a second of a 440 Hz tone as an 8 kHz, 8-bit mono WAV. */
export function toneWav(): Buffer {
  const rate = 8000;
  const samples = rate / 2;
  const wav = Buffer.alloc(44 + samples);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate, 28); // bytes per second
  wav.writeUInt16LE(1, 32); // block align
  wav.writeUInt16LE(8, 34); // bits per sample
  wav.write('data', 36);
  wav.writeUInt32LE(samples, 40);
  for (let i = 0; i < samples; i++) wav[44 + i] = 128 + Math.round(100 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return wav;
}

/** A short WebM video (160x120) recorded from a canvas in `page`: chromium encodes it, nothing is downloaded. */
export async function recordedWebm(page: Page): Promise<Buffer> {
  const bytes = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 120;
    const paint = canvas.getContext('2d')!;
    const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: 'video/webm' });
    const chunks: Blob[] = [];
    recorder.ondataavailable = (event) => chunks.push(event.data);
    const stopped = new Promise((resolve) => {
      recorder.onstop = resolve;
    });
    recorder.start();
    for (let frame = 0; frame < 5; frame++) {
      paint.fillStyle = `hsl(${frame * 60} 80% 50%)`;
      paint.fillRect(0, 0, 160, 120);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    recorder.stop();
    await stopped;
    return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
  });
  return Buffer.from(bytes);
}
