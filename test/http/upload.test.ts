/**
 * File uploads through POST /graphql (GraphQL multipart request spec) on the
 * real server, checked byte for byte in the store with a direct client:
 * fetch + FormData, Apollo Client's UploadHttpLink, size limits, malformed
 * requests, and clients that go away mid-upload.
 */
import { request as httpRequest } from 'node:http';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB, digestOf, expectedDigest, randomBytes, randomChunks, sha256Of, type Digest } from '../support/data.js';
import { createTestBucket, removeBucket, s3Client, testStores, type StoreUnderTest } from '../support/stores.js';
import { eventually, metricValue, startServer, storeCalls, type TestServer } from '../support/app.js';
import {
  MULTIPART_TYPE,
  UPLOAD_MUTATION,
  multipartBody,
  multipartHead,
  uploadOperations,
  type Part,
} from './multipart.js';

const CSRF = { 'x-graphql-csrf': '1' };

async function blobOf(size: number, seed: string): Promise<Blob> {
  const chunks: Buffer[] = [];
  for await (const chunk of randomChunks(size, seed)) chunks.push(chunk);
  return new Blob(chunks.map((chunk) => new Uint8Array(chunk)));
}

function uploadForm(bucket: string, key: string, file: Blob, filename = 'file.bin'): FormData {
  const form = new FormData();
  form.append('operations', uploadOperations(bucket, key));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, filename);
  return form;
}

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions: { code: string } }[];
}

async function storedDigest(s3: S3Client, bucket: string, key: string): Promise<Digest> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256Of(out.Body as AsyncIterable<Uint8Array>);
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

async function openUploads(s3: S3Client, bucket: string): Promise<number> {
  const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return out.Uploads?.length ?? 0;
}

/** Settings that make the store upload go in parts early: 5 MiB parts, at most 6 MiB per file. */
const LIMITED = { MAX_UPLOAD_BYTES: String(6 * MiB), UPLOAD_PART_SIZE: String(5 * MiB), UPLOAD_QUEUE_SIZE: '2' };

