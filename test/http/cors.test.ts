/**
 * CORS for frontends on other origins (CORS_ORIGINS) on `/graphql` and
 * `/objects/…`, sent as a browser sends it: a preflight (OPTIONS with Origin
 * and Access-Control-Request-Method, no credentials), then the request with
 * its Origin. Only listed origins are granted; the settings are checked at
 * start-up.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startServer, type TestServer } from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

const FRONTEND = 'https://app.example.com';
const OTHER = 'https://evil.example.net';
const TOKEN = 'browser-token-of-enough-length';
const API_KEYS = JSON.stringify({ keys: [{ name: 'web', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] }] });

const REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'apollo-require-preflight',
  'x-graphql-csrf',
  'x-request-id',
  'range',
  'if-none-match',
  'if-match',
];
const EXPOSED = ['x-request-id', 'etag', 'content-range', 'content-length', 'content-disposition', 'retry-after'];

const list = (value: string | null) => (value ?? '').split(',').map((v) => v.trim().toLowerCase());

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** A browser's preflight: no credentials, the method and headers the page is about to use. */
const preflight = (url: string, origin: string, method: string, headers: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });

const store = storeForSecurity(testStores());

describe('CORS_ORIGINS', () => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;

  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'cors');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'page.txt', Body: 'hello browser' }));
    // A per-minute limit of 1 would refuse any second request: preflights must not count.
    app = await startServer(store, { CORS_ORIGINS: `${FRONTEND}, http://localhost:5173`, API_KEYS });
  });

  afterAll(async () => {
    await app?.close();
    await removeBucket(s3, bucket);
  });

  it('answers a preflight from a listed origin with 204, the methods, the request headers clients use, a max age and Vary', async () => {
    for (const [path, method] of [
      ['/graphql', 'POST'],
      [`/objects/${bucket}/page.txt`, 'GET'],
    ] as const) {
      const res = await preflight(`${app.base}${path}`, FRONTEND, method, 'authorization, content-type');
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(FRONTEND);
      expect(list(res.headers.get('access-control-allow-methods'))).toContain(method.toLowerCase());
      expect(list(res.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(REQUEST_HEADERS));
      expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
      expect(list(res.headers.get('vary'))).toContain('origin');
    }
    // Before authentication: a preflight carries no key, and is not refused for it.
    const local = await preflight(app.url, 'http://localhost:5173', 'POST', 'apollo-require-preflight');
    expect(local.status).toBe(204);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it('grants actual answers of /graphql and /objects to a listed origin, exposing the headers a page reads', async () => {
    const gql = await fetch(app.url, {
      method: 'POST',
      headers: { origin: FRONTEND, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(gql.status).toBe(200);
    expect(await gql.json()).toEqual({ data: { __typename: 'Query' } });
    const download = await fetch(`${app.base}/objects/${bucket}/page.txt`, {
      headers: { origin: FRONTEND, authorization: `Bearer ${TOKEN}` },
    });
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('hello browser');
    for (const res of [gql, download]) {
      expect(res.headers.get('access-control-allow-origin')).toBe(FRONTEND);
      expect(list(res.headers.get('vary'))).toContain('origin');
      expect(list(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(EXPOSED));
    }
    // Errors are granted too, so the page can read why (here: no key).
    const refused = await fetch(`${app.base}/objects/${bucket}/page.txt`, { headers: { origin: FRONTEND } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(FRONTEND);
  });

  it('grants nothing to an origin that is not listed', async () => {
    const pre = await preflight(app.url, OTHER, 'POST', 'authorization');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toBeNull();
    const gql = await fetch(app.url, {
      method: 'POST',
      headers: { origin: OTHER, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(gql.status).toBe(200);
    expect(gql.headers.get('access-control-allow-origin')).toBeNull();
    expect(gql.headers.get('access-control-expose-headers')).toBeNull();
    expect(list(gql.headers.get('vary'))).toContain('origin');
    // A prefix of a listed origin is another origin.
    const near = await preflight(app.url, `${FRONTEND}.evil.net`, 'POST', 'authorization');
    expect(near.status).toBe(403);
  });

  it('grants nothing by default', async () => {
    const plain = await startServer(store);
    try {
      const pre = await preflight(plain.url, FRONTEND, 'POST', 'content-type');
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const res = await fetch(plain.url, {
        method: 'POST',
        headers: { origin: FRONTEND, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe('CORS_ORIGINS at start-up', () => {
  it('takes "*" only with API keys and without anonymous access', () => {
    const star = /^CORS_ORIGINS: "\*" needs API_KEYS/;
    expect(problems({ CORS_ORIGINS: '*' })).toEqual([expect.stringMatching(star)]);
    expect(problems({ CORS_ORIGINS: '*', API_KEYS, ALLOW_ANONYMOUS: 'true' })).toEqual([expect.stringMatching(star)]);
    expect(loadConfig({ CORS_ORIGINS: '*', API_KEYS }).corsOrigins).toEqual(['*']);
    expect(problems({ CORS_ORIGINS: `*, ${FRONTEND}`, API_KEYS })).toEqual([
      'CORS_ORIGINS: "*" stands alone, not in a list of origins',
    ]);
  });

  it('takes exact origins as browsers send them, and says what is wrong with the others', () => {
    expect(loadConfig({ CORS_ORIGINS: ` ${FRONTEND} ,http://127.0.0.1:8080,` }).corsOrigins).toEqual([
      FRONTEND,
      'http://127.0.0.1:8080',
    ]);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(
      problems({
        CORS_ORIGINS: 'https://app.example.com/, app.example.com, ftp://files.example.com, https://App.example.com:443',
      }),
    ).toEqual([
      'CORS_ORIGINS: "https://app.example.com/" is not written as browsers send it: use https://app.example.com',
      'CORS_ORIGINS: "app.example.com" is not an origin such as https://app.example.com',
      'CORS_ORIGINS: "ftp://files.example.com" is not an http or https origin',
      'CORS_ORIGINS: "https://App.example.com:443" is not written as browsers send it: use https://app.example.com',
    ]);
  });

  it('takes PUBLIC_URL as an origin (presigned URLs sign their path, so a path cannot be rewritten)', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://api.example.com/' }).publicUrl).toBe('https://api.example.com');
    expect(loadConfig({}).publicUrl).toBeUndefined();
    expect(problems({ PUBLIC_URL: 'https://example.com/api' })).toEqual([
      'PUBLIC_URL: "https://example.com/api" has more than scheme://host[:port] (no path, query or user)',
    ]);
  });
});
