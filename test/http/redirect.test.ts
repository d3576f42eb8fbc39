/**
 * `GET /objects/{bucket}/{key}?redirect=1`: after the same checks as a
 * download, a 307 to a short-lived presigned GET, so the bytes come from the
 * store. Against each test store (followed by hand and by fetch itself), and
 * on the embedded default, where the URL points at the API's own `/s3/`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIRECT_URL_SECONDS } from '../../src/http/routes/objects.js';
import { startServer, storeCalls, type TestServer } from '../support/app.js';
import { digestOf, randomBytes } from '../support/data.js';
import { per } from '../support/deviations.js';
import { createTestBucket, embeddedClient, removeBucket, s3Client, testStores } from '../support/stores.js';

const READER = 'redirect-reader-token-of-enough-length';
const OTHER = 'redirect-other-token-of-enough-length';
const KEY = 'dir/report 2026 ü.bin';

const keysFor = (bucket: string) =>
  JSON.stringify({
    keys: [
      { name: 'reader', token: READER, grants: [{ bucket, role: 'read' }] },
      { name: 'other', token: OTHER, grants: [{ bucket: 'some-other-bucket', role: 'admin' }] },
    ],
  });
const as = (token: string) => ({ authorization: `Bearer ${token}` });
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The presigned URL's lifetime as it says itself (X-Amz-Expires). */
const lifetimeOf = (url: string) => Number(new URL(url).searchParams.get('X-Amz-Expires'));

describe.each(testStores())('GET /objects?redirect=1 on $name', (store) => {
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;
  let data: Buffer;
  const url = (query: string) => `${server.base}/objects/${bucket}/${encodeKey(KEY)}?${query}`;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-redirect');
    data = await randomBytes(300_000, 'redirect');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: data, ContentType: 'application/x-test' }));
    server = await startServer(store, { API_KEYS: keysFor(bucket) });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('answers 307 to a presigned GET of the store that lands the bytes exactly', async () => {
    const res = await fetch(url('redirect=1'), { headers: as(READER), redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${store.endpoint}/`)).toBe(true);
    expect(lifetimeOf(location)).toBe(REDIRECT_URL_SECONDS);
    expect(await res.text()).toBe('');

    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    expect(followed.headers.get('content-type')).toBe('application/x-test');
    expect(digestOf(new Uint8Array(await followed.arrayBuffer()))).toEqual(digestOf(data));
  });

  it('lets fetch follow it by itself, Range included', async () => {
    const whole = await fetch(url('redirect=true'), { headers: as(READER) });
    expect(whole.redirected).toBe(true);
    expect(digestOf(new Uint8Array(await whole.arrayBuffer()))).toEqual(digestOf(data));

    const part = await fetch(url('redirect=1'), { headers: { ...as(READER), range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  });

  it('with download=1, the store answers with the attachment disposition /objects would send', async () => {
    const res = await fetch(url('redirect=1&download=1'), { headers: as(READER), redirect: 'manual' });
    const followed = await fetch(res.headers.get('location')!);
    expect(followed.headers.get('content-disposition')).toBe(
      per(store, 'getObject.responseOverrides', {
        aws: `attachment; filename="report 2026 _.bin"; filename*=UTF-8''report%202026%20%C3%BC.bin`,
        deviation: null,
      }),
    );
    await followed.arrayBuffer();
  });

  it('refuses a caller without read as a download would, with no Location and no store call', async () => {
    const before = await storeCalls(server.metrics);
    const forbidden = await fetch(url('redirect=1'), { headers: as(OTHER), redirect: 'manual' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('location')).toBeNull();
    expect(await forbidden.json()).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    const anonymous = await fetch(url('redirect=1'), { redirect: 'manual' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('location')).toBeNull();
    await anonymous.arrayBuffer();
    expect(await storeCalls(server.metrics)).toBe(before);
  });

  it('leaves HEAD as it is (the URL would be signed for GET)', async () => {
    const head = await fetch(url('redirect=1'), { method: 'HEAD', headers: as(READER), redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('location')).toBeNull();
    expect(head.headers.get('content-length')).toBe(String(data.length));
  });
});

describe('GET /objects?redirect=1 on the embedded default', () => {
  let dataDir: string;
  let server: TestServer;
  let data: Buffer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-redirect-'));
    server = await startServer(undefined, { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0', API_KEYS: keysFor('pages') });
    const s3 = embeddedClient(server);
    data = Buffer.from('<script>document.title = "ran"</script>');
    await s3.send(new CreateBucketCommand({ Bucket: 'pages' }));
    await s3.send(new PutObjectCommand({ Bucket: 'pages', Key: 'page.html', Body: data, ContentType: 'text/html' }));
    s3.destroy();
  });

  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("points at the API's own /s3/ and serves the file there with the /objects safety headers", async () => {
    const res = await fetch(`${server.base}/objects/pages/page.html?redirect=1`, {
      headers: as(READER),
      redirect: 'manual',
    });
    expect(res.status).toBe(307);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${server.base}/s3/pages/page.html?`)).toBe(true);

    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    expect(followed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(followed.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await followed.arrayBuffer()).equals(data)).toBe(true);
  });

  it('lands the bytes when fetch follows it with the Authorization header (same origin keeps it)', async () => {
    const res = await fetch(`${server.base}/objects/pages/page.html?redirect=1`, { headers: as(READER) });
    expect(res.redirected).toBe(true);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });
});