describe.each(testStores())('uploads on $name', (store: StoreUnderTest) => {
  let s3: S3Client;
  let server: TestServer;
  let limited: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-upload');
    [server, limited] = await Promise.all([startServer(store), startServer(store, LIMITED)]);
  });

  afterAll(async () => {
    await Promise.all([server?.close(), limited?.close()]);
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('stores a file sent with fetch and FormData, byte for byte', async () => {
    const size = 3 * MiB + 17;
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'form/data.bin', await blobOf(size, 'form')),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(body.errors).toBeUndefined();
    expect(res.status).toBe(200);
    expect(body.data).toMatchObject({ uploadObject: { key: 'form/data.bin', size } });
    expect(await storedDigest(s3, bucket, 'form/data.bin')).toEqual(await expectedDigest(size, 'form'));
    expect(await metricValue(server.metrics, 's3graphql_upload_bytes_total')).toBeGreaterThanOrEqual(size);
  });

  it('accepts a file of exactly MAX_UPLOAD_BYTES', async () => {
    const size = 6 * MiB;
    const res = await fetch(`${limited.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'exact.bin', await blobOf(size, 'exact')),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(body.errors).toBeUndefined();
    expect(await storedDigest(s3, bucket, 'exact.bin')).toEqual(await expectedDigest(size, 'exact'));
  });

  it('refuses a file over MAX_UPLOAD_BYTES with PAYLOAD_TOO_LARGE and leaves nothing behind', async () => {
    const res = await fetch(`${limited.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'too-large.bin', await blobOf(6 * MiB + 1, 'too-large')),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(res.status).toBe(413);
    expect(body.errors?.[0]?.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.errors?.[0]?.message).toMatch(/6291456 bytes/);
    // The store upload had gone to parts (5 MiB each) before the limit was passed.
    expect(await storeCalls(limited.metrics, 'CreateMultipartUpload')).toBeGreaterThan(0);
    expect(await exists(s3, bucket, 'too-large.bin')).toBe(false);
    expect(await eventually(async () => (await openUploads(s3, bucket)) === 0)).toBe(true);
  });

  it('leaves no object and no multipart upload behind when the client disconnects mid-upload', async () => {
    const key = 'abandoned.bin';
    const head = multipartHead(
      [
        { name: 'operations', value: uploadOperations(bucket, key) },
        { name: 'map', value: JSON.stringify({ 0: ['variables.file'] }) },
      ],
      '0',
      'abandoned.bin',
    );
    const multipartBefore = await storeCalls(limited.metrics, 'CreateMultipartUpload');
    const req = httpRequest(`${limited.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART_TYPE, ...CSRF },
    });
    req.on('error', () => {});
    req.write(head);
    // More than one 5 MiB part (and less than the limit), so the store upload is a multipart upload by now.
    for await (const chunk of randomChunks(5.5 * MiB, 'abandoned')) {
      if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
    }
    const started = await eventually(
      async () => (await storeCalls(limited.metrics, 'CreateMultipartUpload')) > multipartBefore,
      10_000,
    );
    expect(started).toBe(true);
    expect(await metricValue(limited.metrics, 's3graphql_uploads_in_flight')).toBe(1);
    req.destroy();

    expect(await eventually(async () => (await openUploads(s3, bucket)) === 0, 5_000)).toBe(true);
    expect(await exists(s3, bucket, key)).toBe(false);
    expect(
      await eventually(async () => (await metricValue(limited.metrics, 's3graphql_uploads_in_flight')) === 0),
    ).toBe(true);
    expect(await storeCalls(limited.metrics, 'AbortMultipartUpload')).toBeGreaterThan(0);
  });

  it('stores a file sent by Apollo Client with UploadHttpLink', async () => {
    const data = await randomBytes(256 * 1024, 'apollo');
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: new UploadHttpLink({ uri: `${server.base}/graphql`, headers: { 'Apollo-Require-Preflight': 'true' } }),
    });
    const result = await client.mutate<{ uploadObject: { key: string; size: number; contentType: string | null } }>({
      mutation: gql(UPLOAD_MUTATION),
      variables: {
        bucket,
        key: 'apollo/file.bin',
        file: new File([new Uint8Array(data)], 'file.bin', { type: 'application/x-apollo' }),
      },
    });
    expect(result.data?.uploadObject).toMatchObject({
      key: 'apollo/file.bin',
      size: data.length,
      contentType: 'application/x-apollo',
    });
    expect(await storedDigest(s3, bucket, 'apollo/file.bin')).toEqual(digestOf(data));
  });
});

describe('an upload larger than any request body Yoga reads', () => {
  // One store is enough here (every store gets multipart store uploads above): the fastest, started last.
  const store = testStores().at(-1)!;
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-upload-large');
    server = await startServer(store);
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it(`streams past Yoga's 25 MB body limit into a multipart store upload`, async () => {
    const size = 26 * MiB + 5;
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'large.bin', await blobOf(size, 'large')),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({ uploadObject: { key: 'large.bin', size } });
    expect(await storedDigest(s3, bucket, 'large.bin')).toEqual(await expectedDigest(size, 'large'));
    expect(await storeCalls(server.metrics, 'CreateMultipartUpload')).toBeGreaterThan(0);
    expect(await openUploads(s3, bucket)).toBe(0);
  });
});

