/**
 * What the console's browser tests share: a console page whose requests are
 * kept on the server's origin (test/support/browser.ts), screenshots, and
 * reading the store.
 */
import { mkdirSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import type { TestServer } from '../support/app.js';
import { type GuardedPage, guardedPage } from '../support/browser.js';
import { gradientPng } from '../support/png.js';

/** Where the tests leave their screenshots (the README's come from here: CONSOLE_SCREENSHOTS=docs). */
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

export const NOTES = 'Meeting notes\n- ship the console\n- åäö: UTF-8 survives\n';
export const PHOTO = gradientPng(240, 160);

interface Opened extends GuardedPage {
  /** Paths and methods of every request the page made to its server. */
  requests: string[];
}

/** The console on `server`, every request leaving its origin refused and recorded, console and page errors recorded. */
export async function openConsole(
  browser: Browser,
  server: TestServer,
  viewport = { width: 1440, height: 900 },
): Promise<Opened> {
  const origin = new URL(server.base).origin;
  const opened = await guardedPage(browser, (url) => url.origin === origin, { viewport });
  const requests: string[] = [];
  opened.page.on('request', (req) => {
    requests.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  await opened.page.goto(`${server.base}/`);
  return { ...opened, requests };
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
