/**
 * The embedded store over HTTP, through @aws-sdk/client-s3 (both checksum
 * modes) and hand-signed requests: what is specific to this store and its
 * safety. Generic S3 behaviour is covered against every store by
 * test/conformance.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteObjectsCommand,
  GetBucketCorsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/embedded/index.js';
import { digestOf, expectedDigest, MiB, multipartEtag, randomStream, sha256Of } from '../support/data.js';
import { outcomeOf } from '../support/stores.js';

type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';

let root: string;
let store: EmbeddedStore;
const clients: S3Client[] = [];
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'embedded-server-'));
  store = await startEmbeddedStore({ dataDir: join(root, 'data'), port: 0 });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await store?.close();
  await rm(root, { recursive: true, force: true });
});

function client(mode: ChecksumMode = 'WHEN_REQUIRED'): S3Client {
  const c = new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...store.credentials },
    maxAttempts: 1,
    requestChecksumCalculation: mode,
    responseChecksumValidation: mode,
  });
  clients.push(c);
  return c;
}

async function newBucket(s3: S3Client): Promise<string> {
  const bucket = `test-${++counter}-${Date.now().toString(36)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  continued: boolean;
}

function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Sends a request as given (path not normalised), signed with the store's key. */
async function raw(
  method: string,
  path: string,
  options: {
    query?: Record<string, string | string[]>;
    headers?: Record<string, string>;
    body?: Buffer | string;
    secret?: string;
    region?: string;
    /** Sign as a presigned URL (query string) instead of with the Authorization header. */
    presign?: boolean;
    /** Appended to the target after signing, as it goes on the wire (fetch would strip a fragment). */
    suffix?: string;
    expectContinue?: boolean;
  } = {},
): Promise<RawResponse> {
  const { hostname, port, host } = new URL(store.endpoint);
  const query = options.query ?? {};
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers: Record<string, string> = {
    host,
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    ...(body ? { 'content-length': String(body.length) } : {}),
    ...options.headers,
  };
  const signer = new SignatureV4({
    service: 's3',
    region: options.region ?? 'us-east-1',
    credentials: { ...store.credentials, ...(options.secret ? { secretAccessKey: options.secret } : {}) },
    sha256: Sha256,
    uriEscapePath: false,
  });
  const request = new HttpRequest({ method, protocol: 'http:', hostname, port: Number(port), path, query, headers });
  const signed = options.presign ? await signer.presign(request, { expiresIn: 300 }) : await signer.sign(request);
  const qs = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => [v ?? ''].flat().map((one) => (one === '' ? encode(k) : `${encode(k)}=${encode(one)}`)))
    .join('&');
  return new Promise<RawResponse>((resolve, reject) => {
    let continued = false;
    const req = http.request({
      hostname,
      port,
      method,
      path: `${qs ? `${path}?${qs}` : path}${options.suffix ?? ''}`,
      headers: { ...signed.headers, ...(options.expectContinue ? { expect: '100-continue' } : {}) },
      agent: false,
    });
    req.on('error', reject);
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(), continued }),
      );
      res.on('error', reject);
    });
    if (options.expectContinue) req.flushHeaders();
    else req.end(body);
  });
}

function errorCode(response: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(response.body)?.[1];
}