describe('malformed multipart requests', () => {
  const store = testStores()[0]!;
  let s3: S3Client;
  let server: TestServer;
  let tiny: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-upload-bad');
    [server, tiny] = await Promise.all([startServer(store), startServer(store, { MAX_UPLOAD_BYTES: '1000' })]);
  });

  afterAll(async () => {
    await Promise.all([server?.close(), tiny?.close()]);
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const operations = () => ({ name: 'operations', value: uploadOperations(bucket, 'bad.bin') });
  const map = (value: unknown = { 0: ['variables.file'] }) => ({ name: 'map', value: JSON.stringify(value) });
  const file = (name = '0') => ({ name, filename: 'bad.bin', data: 'some bytes' });

  const cases: Record<string, () => { parts: Part[]; close?: boolean; message: RegExp }> = {
    'no operations field': () => ({ parts: [map(), file()], message: /'map' should follow 'operations'/ }),
    'no map field': () => ({ parts: [operations()], message: /Missing multipart field 'map'/ }),
    'no fields at all': () => ({ parts: [], message: /no 'operations' and no 'map'/ }),
    'a file before the map': () => ({ parts: [operations(), file(), map()], message: /files should follow 'map'/ }),
    'invalid JSON in operations': () => ({
      parts: [{ name: 'operations', value: '{"query": ' }, map(), file()],
      message: /Invalid JSON in the 'operations'/,
    }),
    'operations that are not an object': () => ({
      parts: [{ name: 'operations', value: '42' }, map(), file()],
      message: /Invalid type for the 'operations'/,
    }),
    'invalid JSON in the map': () => ({
      parts: [operations(), { name: 'map', value: '{0: nope' }, file()],
      message: /Invalid JSON in the 'map'/,
    }),
    'a map path to nowhere': () => ({
      parts: [operations(), map({ 0: ['variables.no.such'] }), file()],
      message: /Invalid object path/,
    }),
    'a __proto__ path': () => ({
      parts: [operations(), map({ 0: ['__proto__.polluted'] }), file()],
      message: /Invalid object path/,
    }),
    'a constructor path': () => ({
      parts: [operations(), map({ 0: ['variables.constructor'] }), file()],
      message: /Invalid object path/,
    }),
    'more files than allowed': () => ({
      parts: [
        {
          name: 'operations',
          value: JSON.stringify({ query: UPLOAD_MUTATION, variables: { files: new Array(11).fill(null) } }),
        },
        map(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [String(i), [`variables.files.${i}`]]))),
      ],
      message: /at most 10 files/,
    }),
    'a body cut off in the operations field': () => ({
      parts: [{ name: 'operations', value: uploadOperations(bucket, 'bad.bin') }],
      close: false,
      message: /Malformed multipart request|Missing multipart field 'map'/,
    }),
  };

  it.each(Object.keys(cases))('answers %s with 400 BAD_USER_INPUT, and the store sees nothing', async (name) => {
    const { parts, close, message } = cases[name]!();
    const before = await storeCalls(server.metrics);
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART_TYPE, ...CSRF },
      body: multipartBody(parts, close),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as GraphQLBody;
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(message);
    expect(JSON.stringify(body)).not.toMatch(/\bat .*\.js:\d+/);
    expect(await storeCalls(server.metrics)).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers a map that names a file the request does not carry with 400', async () => {
    const before = await storeCalls(server.metrics);
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART_TYPE, ...CSRF },
      body: multipartBody([operations(), map(), file('1')]),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(res.status).toBe(400);
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/missing/i);
    expect(await storeCalls(server.metrics, 'PutObject')).toBe(0);
    expect(await storeCalls(server.metrics, 'CreateMultipartUpload')).toBe(0);
    expect(await storeCalls(server.metrics)).toBeGreaterThanOrEqual(before);
  });

  it('answers a multipart content type without a boundary with 400', async () => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data', ...CSRF },
      body: multipartBody([operations(), map(), file()]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as GraphQLBody).errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a file over a limit smaller than one network read, leaving nothing behind', async () => {
    const res = await fetch(`${tiny.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'tiny.bin', new Blob([Buffer.alloc(5000, 1)])),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(res.status).toBe(413);
    expect(body.errors?.[0]?.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await exists(s3, bucket, 'tiny.bin')).toBe(false);
    // The connection is still good for the next request.
    expect((await fetch(`${tiny.base}/healthz`)).status).toBe(200);
  });

  it('keeps no object from any refused request', async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
    expect(await openUploads(s3, bucket)).toBe(0);
  });
});

describe('uploads and API keys', () => {
  const store = testStores()[0]!;
  const reader = 'reader-token-0123456789';
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-upload-auth');
    server = await startServer(store, {
      API_KEYS: JSON.stringify({ keys: [{ name: 'reader', token: reader, grants: [{ bucket: '*', role: 'read' }] }] }),
    });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('refuses an upload without a valid key before reading it', async () => {
    const before = await storeCalls(server.metrics);
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: CSRF,
      body: uploadForm(bucket, 'anonymous.bin', await blobOf(2 * MiB, 'anonymous')),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as GraphQLBody).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(await storeCalls(server.metrics)).toBe(before);
    expect(await metricValue(server.metrics, 's3graphql_upload_bytes_total')).toBe(0);
  });

  it('answers FORBIDDEN to a reader, discards the file it did not take, and keeps serving', async () => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { ...CSRF, authorization: `Bearer ${reader}` },
      body: uploadForm(bucket, 'forbidden.bin', await blobOf(3 * MiB, 'forbidden')),
    });
    const body = (await res.json()) as GraphQLBody;
    expect(body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(await exists(s3, bucket, 'forbidden.bin')).toBe(false);
    expect(await storeCalls(server.metrics, 'PutObject')).toBe(0);
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    expect(await eventually(async () => (await metricValue(server.metrics, 's3graphql_uploads_in_flight')) === 0)).toBe(
      true,
    );
  });
});
