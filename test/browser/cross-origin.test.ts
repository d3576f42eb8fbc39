/**
 * An Apollo Client frontend on another origin, in a real browser: the page
 * in ./apollo-page (Apollo Client with apollo-upload-client, set up as the
 * README says) is bundled with Vite's build API and served by a tiny static
 * server on its own loopback port, so the API's port is another origin.
 *
 * - With CORS_ORIGINS naming the page's origin, its queries, uploads and
 *   downloads work and it may read the headers the API exposes; without,
 *   the browser refuses: the page sees a network error and the API runs no
 *   GraphQL at all (only the preflight reaches it).
 * - A presigned PUT from the page (the embedded default: PUBLIC_URL/s3/)
 *   lands in the store byte-exact once the bucket's CORS rules (set with
 *   setBucketCors) allow the page's origin, and is refused by the browser
 *   before.
 *
 * Only loopback requests leave the browser. Skipped, with the reason
 * printed, when chromium is not installed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, startServer } from '../support/app.js';
import { guardedPage, haveChromium, launchChromium } from '../support/browser.js';
import { randomBytes } from '../support/data.js';
import { embeddedClient, outcomeOf } from '../support/stores.js';

const PAGE_SOURCES = fileURLToPath(new URL('./apollo-page/', import.meta.url));
const TOKEN = 'cross-origin-browser-token-0123';
const API_KEYS = JSON.stringify({
  keys: [{ name: 'frontend', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] }],
});
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** What Chromium's fetch rejects with when CORS refuses a request. */
const NETWORK_ERROR = 'TypeError: Failed to fetch';

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves the built page from `root` on 127.0.0.1; anything else is 404. */
async function staticServer(root: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = join(root, normalize(path === '/' ? '/index.html' : path));
    stat(file).then(
      (info) => {
        if (!file.startsWith(root) || !info.isFile()) throw new Error('not a file');
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A server with its own embedded store (the default set-up), and an SDK client for that store. */
async function apiWithEmbeddedStore(env: Record<string, string>) {
  const dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-cross-origin-'));
  const app = await startServer(undefined, {
    DATA_DIR: dataDir,
    EMBEDDED_S3_PORT: '0',
    API_KEYS,
    RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const s3 = embeddedClient(app);
  return {
    app,
    s3,
    async close() {
      s3.destroy();
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const bytesIn = async (s3: S3Client, bucket: string, key: string) =>
  Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());

describe.skipIf(!haveChromium())('an Apollo Client page on another origin', () => {
  let browser: Browser;
  let built: string;
  let pageServer: Server;
  let pageOrigin: string;
  const opened: BrowserContext[] = [];

  beforeAll(async () => {
    built = await mkdtemp(join(tmpdir(), 's3-graphql-apollo-page-'));
    await build({
      root: PAGE_SOURCES,
      configFile: false,
      logLevel: 'warn',
      build: { outDir: built, emptyOutDir: true },
    });
    ({ server: pageServer, origin: pageOrigin } = await staticServer(built));
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
    await rm(built, { recursive: true, force: true });
  });

  /** The page on its own origin; only loopback requests leave the browser. Not routed: Playwright would grant every preflight. */
  async function openPage() {
    const opened_ = await guardedPage(browser, (url) => url.hostname === '127.0.0.1', { route: false });
    opened.push(opened_.context);
    await opened_.page.goto(pageOrigin);
    await opened_.page.waitForFunction(() => 'page' in window);
    return opened_;
  }

  /** Runs one of the page's actions (window.page in ./apollo-page/main.ts) in the page. */
  const act = <T>(page: Page, action: string, ...args: string[]) =>
    page.evaluate(
      ([name, rest]) =>
        (window as unknown as { page: Record<string, (...a: string[]) => Promise<unknown>> }).page[name]!(...rest),
      [action, args] as const,
    ) as Promise<Outcome<T>>;

  describe('with CORS_ORIGINS naming its origin', () => {
    let api: Awaited<ReturnType<typeof apiWithEmbeddedStore>>;

    beforeAll(async () => {
      api = await apiWithEmbeddedStore({ CORS_ORIGINS: pageOrigin });
      await api.s3.send(new CreateBucketCommand({ Bucket: 'frontend' }));
    });
    afterAll(() => api?.close());

    it('runs a query, uploads a file through apollo-upload-client, and downloads it reading the exposed headers', async () => {
      const { page, outside, errors } = await openPage();
      const base = api.app.base;

      expect(await act<string[]>(page, 'buckets', base, TOKEN)).toEqual({ ok: true, value: ['frontend'] });

      const bytes = await randomBytes(200 * 1024 + 3, 'cross-origin-upload');
      const uploaded = await act(page, 'upload', base, TOKEN, 'frontend', 'from-page.bin', bytes.toString('base64'));
      expect(uploaded).toMatchObject({
        ok: true,
        value: { uploadObject: { key: 'from-page.bin', size: bytes.length } },
      });
      expect((await bytesIn(api.s3, 'frontend', 'from-page.bin')).equals(bytes)).toBe(true);

      const downloaded = await act<{ status: number; size: number; headers: Record<string, string | null> }>(
        page,
        'download',
        base,
        TOKEN,
        'frontend',
        'from-page.bin',
      );
      expect(downloaded.ok).toBe(true);
      const { status, size, headers } = (
        downloaded as { value: { status: number; size: number; headers: Record<string, string | null> } }
      ).value;
      expect([status, size]).toEqual([200, bytes.length]);
      // The headers CORS exposes can be read; content-type is one a page may always read.
      expect(headers['x-request-id']).toMatch(/\S/);
      expect(headers.etag).toBe(`"${createHash('md5').update(bytes).digest('hex')}"`);
      expect(headers['content-length']).toBe(String(bytes.length));
      expect(headers['content-disposition']).toMatch(/^attachment/);
      expect(headers['content-type']).toBe('application/octet-stream');

      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    });

    it("a presigned PUT from the page lands byte-exact once the bucket's CORS rules allow the page, and is refused before", async () => {
      const { page, outside } = await openPage();
      const base = api.app.base;
      const bytes = await randomBytes(100 * 1024 + 1, 'cross-origin-presigned');
      const put = (key: string) =>
        act<{ url: string; status: number; etag: string | null }>(
          page,
          'presignedPut',
          base,
          TOKEN,
          'frontend',
          key,
          bytes.toString('base64'),
          'image/png',
        );

      // No rules: the store refuses the preflight, so the browser never sends the PUT.
      expect(await put('refused.png')).toEqual({ ok: false, error: NETWORK_ERROR });
      expect(await outcomeOf(api.s3.send(new HeadObjectCommand({ Bucket: 'frontend', Key: 'refused.png' })))).toEqual({
        ok: false,
        status: 404,
        code: 'NotFound',
      });

      const rules = [
        {
          allowedOrigins: [pageOrigin],
          allowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
          allowedHeaders: ['*'],
          exposeHeaders: ['ETag'],
          maxAgeSeconds: 3000,
        },
      ];
      const set = await api.app.gql(
        'mutation ($rules: [CorsRuleInput!]!) { setBucketCors(bucket: "frontend", rules: $rules) { name } }',
        { rules },
        AUTH,
      );
      expect(set.errors).toBeUndefined();

      const landed = await put('photos/landed.png');
      expect(landed).toEqual({
        ok: true,
        value: {
          url: expect.stringMatching(new RegExp(`^${base}/s3/frontend/photos/landed\\.png\\?`)),
          status: 200,
          // Readable only because the rule exposes ETag.
          etag: `"${createHash('md5').update(bytes).digest('hex')}"`,
        },
      });
      const stored = await api.s3.send(new GetObjectCommand({ Bucket: 'frontend', Key: 'photos/landed.png' }));
      expect(stored.ContentType).toBe('image/png');
      expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(bytes)).toBe(true);
      expect(outside).toEqual([]);
    });
  });

  describe('without CORS_ORIGINS', () => {
    let api: Awaited<ReturnType<typeof apiWithEmbeddedStore>>;

    beforeAll(async () => {
      api = await apiWithEmbeddedStore({});
    });
    afterAll(() => api?.close());

    it('is refused by the browser: the page sees a network error and the API runs no GraphQL', async () => {
      const { page, outside } = await openPage();
      const base = api.app.base;

      expect(await act(page, 'buckets', base, TOKEN)).toEqual({ ok: false, error: NETWORK_ERROR });
      expect(await act(page, 'createBucket', base, TOKEN, 'never-made')).toEqual({ ok: false, error: NETWORK_ERROR });

      expect(await outcomeOf(api.s3.send(new HeadBucketCommand({ Bucket: 'never-made' })))).toMatchObject({
        ok: false,
        status: 404,
      });
      const { metrics } = api.app;
      expect(await metricValue(metrics, 's3graphql_graphql_operations_total')).toBe(0);
      // Only the preflights reached /graphql, and were refused.
      expect(
        await metricValue(metrics, 's3graphql_http_requests_total', {
          route: 'graphql',
          method: 'OPTIONS',
          status: '403',
        }),
      ).toBe(2);
      expect(await metricValue(metrics, 's3graphql_http_requests_total', { route: 'graphql', method: 'POST' })).toBe(0);
      expect(outside).toEqual([]);
    });
  });
});