async function text(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

describe.each(['WHEN_SUPPORTED', 'WHEN_REQUIRED'] as const)('with %s checksums', (mode) => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = client(mode);
    bucket = await newBucket(s3);
  });

  it('round-trips a streamed 20 MiB object byte-exact', async () => {
    const size = 20 * MiB + 123;
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'big.bin', Body: randomStream(size, mode), ContentLength: size }),
    );
    const expected = await expectedDigest(size, mode);
    expect(put.ETag).toBe(`"${expected.md5}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    expect(got.ContentLength).toBe(size);
    expect(await sha256Of(got.Body as AsyncIterable<Uint8Array>)).toEqual(expected);
    // The verified CRC32 of the upload is kept and returned when asked for; the SDK checks it.
    if (mode === 'WHEN_SUPPORTED') expect(got.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/);
  });

  it('completes a 3-part upload with the -3 ETag, keeping its content type and metadata', async () => {
    const key = 'multi/part.bin';
    const created = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: 'video/mp4',
        Metadata: { Origin: 'camera' },
      }),
    );
    const uploadId = created.UploadId!;
    const sizes = [5 * MiB, 5 * MiB, 1000];
    const parts = await Promise.all(
      sizes.map((size, i) =>
        s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: i + 1,
            Body: randomStream(size, `${mode}-${i}`),
            ContentLength: size,
          }),
        ),
      ),
    );
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 2 }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
    ]);
    expect([listed.IsTruncated, listed.NextPartNumberMarker]).toEqual([true, '2']);
    const rest = await s3.send(
      new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: '2' }),
    );
    expect(rest.Parts?.map((p) => [p.PartNumber, p.ETag])).toEqual([[3, parts[2]!.ETag]]);
    expect(rest.IsTruncated).toBe(false);

    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p, i) => ({ PartNumber: i + 1, ETag: p.ETag })) },
      }),
    );
    expect(done.ETag).toBe(multipartEtag(parts.map((p) => p.ETag!)));
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect([head.ContentLength, head.ContentType, head.Metadata, head.ETag]).toEqual([
      10 * MiB + 1000,
      'video/mp4',
      { origin: 'camera' },
      done.ETag,
    ]);
    const second = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 }));
    expect([second.$metadata.httpStatusCode, second.PartsCount, second.ContentRange]).toEqual([
      206,
      3,
      `bytes ${5 * MiB}-${10 * MiB - 1}/${10 * MiB + 1000}`,
    ]);
    expect(await sha256Of(second.Body as AsyncIterable<Uint8Array>)).toEqual(
      await expectedDigest(5 * MiB, `${mode}-1`),
    );

    for (const call of [
      () => s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
      () => s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: 'x' })),
      () => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
    ]) {
      expect(await outcomeOf(call())).toEqual({ ok: false, status: 404, code: 'NoSuchUpload' });
    }
  });

  it('refuses a body that does not match its Content-MD5', async () => {
    const wrong = createHash('md5').update('other').digest('base64');
    expect(
      await outcomeOf(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5', Body: 'content', ContentMD5: wrong })),
      ),
    ).toEqual({
      ok: false,
      status: 400,
      code: 'BadDigest',
    });
    const right = createHash('md5').update('content').digest('base64');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5', Body: 'content', ContentMD5: right }));
    expect(await text((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'md5' }))).Body)).toBe('content');
  });

  it('DeleteObjects takes up to 1000 keys', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
    expect(await outcomeOf(s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: many } })))).toEqual({
      ok: false,
      status: 400,
      code: 'MalformedXML',
    });
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: many.slice(0, 1000), Quiet: true } }),
    );
    expect([out.Deleted, out.Errors]).toEqual([undefined, undefined]);
  });
});

describe('requests', () => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = client();
    bucket = await newBucket(s3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ten', Body: '0123456789' }));
  });

  it('answers errors as S3 error documents carrying the request id; HEAD errors have no body', async () => {
    const missing = await raw('GET', `/${bucket}/no/such%20key`);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/xml');
    const id = missing.headers['x-amz-request-id'] as string;
    expect(id).toMatch(/^[0-9A-F]{16}$/);
    expect(missing.body).toContain('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>');
    expect(missing.body).toContain(
      `<Key>no/such key</Key><Resource>/${bucket}/no/such key</Resource><RequestId>${id}</RequestId></Error>`,
    );
    const head = await raw('HEAD', `/${bucket}/missing`);
    expect([head.status, head.body, head.headers['x-amz-request-id']]).toEqual([
      404,
      '',
      expect.stringMatching(/^[0-9A-F]{16}$/),
    ]);
    const noBucket = await raw('GET', '/no-such-bucket-here/k');
    expect([noBucket.status, errorCode(noBucket)]).toEqual([404, 'NoSuchBucket']);
  });

  it('answers unsupported operations with NotImplemented and unknown methods with MethodNotAllowed', async () => {
    expect(await outcomeOf(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'ten' })))).toEqual({
      ok: false,
      status: 501,
      code: 'NotImplemented',
    });
    const patch = await raw('PATCH', `/${bucket}/ten`);
    expect([patch.status, errorCode(patch)]).toEqual([405, 'MethodNotAllowed']);
    const post = await raw('POST', `/${bucket}/ten`);
    expect([post.status, errorCode(post)]).toEqual([405, 'MethodNotAllowed']);
  });

  it('refuses unsigned and wrongly signed requests before anything else', async () => {
    const unsigned = await new Promise<number>((resolve, reject) => {
      http
        .get(`${store.endpoint}/${bucket}/ten`, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });
    expect(unsigned).toBe(403);
    const wrong = await raw('GET', `/no-such-bucket-here/k`, { secret: 'not-the-secret-key-at-all' });
    expect([wrong.status, errorCode(wrong)]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('answers Expect: 100-continue only once the request is authenticated and checked', async () => {
    const body = Buffer.alloc(256 * 1024, 'c');
    const ok = await raw('PUT', `/${bucket}/continued`, { body, expectContinue: true });
    expect([ok.status, ok.continued, ok.headers.etag]).toEqual([200, true, `"${digestOf(body).md5}"`]);
    const wrongKey = await raw('PUT', `/${bucket}/refused`, {
      body,
      expectContinue: true,
      secret: 'not-the-secret-key-at-all',
    });
    expect([wrongKey.status, wrongKey.continued, errorCode(wrongKey)]).toEqual([403, false, 'SignatureDoesNotMatch']);
    const noBucket = await raw('PUT', '/no-such-bucket-here/refused', { body, expectContinue: true });
    expect([noBucket.status, noBucket.continued, errorCode(noBucket)]).toEqual([404, false, 'NoSuchBucket']);
    const tooLong = await raw('PUT', `/${bucket}/${'k'.repeat(1025)}`, { body, expectContinue: true });
    expect([tooLong.status, tooLong.continued, errorCode(tooLong)]).toEqual([400, false, 'KeyTooLongError']);
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'refused' })))).toMatchObject({
      status: 404,
    });
  });

  it('maps traversal keys to files inside its data dir and refuses bucket names that are paths', async () => {
    for (const key of ['../../outside.txt', '/abs/olute', 'a/./b/../c', '..']) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `at ${key}` }));
      expect(await text((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body)).toBe(`at ${key}`);
    }
    const encoded = await raw('PUT', `/${bucket}/..%2F..%2F..%2Fescaped`, { body: 'encoded' });
    expect(encoded.status).toBe(200);
    expect(await text((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: '../../../escaped' }))).Body)).toBe(
      'encoded',
    );
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '.' }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['..', '../../../escaped', '../../outside.txt']);
    expect(await readdir(root)).toEqual(['data']);
    for (const path of ['/../etc/passwd', '/%2e%2e/x', '/./x']) {
      const out = await raw('GET', path);
      expect([out.status, errorCode(out)]).toEqual([404, 'NoSuchBucket']);
    }
  });

  it('refuses a tampered presigned URL and serves the untampered one', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'ten' }), { expiresIn: 60 });
    expect(await (await fetch(url)).text()).toBe('0123456789');
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    const flipped = `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`;
    for (const tampered of [
      url.replace(signature, flipped),
      url.replace('/ten?', '/tem?'),
      url.replace('X-Amz-Expires=60', 'X-Amz-Expires=61'),
    ]) {
      const res = await fetch(tampered);
      expect([res.status, /<Code>(\w+)<\/Code>/.exec(await res.text())?.[1]]).toEqual([403, 'SignatureDoesNotMatch']);
    }
  });

  it('answers ranges as S3 does, 416 with Content-Range bytes */size', async () => {
    const cases: Array<[string, number, string, string | undefined]> = [
      ['bytes=2-4', 206, '234', 'bytes 2-4/10'],
      ['bytes=7-', 206, '789', 'bytes 7-9/10'],
      ['bytes=-2', 206, '89', 'bytes 8-9/10'],
      ['bytes=-20', 206, '0123456789', 'bytes 0-9/10'],
      ['bytes=5-2', 200, '0123456789', undefined],
      ['bytes=0-1,4-5', 200, '0123456789', undefined],
    ];
    for (const [range, status, body, contentRange] of cases) {
      const out = await raw('GET', `/${bucket}/ten`, { headers: { range } });
      expect([range, out.status, out.body, out.headers['content-range']]).toEqual([range, status, body, contentRange]);
      expect(out.headers['accept-ranges']).toBe('bytes');
    }
    for (const range of ['bytes=10-', 'bytes=-0']) {
      const out = await raw('GET', `/${bucket}/ten`, { headers: { range } });
      expect([range, out.status, errorCode(out), out.headers['content-range']]).toEqual([
        range,
        416,
        'InvalidRange',
        'bytes */10',
      ]);
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
    const empty = await raw('GET', `/${bucket}/empty`, { headers: { range: 'bytes=0-' } });
    expect([empty.status, empty.headers['content-range']]).toEqual([416, 'bytes */0']);
    const whole = await raw('GET', `/${bucket}/empty`);
    expect([whole.status, whole.body, whole.headers['content-length']]).toEqual([200, '', '0']);
  });

  it('evaluates If-Match and If-Unmodified-Since as S3 does', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ten' }));
    const past = new Date(head.LastModified!.getTime() - 3600_000);
    const future = new Date(head.LastModified!.getTime() + 3600_000);
    const status = async (conditions: Record<string, unknown>) =>
      (await outcomeOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ten', ...conditions })))).status;
    expect(await status({ IfMatch: '"0000"' })).toBe(412);
    expect(await status({ IfMatch: head.ETag })).toBe(200);
    expect(await status({ IfMatch: '*' })).toBe(200);
    expect(await status({ IfUnmodifiedSince: past })).toBe(412);
    expect(await status({ IfUnmodifiedSince: future })).toBe(200);
    expect(await status({ IfMatch: head.ETag, IfUnmodifiedSince: past })).toBe(200);
    expect(await status({ IfNoneMatch: '"0000"', IfModifiedSince: future })).toBe(200);
    expect(await status({ IfNoneMatch: `"other", ${head.ETag}` })).toBe(304);
    expect(
      (await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ten', IfMatch: '"0000"' })))).status,
    ).toBe(412);
    const notModified = await raw('GET', `/${bucket}/ten`, { headers: { 'if-none-match': head.ETag! } });
    expect([notModified.status, notModified.body, notModified.headers.etag]).toEqual([304, '', head.ETag]);
  });

  it('conditional PUT: If-None-Match * only creates, If-Match only replaces that version', async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'one', IfNoneMatch: '*' }));
    expect(
      await outcomeOf(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'two', IfNoneMatch: '*' }))),
    ).toEqual({
      ok: false,
      status: 412,
      code: 'PreconditionFailed',
    });
    expect(
      (await outcomeOf(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'two', IfMatch: '"0000"' }))))
        .status,
    ).toBe(412);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'two', IfMatch: first.ETag }));
    expect(await text((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond' }))).Body)).toBe('two');
  });

  it('keeps the stored headers and applies every response-* override', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'headers',
        Body: 'x',
        ContentEncoding: 'identity',
        ContentLanguage: 'fr',
        CacheControl: 'no-cache',
        Expires: new Date('2030-01-01T00:00:00Z'),
        ContentDisposition: 'inline',
        Metadata: { 'Mixed-Case': 'Value' },
      }),
    );
    const plain = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers' }));
    expect([
      plain.ContentType,
      plain.ContentEncoding,
      plain.ContentLanguage,
      plain.CacheControl,
      plain.ContentDisposition,
    ]).toEqual(['application/octet-stream', 'identity', 'fr', 'no-cache', 'inline']);
    expect(plain.Metadata).toEqual({ 'mixed-case': 'Value' });
    const overridden = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: 'headers',
        ResponseCacheControl: 'max-age=5',
        ResponseContentLanguage: 'de',
        ResponseContentEncoding: 'gzip',
        ResponseContentType: 'text/html',
        ResponseContentDisposition: 'attachment; filename="r\u00e9sum\u00e9.txt"',
        ResponseExpires: new Date('2031-01-01T00:00:00Z'),
      }),
    );
    expect([
      overridden.CacheControl,
      overridden.ContentLanguage,
      overridden.ContentEncoding,
      overridden.ContentType,
    ]).toEqual(['max-age=5', 'de', 'gzip', 'text/html']);
    expect(Buffer.from(overridden.ContentDisposition!, 'latin1').toString('utf8')).toBe(
      'attachment; filename="r\u00e9sum\u00e9.txt"',
    );
    expect(overridden.ExpiresString).toBe('Wed, 01 Jan 2031 00:00:00 GMT');
    expect((await raw('PUT', `/${bucket}/untyped`, { body: 'x' })).status).toBe(200);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'untyped' }))).ContentType).toBe(
      'binary/octet-stream',
    );
  });

  it('requires Content-MD5 or a checksum on DeleteObjects', async () => {
    const doc = '<Delete><Object><Key>ten</Key></Object></Delete>';
    const bare = await raw('POST', `/${bucket}`, { query: { delete: '' }, body: doc });
    expect([bare.status, errorCode(bare)]).toEqual([400, 'InvalidRequest']);
    const withMd5 = await raw('POST', `/${bucket}`, {
      query: { delete: '' },
      body: '<Delete><Quiet>true</Quiet><Object><Key>not-there</Key></Object><Object><Key>a&#x0A;b</Key></Object></Delete>',
      headers: { 'content-md5': createHash('md5').update('x').digest('base64') },
    });
    expect([withMd5.status, errorCode(withMd5)]).toEqual([400, 'BadDigest']);
    const body = '<Delete><Object><Key>not-there</Key></Object><Object><Key>a&#x0A;b</Key></Object></Delete>';
    const good = await raw('POST', `/${bucket}`, {
      query: { delete: '' },
      body,
      headers: { 'content-md5': createHash('md5').update(body).digest('base64') },
    });
    expect(good.status).toBe(200);
    expect(good.body).toContain('<Deleted><Key>not-there</Key></Deleted><Deleted><Key>a\nb</Key></Deleted>');
    const malformed = await raw('POST', `/${bucket}`, {
      query: { delete: '' },
      body: '<Delete><Object><Key>x</Key></Delete>',
      headers: { 'content-md5': createHash('md5').update('<Delete><Object><Key>x</Key></Delete>').digest('base64') },
    });
    expect([malformed.status, errorCode(malformed)]).toEqual([400, 'MalformedXML']);
  });

  it('copies with an URL-encoded source, COPY or REPLACE metadata, and not onto itself unchanged', async () => {
    const source = 'src dir/ü+%.txt';
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: source,
        Body: 'copied',
        ContentType: 'text/x-a',
        Metadata: { a: '1' },
      }),
    );
    const copySource = `${bucket}/${source.split('/').map(encodeURIComponent).join('/')}`;
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: 'copy-1', CopySource: `/${copySource}?versionId=null` }),
    );
    expect(copied.CopyObjectResult?.ETag).toBe(`"${digestOf('copied').md5}"`);
    expect(copied.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy-1' }));
    expect([head.ContentType, head.Metadata]).toEqual(['text/x-a', { a: '1' }]);
    const self = () => s3.send(new CopyObjectCommand({ Bucket: bucket, Key: source, CopySource: copySource }));
    expect(await outcomeOf(self())).toEqual({ ok: false, status: 400, code: 'InvalidRequest' });
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: source,
        CopySource: copySource,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-b',
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: source }))).ContentType).toBe('text/x-b');
    expect(
      await outcomeOf(
        s3.send(
          new CopyObjectCommand({ Bucket: bucket, Key: 'copy-2', CopySource: copySource, CopySourceIfMatch: '"0000"' }),
        ),
      ),
    ).toEqual({ ok: false, status: 412, code: 'PreconditionFailed' });
    expect(
      await outcomeOf(
        s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-2', CopySource: `${bucket}/ten?versionId=abc` })),
      ),
    ).toEqual({ ok: false, status: 400, code: 'InvalidArgument' });
  });

  it('copies a byte range into a part (UploadPartCopy)', async () => {
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'from-range' }));
    const part = await s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: 'from-range',
        UploadId: created.UploadId,
        PartNumber: 1,
        CopySource: `${bucket}/ten`,
        CopySourceRange: 'bytes=3-6',
      }),
    );
    expect(part.CopyPartResult?.ETag).toBe(`"${digestOf('3456').md5}"`);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'from-range',
        UploadId: created.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] },
      }),
    );
    expect(await text((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'from-range' }))).Body)).toBe('3456');
  });

  it('validates keys, part numbers and listing parameters', async () => {
    expect(
      await outcomeOf(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: 'x' }))),
    ).toEqual({
      ok: false,
      status: 400,
      code: 'KeyTooLongError',
    });
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts' }));
    for (const partNumber of [0, 10001]) {
      expect(
        await outcomeOf(
          s3.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: 'parts',
              UploadId: created.UploadId,
              PartNumber: partNumber,
              Body: 'x',
            }),
          ),
        ),
      ).toEqual({ ok: false, status: 400, code: 'InvalidArgument' });
    }
    expect(
      await outcomeOf(
        s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: 'other', UploadId: created.UploadId, PartNumber: 1, Body: 'x' }),
        ),
      ),
    ).toEqual({ ok: false, status: 404, code: 'NoSuchUpload' });
    const queries: Array<Record<string, string>> = [
      { 'list-type': '2', 'max-keys': '-1' },
      { 'list-type': '2', 'continuation-token': '!!' },
      { 'encoding-type': 'base64' },
    ];
    for (const query of queries) {
      const out = await raw('GET', `/${bucket}`, { query });
      expect([out.status, errorCode(out)]).toEqual([400, 'InvalidArgument']);
    }
  });
});

/** The sub-resources S3 routes on, each with a value where it takes one. */
const SUB_RESOURCES = [
  'uploads',
  'uploadId=VICTIM',
  'uploadId=VICTIM&partNumber=9',
  'partNumber=1',
  'list-type=2',
  'delete',
  'cors',
  'location',
  'versionId=3',
  ...['accelerate', 'acl', 'analytics', 'attributes', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold'],
  ...['lifecycle', 'logging', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy'],
  ...[
    'policyStatus',
    'publicAccessBlock',
    'replication',
    'requestPayment',
    'restore',
    'retention',
    'select',
    'tagging',
  ],
  ...['torrent', 'versioning', 'versions', 'website'],
];
const RESPONSE_OVERRIDES = [
  'response-content-type=text/html',
  'response-content-language=xx',
  'response-expires=Thu%2C%2001%20Jan%202099%2000%3A00%3A00%20GMT',
  'response-cache-control=public',
  'response-content-disposition=attachment',
  'response-content-encoding=gzip',
];

describe('request targets', () => {
  let s3: S3Client;
  let bucket: string;
  let victim: string;

  beforeAll(async () => {
    s3 = client();
    bucket = await newBucket(s3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'hello', ContentType: 'text/plain' }));
    victim = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'victim' }))).UploadId!;
  });

  /** What the store holds that a smuggled parameter could change. */
  async function state() {
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'victim', UploadId: victim }));
    return {
      obj: [await text(obj.Body), obj.ContentType],
      keys: listed.Contents?.map((c) => c.Key),
      parts: parts.Parts ?? [],
      cors: (await outcomeOf(s3.send(new GetBucketCorsCommand({ Bucket: bucket })))).status,
    };
  }

  it.each([false, true])('refuses a # in the target, whatever follows it (presigned: %s)', async (presign) => {
    const before = await state();
    for (const [method, path] of [
      ['GET', `/${bucket}/obj`],
      ['HEAD', `/${bucket}/obj`],
      ['PUT', `/${bucket}/obj`],
      ['POST', `/${bucket}/obj`],
      ['DELETE', `/${bucket}/obj`],
      ['GET', `/${bucket}`],
      ['PUT', `/${bucket}`],
      ['POST', `/${bucket}`],
      ['DELETE', `/${bucket}`],
    ] as const) {
      const body = method === 'PUT' || method === 'POST' ? 'smuggled' : undefined;
      for (const param of ['', ...SUB_RESOURCES, ...RESPONSE_OVERRIDES]) {
        const suffix = `#&${param.replace('VICTIM', victim)}`;
        const out = await raw(method, path, { presign, suffix, ...(body ? { body } : {}) });
        expect([out.status, method === 'HEAD' ? 'InvalidURI' : errorCode(out)], `${method} ${path}${suffix}`).toEqual([
          400,
          'InvalidURI',
        ]);
      }
    }
    expect(await state()).toEqual(before);
    // The same signing without the fragment is accepted.
    const honest = await raw('GET', `/${bucket}/obj`, { presign });
    expect([honest.status, honest.body]).toEqual([200, 'hello']);
  });

  it('does not let a fragment retarget a presigned URL (content type, multipart upload, ListParts)', async () => {
    const get = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'obj' }), { expiresIn: 60 }),
    );
    const put = new URL(
      await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'planted' }), { expiresIn: 60 }),
    );
    const send = (method: string, url: URL, suffix: string, body?: string) =>
      new Promise<RawResponse>((resolve, reject) => {
        const req = http.request({
          host: url.hostname,
          port: url.port,
          method,
          path: `${url.pathname}${url.search}${suffix}`,
          agent: false,
        });
        req.on('error', reject);
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
              continued: false,
            }),
          );
        });
        req.end(body);
      });

    const html = await send('GET', get, '#&response-content-type=text/html');
    expect([html.status, errorCode(html), html.headers['content-type']]).toEqual([
      400,
      'InvalidURI',
      'application/xml',
    ]);
    const listParts = await send('GET', get, `#&uploadId=${victim}`);
    expect([listParts.status, errorCode(listParts)]).toEqual([400, 'InvalidURI']);
    expect(listParts.body).not.toContain('ListPartsResult');
    const part = await send('PUT', put, `#&uploadId=${victim}&partNumber=9`, 'planted part');
    expect([part.status, errorCode(part)]).toEqual([400, 'InvalidURI']);
    expect(
      (await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'victim', UploadId: victim }))).Parts ?? [],
    ).toEqual([]);
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'planted' })))).toMatchObject({
      status: 404,
    });

    const honest = await send('GET', get, '');
    expect([honest.status, honest.headers['content-type'], honest.body]).toEqual([200, 'text/plain', 'hello']);
  });

  it('refuses targets two parsers could read differently, before authentication', async () => {
    const { host, port } = new URL(store.endpoint);
    const sendTarget = (target: string) =>
      new Promise<RawResponse>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('end', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), headers: {}, body: text, continued: false });
        });
        socket.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1'));
      });
    for (const target of [
      `/${bucket}/obj#`,
      `/${bucket}/obj?prefix=%zz`,
      `/${bucket}/obj?prefix=%4`,
      `/${bucket}/obj?prefix=%C0%AF`,
      `/${bucket}/obj?%FF=1`,
      `/${bucket}/%zz`,
      `/${bucket}/obj?=value`,
      `/${bucket}/obj?partNumber=1&partNumber=2`,
      `http://${host}/${bucket}/obj`,
      '*',
    ]) {
      const out = await sendTarget(target);
      expect([out.status, errorCode(out)], target).toEqual([400, 'InvalidURI']);
    }
    // A raw non-ASCII byte does not get past node's own parser.
    expect((await sendTarget(`/${bucket}/\u00e9`)).status).toBe(400);
  });

  it('refuses a repeated parameter even when the signature covers every value', async () => {
    for (const presign of [false, true]) {
      const out = await raw('GET', `/${bucket}/obj`, {
        presign,
        query: { 'response-content-type': ['text/plain', 'text/html'] },
      });
      expect([out.status, errorCode(out)]).toEqual([400, 'InvalidURI']);
    }
    const single = await raw('GET', `/${bucket}/obj`, {
      presign: true,
      query: { 'response-content-type': 'text/csv' },
    });
    expect([single.status, single.headers['content-type']]).toEqual([200, 'text/csv']);
  });
});

