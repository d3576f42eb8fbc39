/**
 * GET / HEAD /objects/{bucket}/{key} on the real server, against each test
 * store: full and ranged downloads, validators and conditional requests,
 * keys that need encoding, errors, access control and metrics.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, randomBytes, randomStream, sha256Of } from '../support/data.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import { eventually, metricValue, startServer, storeCalls, type TestServer } from '../support/app.js';

const md5Hex = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

describe.each(testStores())('/objects on $name', (store) => {
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;
  let data: Buffer;
  const objectUrl = (key: string, query = '') => `${server.base}/objects/${bucket}/${encodeKey(key)}${query}`;

  const KEYS = {
    plain: 'plain.bin',
    nested: 'dir/sub/file.txt',
    odd: 'a+b c%d/ünï €.txt',
  };
  const BIG = 'big.bin';
  // Larger than what loopback socket buffers hold while a client is not reading (a few MiB).
  const BIG_SIZE = 16 * 1024 * 1024;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-objects');
    data = await randomBytes(100_000, 'objects');
    for (const key of Object.values(KEYS)) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: data,
          ContentType: 'application/x-test',
          CacheControl: 'max-age=60',
        }),
      );
    }
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: BIG, Body: randomStream(BIG_SIZE, 'big'), ContentLength: BIG_SIZE }),
    );
    server = await startServer(store, { LOG_LEVEL: 'debug' }, { rawLog: true });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('streams a whole object with its validators and headers', async () => {
    const res = await fetch(objectUrl(KEYS.plain));
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${md5Hex(data)}"`);
    expect(res.headers.get('content-type')).toBe('application/x-test');
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    // Without API keys every caller gets the same answer: the stored value goes out as it is.
    expect(res.headers.get('cache-control')).toBe('max-age=60');
    expect(res.headers.get('vary')).toBeNull();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(new Date(res.headers.get('last-modified')!).getTime()).toBeGreaterThan(Date.now() - 3_600_000);
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('serves keys with "/", "+", "%", spaces and Unicode, decoded segment by segment', async () => {
    for (const key of [KEYS.nested, KEYS.odd]) {
      const res = await fetch(objectUrl(key));
      expect(res.status, key).toBe(200);
      expect(digestOf(Buffer.from(await res.arrayBuffer()))).toEqual(digestOf(data));
    }
    // A literal "+" in the path is a plus, never a space; "%2F" is a "/" like the separator.
    const plus = await fetch(`${server.base}/objects/${bucket}/a+b%20c%25d/%C3%BCn%C3%AF%20%E2%82%AC.txt`);
    expect(plus.status).toBe(200);
    await plus.arrayBuffer();
    const slash = await fetch(`${server.base}/objects/${bucket}/dir%2Fsub%2Ffile.txt`);
    expect(slash.status).toBe(200);
    await slash.arrayBuffer();
    const space = await fetch(`${server.base}/objects/${bucket}/a%2Bb+c%25d/%C3%BCn%C3%AF%20%E2%82%AC.txt`);
    expect(space.status).toBe(404);
    await space.arrayBuffer();
  });

  it('answers a Range with 206 and exactly those bytes', async () => {
    const res = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 1000-1999/${data.length}`);
    expect(res.headers.get('content-length')).toBe('1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  });

  it('answers suffix and open-ended ranges', async () => {
    const suffix = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe(`bytes ${data.length - 10}-${data.length - 1}/${data.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.length - 10))).toBe(true);

    const open = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=99990-' } });
    expect(open.status).toBe(206);
    expect(Buffer.from(await open.arrayBuffer()).equals(data.subarray(99_990))).toBe(true);
  });

  it('ignores a Range it cannot serve as one range, and answers the whole object', async () => {
    const res = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=0-1,5-9' } });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(data.length);
  });

  it('answers 416 with Content-Range for a range past the end', async () => {
    const res = await fetch(objectUrl(KEYS.plain), { headers: { range: `bytes=${data.length + 10}-` } });
    expect(res.status).toBe(416);
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(res.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('answers If-None-Match and If-Modified-Since with 304, and a changed ETag with the object', async () => {
    const etag = `"${md5Hex(data)}"`;
    const same = await fetch(objectUrl(KEYS.plain), { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect((await same.arrayBuffer()).byteLength).toBe(0);

    const other = await fetch(objectUrl(KEYS.plain), { headers: { 'if-none-match': '"0123"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();

    const later = new Date(Date.now() + 60_000).toUTCString();
    const notModified = await fetch(objectUrl(KEYS.plain), { headers: { 'if-modified-since': later } });
    expect(notModified.status).toBe(304);
  });

  it('answers a failed If-Match with 412', async () => {
    const res = await fetch(objectUrl(KEYS.plain), { headers: { 'if-match': '"0123"' } });
    expect(res.status).toBe(412);
    await res.arrayBuffer();
  });

  it('honours If-Range: the range while the ETag matches, else the whole object', async () => {
    const etag = `"${md5Hex(data)}"`;
    const match = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=0-9', 'if-range': etag } });
    expect(match.status).toBe(206);
    expect(Buffer.from(await match.arrayBuffer()).equals(data.subarray(0, 10))).toBe(true);
    const stale = await fetch(objectUrl(KEYS.plain), { headers: { range: 'bytes=0-9', 'if-range': '"0123"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(data.length);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetch(objectUrl(KEYS.nested), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('etag')).toBe(`"${md5Hex(data)}"`);
    expect(res.headers.get('content-type')).toBe('application/x-test');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect((await res.arrayBuffer()).byteLength).toBe(0);

    const conditional = await fetch(objectUrl(KEYS.nested), {
      method: 'HEAD',
      headers: { 'if-none-match': `"${md5Hex(data)}"` },
    });
    expect(conditional.status).toBe(304);
    const missing = await fetch(objectUrl('missing'), { method: 'HEAD' });
    expect(missing.status).toBe(404);
  });

  it('asks the browser to save the file with ?download=1', async () => {
    const res = await fetch(objectUrl(KEYS.odd, '?download=1'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="_n_ _.txt"; filename*=UTF-8''%C3%BCn%C3%AF%20%E2%82%AC.txt`,
    );
    await res.arrayBuffer();
  });

  it('answers a missing key or bucket with 404 JSON', async () => {
    const key = await fetch(objectUrl('no/such/key'));
    expect(key.status).toBe(404);
    expect(await key.json()).toMatchObject({ errors: [{ extensions: { code: 'NO_SUCH_KEY' } }] });
    const noBucket = await fetch(`${server.base}/objects/no-such-bucket-${Date.now()}/k`);
    expect(noBucket.status).toBe(404);
    expect(await noBucket.json()).toMatchObject({ errors: [{ extensions: { code: 'NO_SUCH_BUCKET' } }] });
  });

  it('answers 400 for an invalid bucket name, a missing key or bad percent-encoding, without asking the store', async () => {
    const before = await storeCalls(server.metrics);
    for (const path of [
      '/objects/Bad_Bucket/k',
      `/objects/${bucket}/`,
      `/objects/${bucket}`,
      `/objects/${bucket}/%E0%A4%A`,
    ]) {
      const res = await fetch(`${server.base}${path}`);
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    expect(await storeCalls(server.metrics)).toBe(before);
    const put = await fetch(objectUrl(KEYS.plain), { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
  });

  it('counts the bytes it sends', async () => {
    const before = await metricValue(server.metrics, 's3graphql_download_bytes_total');
    const res = await fetch(objectUrl(KEYS.plain));
    await res.arrayBuffer();
    await eventually(
      async () => (await metricValue(server.metrics, 's3graphql_download_bytes_total')) >= before + data.length,
    );
    expect(await metricValue(server.metrics, 's3graphql_download_bytes_total')).toBe(before + data.length);
  });

  it('streams a large object byte-exact', async () => {
    const res = await fetch(objectUrl(BIG));
    expect(res.status).toBe(200);
    const got = await sha256Of(res.body as unknown as AsyncIterable<Uint8Array>);
    expect(got).toEqual(await sha256Of(randomStream(BIG_SIZE, 'big')));
  });

  it('stops reading from the store when the client goes away mid-download', async () => {
    const requestId = `gone-${Date.now()}`;
    const before = await metricValue(server.metrics, 's3graphql_download_bytes_total');
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(objectUrl(BIG), { headers: { 'x-request-id': requestId } }, (res) => {
        // Stop reading, so the server cannot finish into socket buffers, then go away mid-body.
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
      req.end();
    });
    const linesOf = () => JSON.stringify(server.logs.filter((l) => l.requestId === requestId));
    expect(
      await eventually(
        () =>
          server.logs.some(
            (l) => l.requestId === requestId && l.msg === 'request ended before its response was complete',
          ),
        15_000,
      ),
      linesOf(),
    ).toBe(true);
    // The store stream was destroyed with the response: the pipeline reported the client's departure.
    expect(
      await eventually(
        () => server.logs.some((l) => l.requestId === requestId && l.msg === 'client went away during a download'),
        15_000,
      ),
      linesOf(),
    ).toBe(true);
    expect(
      server.logs.some((l) => l.requestId === requestId && l.msg === 'download stream failed'),
      linesOf(),
    ).toBe(false);
    // Only part of the object went out: the server stopped instead of draining the store.
    expect(await metricValue(server.metrics, 's3graphql_download_bytes_total')).toBeLessThan(before + BIG_SIZE);
    // And the server still serves.
    expect((await fetch(objectUrl(KEYS.plain), { method: 'HEAD' })).status).toBe(200);
  });
});

describe('/objects access control', () => {
  const store = testStores()[0]!;
  const reader = 'reader-token-0123456789';
  const other = 'other-token-0123456789';
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-objects-auth');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'secret' }));
    server = await startServer(
      store,
      {
        API_KEYS: JSON.stringify({
          keys: [
            { name: 'reader', token: reader, grants: [{ bucket, role: 'read' }] },
            { name: 'other', token: other, grants: [{ bucket: 'some-other-bucket', role: 'admin' }] },
          ],
        }),
        LOG_LEVEL: 'debug',
      },
      // The server itself must never write the token: no scrubber to catch it.
      { rawLog: true },
    );
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('needs a key with read on the bucket; refusals never reach the store', async () => {
    const url = `${server.base}/objects/${bucket}/k`;
    const before = await storeCalls(server.metrics);
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(await anonymous.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    const unknown = await fetch(url, { headers: { authorization: 'Bearer not-a-known-token-000' } });
    expect(unknown.status).toBe(401);
    await unknown.arrayBuffer();
    const forbidden = await fetch(url, { headers: { authorization: `Bearer ${other}` } });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    expect(await storeCalls(server.metrics)).toBe(before);

    const allowed = await fetch(url, { headers: { authorization: `Bearer ${reader}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe('secret');
    expect(JSON.stringify(server.logs)).not.toContain(reader);
  });

  it('marks answers to a key private and varying by Authorization, whatever Cache-Control the object was stored with', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'cached',
        Body: 'secret',
        CacheControl: 'public, s-maxage=600, max-age=31536000',
      }),
    );
    const url = `${server.base}/objects/${bucket}/cached`;
    const auth = { authorization: `Bearer ${reader}` };
    const full = await fetch(url, { headers: auth });
    const etag = full.headers.get('etag')!;
    const head = await fetch(url, { method: 'HEAD', headers: auth });
    const partial = await fetch(url, { headers: { ...auth, range: 'bytes=0-1' } });
    const unchanged = await fetch(url, { headers: { ...auth, 'if-none-match': etag } });
    const answers = { full, head, partial, unchanged };
    expect(Object.values(answers).map((res) => res.status)).toEqual([200, 200, 206, 304]);
    for (const [name, res] of Object.entries(answers)) {
      await res.arrayBuffer();
      // A store's 304 may not repeat the stored Cache-Control: then the answer says `private` alone.
      expect(res.headers.get('cache-control'), name).toMatch(
        name === 'unchanged' ? /^private(, max-age=31536000)?$/ : /^private, max-age=31536000$/,
      );
      expect(res.headers.get('vary'), name).toBe('Authorization');
    }
  });
});

describe('/objects when the store fails mid-body', () => {
  let store: Server;
  let server: TestServer;
  const announced = 1024 * 1024;

  beforeAll(async () => {
    // A store whose connection drops after 64 KiB of a 1 MiB object: the failure a real store shows when it dies mid-download.
    store = createHttpServer((req, res) => {
      res.writeHead(200, {
        'content-length': String(announced),
        etag: '"0123456789abcdef0123456789abcdef"',
        'content-type': 'application/octet-stream',
      });
      res.write(Buffer.alloc(64 * 1024), () => res.socket?.destroy());
      req.resume();
    });
    await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
    const { port } = store.address() as AddressInfo;
    server = await startServer(
      { endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'test', secretAccessKey: 'test-secret' } },
      { LOG_LEVEL: 'debug' },
      { rawLog: true },
    );
  });

  afterAll(async () => {
    await server?.close();
    store.closeAllConnections();
    await new Promise((resolve) => store.close(resolve));
  });

  it('cuts the response short and logs the store failure, not a departed client', async () => {
    const requestId = `cut-${Date.now()}`;
    const received = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${server.base}/objects/some-bucket/some-key`,
        { headers: { 'x-request-id': requestId } },
        (res) => {
          expect(res.headers['content-length']).toBe(String(announced));
          let bytes = 0;
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('error', () => resolve(bytes));
          res.on('close', () => resolve(bytes));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(received).toBeLessThan(announced);
    const linesOf = () => JSON.stringify(server.logs.filter((l) => l.requestId === requestId));
    expect(
      await eventually(() =>
        server.logs.some((l) => l.requestId === requestId && l.msg === 'download stream failed' && l.level === 40),
      ),
      linesOf(),
    ).toBe(true);
    expect(
      server.logs.some((l) => l.requestId === requestId && l.msg === 'client went away during a download'),
      linesOf(),
    ).toBe(false);
  });
});