describe('signature scope', () => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = client();
    bucket = await newBucket(s3);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'hello' }));
  });

  it('accepts only its own region (us-east-1), in the header and in presigned URLs', async () => {
    const header = await raw('GET', `/${bucket}/obj`, { region: 'eu-west-1' });
    expect([header.status, errorCode(header)]).toEqual([400, 'AuthorizationHeaderMalformed']);
    expect(header.body).toContain(
      'the region &apos;eu-west-1&apos; is wrong; expecting &apos;us-east-1&apos;</Message>',
    );
    expect(header.body).toContain('<Region>us-east-1</Region>');
    const query = await raw('GET', `/${bucket}/obj`, { region: 'eu-west-1', presign: true });
    expect([query.status, errorCode(query)]).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(query.body).toContain('<Region>us-east-1</Region>');
    const elsewhere = new S3Client({
      endpoint: store.endpoint,
      region: 'ap-south-1',
      forcePathStyle: true,
      credentials: { ...store.credentials },
      maxAttempts: 1,
    });
    clients.push(elsewhere);
    expect(await outcomeOf(elsewhere.send(new ListObjectsV2Command({ Bucket: bucket })))).toEqual({
      ok: false,
      status: 400,
      code: 'AuthorizationHeaderMalformed',
    });
    const url = await getSignedUrl(elsewhere, new GetObjectCommand({ Bucket: bucket, Key: 'obj' }), { expiresIn: 60 });
    expect((await fetch(url)).status).toBe(400);
    expect((await raw('GET', `/${bucket}/obj`, { presign: true })).status).toBe(200);
  });

  it('never accepts a presigned URL more than seven days before it expires', async () => {
    const week = 7 * 24 * 3600;
    const status = async (signingDate: Date, expiresIn: number) => {
      const response = await fetch(
        await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'obj' }), { expiresIn, signingDate }),
      );
      return [response.status, /<Message>([^<]*)<\/Message>/.exec(await response.text())?.[1]];
    };
    const ahead = new Date(Date.now() + 10 * 60 * 1000);
    expect(await status(ahead, week)).toEqual([403, 'Request is not valid yet']);
    expect(await status(ahead, week - 11 * 60)).toEqual([200, undefined]);
    expect(await status(new Date(), week)).toEqual([200, undefined]);
  });
});

describe('listing', () => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = client();
    bucket = await newBucket(s3);
    for (const key of ['a/1', 'a/2', 'b', 'c/1', 'sp ace/\u00fc+x'])
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  });

  it('encodes keys and prefixes with encoding-type=url', async () => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url', Prefix: 'sp ace/' }));
    expect(out.EncodingType).toBe('url');
    expect(out.Prefix).toBe('sp%20ace/');
    expect(out.Contents?.map((c) => c.Key)).toEqual(['sp%20ace/%C3%BC%2Bx']);
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url', Delimiter: '/' }));
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/', 'sp%20ace/']);
  });

  it('pages ListObjects v1 with Marker and NextMarker past common prefixes', async () => {
    const seen: string[] = [];
    let Marker: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: 1, Marker }));
      seen.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!), ...(page.Contents ?? []).map((c) => c.Key!));
      if (!page.IsTruncated) break;
      Marker = page.NextMarker;
    }
    expect(seen).toEqual(['a/', 'b', 'c/', 'sp ace/']);
    const flat = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 2 }));
    expect([flat.Contents?.map((c) => c.Key), flat.IsTruncated, flat.NextMarker]).toEqual([
      ['a/1', 'a/2'],
      true,
      undefined,
    ]);
    expect(flat.Contents?.[0]?.Owner?.DisplayName).toBe('embedded');
  });

  it('counts common prefixes in KeyCount and continues after them', async () => {
    const first = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 2 }));
    expect([first.KeyCount, first.CommonPrefixes?.length, first.Contents?.length, first.IsTruncated]).toEqual([
      2,
      1,
      1,
      true,
    ]);
    const second = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Delimiter: '/',
        MaxKeys: 2,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect(second.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['c/', 'sp ace/']);
    expect(second.IsTruncated).toBe(false);
    const none = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }));
    expect([none.KeyCount, none.IsTruncated, none.Contents]).toEqual([0, false, undefined]);
  });

  it('pages ListMultipartUploads with key and upload-id markers', async () => {
    const ids: string[] = [];
    for (const key of ['up/x', 'up/x', 'up/y']) {
      ids.push((await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!);
    }
    const seen: string[] = [];
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (let pages = 0; pages < 10; pages++) {
      const page = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'up/', MaxUploads: 1, ...markers }),
      );
      seen.push(...(page.Uploads ?? []).map((u) => u.UploadId!));
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
    expect(seen).toEqual(ids);
    for (const [i, id] of ids.entries()) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: i < 2 ? 'up/x' : 'up/y', UploadId: id }));
    }
  });
});

describe('buckets', () => {
  const s3 = () => client();

  it('creates with a location, refuses bad and taken names, and deletes with only uploads left', async () => {
    const c = s3();
    const bucket = `located-${Date.now().toString(36)}`;
    await c.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    );
    expect((await c.send(new GetBucketLocationCommand({ Bucket: bucket }))).LocationConstraint).toBe('eu-west-1');
    expect((await c.send(new HeadBucketCommand({ Bucket: bucket }))).BucketRegion).toBe('eu-west-1');
    expect(await outcomeOf(c.send(new CreateBucketCommand({ Bucket: bucket })))).toEqual({
      ok: false,
      status: 409,
      code: 'BucketAlreadyOwnedByYou',
    });
    for (const name of ['Upper-Case', 'a_b', 'xy']) {
      const out = await raw('PUT', `/${name}`);
      expect([out.status, errorCode(out)]).toEqual([400, 'InvalidBucketName']);
    }
    await c.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'pending' }));
    await c.send(new DeleteBucketCommand({ Bucket: bucket }));
    expect(await outcomeOf(c.send(new HeadBucketCommand({ Bucket: bucket })))).toMatchObject({ status: 404 });
  });

  it('answers preflights per the bucket CORS rules, and refuses them without rules', async () => {
    const c = s3();
    const bucket = await newBucket(c);
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'x' }));
    const preflight = (origin: string, method: string, headers?: string) =>
      fetch(`${store.endpoint}/${bucket}/obj`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          ...(headers ? { 'access-control-request-headers': headers } : {}),
        },
      });
    const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: 'obj' }), { expiresIn: 60 });
    /** Status, S3 error code and the grant of an answer. */
    const seen = async (res: Response) => [
      res.status,
      /<Code>(\w+)<\/Code>/.exec(await res.text())?.[1],
      res.headers.get('access-control-allow-origin'),
    ];

    // As on S3: without rules, no origin is granted.
    expect(await seen(await preflight('https://www.app.example', 'PUT', 'content-type'))).toEqual([
      403,
      'AccessForbidden',
      null,
    ]);
    expect(await seen(await fetch(url, { headers: { origin: 'https://www.app.example' } }))).toEqual([
      200,
      undefined,
      null,
    ]);
    expect(await outcomeOf(c.send(new GetBucketCorsCommand({ Bucket: bucket })))).toEqual({
      ok: false,
      status: 404,
      code: 'NoSuchCORSConfiguration',
    });

    await c.send(
      new PutBucketCorsCommand({
        Bucket: bucket,
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: ['https://*.app.example'],
              AllowedMethods: ['GET', 'PUT'],
              AllowedHeaders: ['content-type', 'x-amz-*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 600,
            },
          ],
        },
      }),
    );
    expect((await c.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules).toEqual([
      {
        AllowedOrigins: ['https://*.app.example'],
        AllowedMethods: ['GET', 'PUT'],
        AllowedHeaders: ['content-type', 'x-amz-*'],
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 600,
      },
    ]);
    const allowed = await preflight('https://www.app.example', 'PUT', 'Content-Type,X-Amz-Date');
    expect([
      allowed.status,
      allowed.headers.get('access-control-allow-origin'),
      allowed.headers.get('access-control-max-age'),
    ]).toEqual([200, 'https://www.app.example', '600']);
    expect(allowed.headers.get('vary')).toContain('Origin');
    for (const [origin, method, headers] of [
      ['https://evil.example', 'PUT', undefined],
      ['https://www.app.example', 'DELETE', undefined],
      ['https://www.app.example', 'PUT', 'x-custom'],
    ] as const) {
      const refused = await preflight(origin, method, headers);
      expect([refused.status, /<Code>(\w+)<\/Code>/.exec(await refused.text())?.[1]]).toEqual([403, 'AccessForbidden']);
    }
    const actual = await fetch(url, { headers: { origin: 'https://www.app.example' } });
    expect([
      actual.headers.get('access-control-allow-origin'),
      actual.headers.get('access-control-expose-headers'),
    ]).toEqual(['https://www.app.example', 'ETag']);
    const badMethod = await c
      .send(
        new PutBucketCorsCommand({
          Bucket: bucket,
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
        }),
      )
      .then(
        () => 'OK',
        (err: { name: string }) => err.name,
      );
    expect(badMethod).toBe('InvalidRequest');

    await c.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    expect(await seen(await preflight('https://www.app.example', 'PUT'))).toEqual([403, 'AccessForbidden', null]);
    const incomplete = await fetch(`${store.endpoint}/${bucket}/obj`, {
      method: 'OPTIONS',
      headers: { origin: 'https://a.example' },
    });
    expect(incomplete.status).toBe(400);
  });

  it('answers a preflight or an Origin without a key alike for an existing and a missing bucket', async () => {
    const bucket = await newBucket(s3());
    /** Status, headers (but the per-request ones) and error code: what tells buckets apart. */
    const seen = async (response: Response) => ({
      status: response.status,
      code: /<Code>(\w+)<\/Code>/.exec(await response.text())?.[1],
      headers: [...response.headers].filter(
        ([name]) => !['x-amz-request-id', 'x-amz-id-2', 'date', 'content-length'].includes(name),
      ),
    });
    for (const path of ['', '/obj']) {
      for (const init of <Array<{ method: string; headers: Record<string, string> }>>[
        { method: 'OPTIONS', headers: { origin: 'https://probe.example', 'access-control-request-method': 'PUT' } },
        {
          method: 'OPTIONS',
          headers: {
            origin: 'https://probe.example',
            'access-control-request-method': 'GET',
            'access-control-request-headers': 'x-amz-date',
          },
        },
        { method: 'GET', headers: { origin: 'https://probe.example' } },
        { method: 'PUT', headers: { origin: 'https://probe.example' } },
      ]) {
        const existing = await seen(await fetch(`${store.endpoint}/${bucket}${path}`, init));
        const missing = await seen(await fetch(`${store.endpoint}/no-such-bucket-here${path}`, init));
        expect(missing, `${init.method} ${path}`).toEqual(existing);
      }
    }
  });
});

describe('concurrency', () => {
  it('two PUTs of one key at once leave one whole object', async () => {
    const c = client();
    const bucket = await newBucket(c);
    const size = 3 * MiB;
    const digests = await Promise.all(['one', 'two'].map((seed) => expectedDigest(size, seed)));
    const puts = await Promise.all(
      ['one', 'two'].map((seed) =>
        c.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'same', Body: randomStream(size, seed), ContentLength: size }),
        ),
      ),
    );
    expect(puts.map((p) => p.ETag)).toEqual(digests.map((d) => `"${d.md5}"`));
    const got = await sha256Of(
      (await c.send(new GetObjectCommand({ Bucket: bucket, Key: 'same' }))).Body as AsyncIterable<Uint8Array>,
    );
    expect(digests).toContainEqual(got);
    expect(await readdir(join(root, 'data', 'tmp'))).toEqual([]);
  });

  it('survives a reader that stops reading and then resets the connection mid-download', async () => {
    const c = client();
    const bucket = await newBucket(c);
    const size = 16 * MiB;
    await c.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: randomStream(size, 'gone'), ContentLength: size }),
    );
    const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: 'big' }), { expiresIn: 60 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let round = 0; round < 3; round++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(url, (res) => {
            // Unread bytes left in the socket make the destroy a reset, which fails both pending writes.
            res.pause();
            setTimeout(() => {
              req.destroy();
              resolve();
            }, 100);
          });
          req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const head = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big' }));
    expect(head.ContentLength).toBe(size);
  });
});
