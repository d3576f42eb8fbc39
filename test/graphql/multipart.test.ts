/**
 * `Mutation.multipart` and `Bucket.multipartUploads` over real HTTP against
 * every test store: parts through the server (spooled or streamed with
 * `size`) and parts straight to the store with presigned URLs, checked
 * byte for byte and by the multipart ETag through a direct S3 client; two
 * server instances sharing one upload; abort and cleanup; every error code.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SPOOL_DIR_PREFIX, SPOOL_MEMORY_BYTES } from '../../src/s3/spool.js';
import { KiB, MiB, multipartEtag, randomBytes, sha256Of } from '../support/data.js';
import { createTestBucket, outcomeOf, removeBucket, s3Client, testStores } from '../support/stores.js';
import { codes, eventually, startServer, type GqlResponse, type TestServer } from '../support/app.js';

const CREATE = `mutation Create($bucket: String!, $key: String!, $contentType: String, $metadata: [MetadataInput!]) {
  multipart { create(bucket: $bucket, key: $key, contentType: $contentType, metadata: $metadata) {
    id key uploadId initiatedAt bucket { name } } } }`;

const UPLOAD_PART = `mutation UploadPart($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!, $file: Upload!, $size: SafeInt) {
  multipart { uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, file: $file, size: $size) {
    partNumber etag size lastModified } } }`;

const PRESIGN_PART = `mutation PresignPart($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!, $expiresIn: Int) {
  multipart { presignPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, expiresIn: $expiresIn) {
    url method expiresAt headers { key value } } } }`;

const COMPLETE = `mutation Complete($bucket: String!, $key: String!, $uploadId: String!, $parts: [CompletedPartInput!]) {
  multipart { complete(bucket: $bucket, key: $key, uploadId: $uploadId, parts: $parts) {
    id key size etag contentType metadata { key value } } } }`;

const ABORT = `mutation Abort($bucket: String!, $key: String!, $uploadId: String!) {
  multipart { abort(bucket: $bucket, key: $key, uploadId: $uploadId) } }`;

const UPLOADS = `query Uploads($bucket: String!, $prefix: String) {
  bucket(name: $bucket) { multipartUploads(prefix: $prefix) {
    id key uploadId initiatedAt bucket { name } parts { partNumber etag size lastModified } } } }`;

const ABORT_STALE = `mutation AbortStale($bucket: String, $olderThanSeconds: Int!, $prefix: String, $dryRun: Boolean) {
  multipart { abortStale(bucket: $bucket, olderThanSeconds: $olderThanSeconds, prefix: $prefix, dryRun: $dryRun) {
    cutoff dryRun aborted { key uploadId } failed { code upload { key } } } } }`;

interface Part {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: string | null;
}
interface Upload {
  id: string;
  key: string;
  uploadId: string;
  initiatedAt: string | null;
  bucket: { name: string };
  parts?: Part[];
}
interface StoredObject {
  id: string;
  key: string;
  size: number;
  etag: string;
  contentType: string | null;
  metadata: { key: string; value: string }[];
}

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const sha256 = (parts: readonly Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/** The error's `argument` extension, for BAD_USER_INPUT. */
const argumentOf = (res: GqlResponse<unknown>) => res.errors?.[0]?.extensions?.argument;

describe.each(testStores())('multipart API on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  let app: TestServer;
  /** The temporary directory the server spools into for this file (TMPDIR). */
  let spoolRoot: string;
  const previousTmpdir = process.env.TMPDIR;

  beforeAll(async () => {
    spoolRoot = await mkdtemp(join(tmpdir(), 'mp-test-spool-'));
    process.env.TMPDIR = spoolRoot;
    bucket = await createTestBucket(s3, 'gql-multipart');
    app = await startServer(store, { LOG_LEVEL: 'silent' });
  });
  afterAll(async () => {
    await app.close();
    await removeBucket(s3, bucket);
    s3.destroy();
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
    await rm(spoolRoot, { recursive: true, force: true });
  });
  afterEach(async () => {
    // Whatever a test did, no spooled part outlives its request.
    expect(await readdir(spoolRoot)).toEqual([]);
  });

  async function create(key: string, server = app, extra: Record<string, unknown> = {}): Promise<Upload> {
    const res = await server.gql<{ multipart: { create: Upload } }>(CREATE, { bucket, key, ...extra });
    expect(res.errors).toBeUndefined();
    return res.data!.multipart.create;
  }

  function uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    bytes: Uint8Array,
    server = app,
    size?: number,
  ) {
    return server.upload<{ multipart: { uploadPart: Part } }>(
      UPLOAD_PART,
      { bucket, key, uploadId, partNumber, size },
      { file: bytes },
    );
  }

  async function putPart(
    key: string,
    uploadId: string,
    partNumber: number,
    bytes: Uint8Array,
    server = app,
  ): Promise<Part> {
    const res = await uploadPart(key, uploadId, partNumber, bytes, server);
    expect(res.errors).toBeUndefined();
    return res.data!.multipart.uploadPart;
  }

  function complete(key: string, uploadId: string, parts?: { partNumber: number; etag: string }[], server = app) {
    return server.gql<{ multipart: { complete: StoredObject } }>(COMPLETE, { bucket, key, uploadId, parts });
  }

  async function listed(prefix: string, server = app): Promise<Upload[]> {
    const res = await server.gql<{ bucket: { multipartUploads: Upload[] } }>(UPLOADS, { bucket, prefix });
    expect(res.errors).toBeUndefined();
    return res.data!.bucket.multipartUploads;
  }

  /** Open uploads of `key`, as the store lists them to a direct client. */
  async function openInStore(key: string): Promise<string[]> {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    return (out.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId!);
  }

  /** The object as a direct client reads it: SHA-256 of the bytes and the ETag from HEAD. */
  async function stored(key: string) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const digest = await sha256Of(got.Body as AsyncIterable<Uint8Array>);
    return {
      etag: head.ETag!,
      size: head.ContentLength!,
      sha256: digest.sha256,
      contentType: head.ContentType,
      metadata: head.Metadata,
    };
  }

  it('through the server: create, uploadPart (spooled to disk, in memory, last), parts, complete with the client’s parts', async () => {
    const key = 'through/server/movie.bin';
    const upload = await create(key, app, {
      contentType: 'video/mp4',
      metadata: [{ key: 'Origin', value: 'graphql' }],
    });
    expect(upload).toMatchObject({ key, bucket: { name: bucket }, initiatedAt: null });
    expect(upload.uploadId).not.toBe('');
    expect(Buffer.from(upload.id, 'base64url').toString('utf8')).toBe(`${bucket}\u0000${key}\u0000${upload.uploadId}`);

    // Part 1 is over the in-memory threshold, so it is spooled to a file; part 2 stays in memory.
    const sizes = [SPOOL_MEMORY_BYTES + MiB, 5 * MiB, 700 * KiB];
    const bytes = await Promise.all(sizes.map((size, i) => randomBytes(size, `${store.name}/server/${i}`)));
    const parts: Part[] = [];
    for (const [i, data] of bytes.entries()) parts.push(await putPart(key, upload.uploadId, i + 1, data));
    parts.forEach((part, i) => {
      expect(part).toEqual({ partNumber: i + 1, etag: md5(bytes[i]!), size: sizes[i], lastModified: null });
    });

    const [open] = await listed(key);
    expect(open).toMatchObject({ id: upload.id, key, uploadId: upload.uploadId, bucket: { name: bucket } });
    expect(Number.isNaN(Date.parse(open!.initiatedAt!))).toBe(false);
    expect(open!.parts!.map(({ partNumber, etag, size }) => ({ partNumber, etag, size }))).toEqual(
      parts.map(({ partNumber, etag, size }) => ({ partNumber, etag, size })),
    );
    for (const part of open!.parts!) expect(Number.isNaN(Date.parse(part.lastModified!))).toBe(false);

    // In any order, with or without quotes: the server joins them by part number.
    const res = await complete(key, upload.uploadId, [
      { partNumber: 3, etag: parts[2]!.etag },
      { partNumber: 1, etag: `"${parts[0]!.etag}"` },
      { partNumber: 2, etag: parts[1]!.etag },
    ]);
    expect(res.errors).toBeUndefined();
    const etag = multipartEtag(parts.map((p) => p.etag));
    expect(etag).toMatch(/-3"$/);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(res.data!.multipart.complete).toEqual({
      id: Buffer.from(`${bucket}\u0000${key}`).toString('base64url'),
      key,
      size: total,
      etag: etag.slice(1, -1),
      contentType: 'video/mp4',
      metadata: [{ key: 'origin', value: 'graphql' }],
    });
    expect(await stored(key)).toEqual({
      etag,
      size: total,
      sha256: sha256(bytes),
      contentType: 'video/mp4',
      metadata: { origin: 'graphql' },
    });
    expect(await openInStore(key)).toEqual([]);
    expect(await listed(key)).toEqual([]);
  });

  it('uploadPart with size streams the part straight through; another length is BAD_USER_INPUT and stores nothing', async () => {
    const key = 'with-size.bin';
    const { uploadId } = await create(key);
    const data = await randomBytes(MiB + 5, `${store.name}/size`);

    const ok = await uploadPart(key, uploadId, 1, data, app, data.length);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.multipart.uploadPart).toEqual({
      partNumber: 1,
      etag: md5(data),
      size: data.length,
      lastModified: null,
    });

    const other = data.subarray(0, 64 * KiB);
    for (const size of [other.length + 1, other.length - 1]) {
      const wrong = await uploadPart(key, uploadId, 2, other, app, size);
      expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
      expect(argumentOf(wrong)).toBe('file');
    }
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    expect((parts.Parts ?? []).map((p) => p.PartNumber)).toEqual([1]);

    const done = await complete(key, uploadId);
    expect(done.errors).toBeUndefined();
    expect(await stored(key)).toMatchObject({
      etag: multipartEtag([md5(data)]),
      size: data.length,
      sha256: sha256([data]),
    });
  });

  it('straight to the store: presignPart, PUT each part with fetch, read the ETag header, complete', async () => {
    const key = 'browser/direct upload.bin';
    const { uploadId } = await create(key, app, { contentType: 'application/zip' });
    const sizes = [5 * MiB, 2 * MiB + 3];
    const bytes = await Promise.all(sizes.map((size, i) => randomBytes(size, `${store.name}/direct/${i}`)));

    app.resetCalls();
    const etags: string[] = [];
    for (const [i, data] of bytes.entries()) {
      // Signed right before its PUT, as a browser uploader should.
      const signed = await app.gql<{
        multipart: { presignPart: { url: string; method: string; expiresAt: string; headers: unknown[] } };
      }>(PRESIGN_PART, { bucket, key, uploadId, partNumber: i + 1, expiresIn: 300 });
      expect(signed.errors).toBeUndefined();
      const presigned = signed.data!.multipart.presignPart;
      expect(presigned.method).toBe('PUT');
      expect(presigned.headers).toEqual([]);
      expect(Date.parse(presigned.expiresAt) - Date.now()).toBeGreaterThan(280_000);
      expect(Date.parse(presigned.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);
      const url = new URL(presigned.url);
      expect(url.searchParams.get('partNumber')).toBe(String(i + 1));
      expect(url.searchParams.get('uploadId')).toBe(uploadId);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('300');

      const put = await fetch(presigned.url, { method: 'PUT', body: new Uint8Array(data) });
      expect(put.status).toBe(200);
      const etag = put.headers.get('etag');
      expect(etag).toBe(`"${md5(data)}"`);
      etags.push(etag!);
    }
    // Presigning asks the store nothing.
    expect(app.calls).toEqual([]);

    const res = await complete(
      key,
      uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
    );
    expect(res.errors).toBeUndefined();
    const etag = multipartEtag(etags);
    expect(res.data!.multipart.complete).toMatchObject({
      key,
      size: sizes[0]! + sizes[1]!,
      etag: etag.slice(1, -1),
      contentType: 'application/zip',
    });
    expect(await stored(key)).toMatchObject({ etag, size: sizes[0]! + sizes[1]!, sha256: sha256(bytes) });
    expect(await openInStore(key)).toEqual([]);
  });

  it('with the README’s CORS rule a browser page may PUT a part and read its ETag', async () => {
    const own = await createTestBucket(s3, 'gql-mp-cors');
    try {
      await s3.send(
        new PutBucketCorsCommand({
          Bucket: own,
          CORSConfiguration: {
            CORSRules: [
              {
                AllowedOrigins: ['https://app.example'],
                AllowedMethods: ['PUT'],
                AllowedHeaders: ['*'],
                ExposeHeaders: ['ETag'],
                MaxAgeSeconds: 3000,
              },
            ],
          },
        }),
      );
      const created = await app.gql<{ multipart: { create: Upload } }>(CREATE, { bucket: own, key: 'cors.bin' });
      const { uploadId } = created.data!.multipart.create;
      const signed = await app.gql<{ multipart: { presignPart: { url: string } } }>(PRESIGN_PART, {
        bucket: own,
        key: 'cors.bin',
        uploadId,
        partNumber: 1,
      });
      const url = signed.data!.multipart.presignPart.url;

      const preflight = await fetch(url, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
      });
      expect(preflight.status).toBe(200);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');

      const data = Buffer.from('a part from a browser');
      const put = await fetch(url, {
        method: 'PUT',
        headers: { origin: 'https://app.example' },
        body: new Uint8Array(data),
      });
      expect(put.status).toBe(200);
      expect(put.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(
        put.headers
          .get('access-control-expose-headers')
          ?.split(/\s*,\s*/)
          .map((h) => h.toLowerCase()),
      ).toContain('etag');
      expect(put.headers.get('etag')).toBe(`"${md5(data)}"`);
    } finally {
      await removeBucket(s3, own);
    }
  });

  it('any instance continues an upload another started: two servers, one store', async () => {
    const other = await startServer(store, { LOG_LEVEL: 'silent' });
    try {
      const key = 'stateless.bin';
      const upload = await create(key, app);
      const bytes = [
        await randomBytes(5 * MiB, `${store.name}/two/0`),
        await randomBytes(5 * MiB, `${store.name}/two/1`),
        await randomBytes(KiB, `${store.name}/two/2`),
      ];
      await putPart(key, upload.uploadId, 1, bytes[0]!, app);
      await putPart(key, upload.uploadId, 2, bytes[1]!, other);
      // Part 3 goes straight to the store, signed by the second instance.
      const signed = await other.gql<{ multipart: { presignPart: { url: string } } }>(PRESIGN_PART, {
        bucket,
        key,
        uploadId: upload.uploadId,
        partNumber: 3,
      });
      expect(
        (await fetch(signed.data!.multipart.presignPart.url, { method: 'PUT', body: new Uint8Array(bytes[2]!) }))
          .status,
      ).toBe(200);

      const seen = await listed(key, app);
      expect(seen.map((u) => [u.id, u.parts!.map((p) => p.partNumber)])).toEqual([[upload.id, [1, 2, 3]]]);

      // The second instance completes it without naming the parts: it lists them.
      const res = await complete(key, upload.uploadId, undefined, other);
      expect(res.errors).toBeUndefined();
      const etag = multipartEtag(bytes.map(md5));
      expect(res.data!.multipart.complete.etag).toBe(etag.slice(1, -1));
      expect(await stored(key)).toMatchObject({ etag, sha256: sha256(bytes) });
      expect(await listed(key, app)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('abort removes the upload and its parts; nothing is left open', async () => {
    const key = 'aborted.bin';
    const { uploadId } = await create(key);
    await putPart(key, uploadId, 1, await randomBytes(64 * KiB, 'abort'));
    expect(await openInStore(key)).toEqual([uploadId]);

    const res = await app.gql<{ multipart: { abort: boolean } }>(ABORT, { bucket, key, uploadId });
    expect(res).toMatchObject({ data: { multipart: { abort: true } } });
    expect(res.errors).toBeUndefined();
    expect(await openInStore(key)).toEqual([]);
    expect(await listed(key)).toEqual([]);
    expect(
      await outcomeOf(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))),
    ).toMatchObject({
      ok: false,
      code: 'NoSuchUpload',
    });
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
      ok: false,
      status: 404,
    });
  });

  it('NO_SUCH_UPLOAD for an unknown, an aborted and a completed upload id, from every field', async () => {
    const aborted = await create('gone/aborted');
    expect((await app.gql(ABORT, { bucket, key: 'gone/aborted', uploadId: aborted.uploadId })).errors).toBeUndefined();
    const completed = await create('gone/completed');
    const part = await putPart('gone/completed', completed.uploadId, 1, Buffer.from('the only part'));
    expect((await complete('gone/completed', completed.uploadId)).errors).toBeUndefined();
    const cases = [
      { key: 'gone/unknown', uploadId: 'no-such-upload-id-0123456789' },
      { key: 'gone/aborted', uploadId: aborted.uploadId },
      { key: 'gone/completed', uploadId: completed.uploadId },
    ];
    for (const { key, uploadId } of cases) {
      const args = { bucket, key, uploadId };
      const results = {
        uploadPart: codes(await uploadPart(key, uploadId, 1, Buffer.from('late part'))),
        completeWithParts: codes(await complete(key, uploadId, [{ partNumber: 1, etag: part.etag }])),
        completeListing: codes(await complete(key, uploadId)),
        abort: codes(await app.gql(ABORT, args)),
      };
      expect({ key, ...results }).toEqual({
        key,
        uploadPart: ['NO_SUCH_UPLOAD'],
        completeWithParts: ['NO_SUCH_UPLOAD'],
        completeListing: ['NO_SUCH_UPLOAD'],
        abort: ['NO_SUCH_UPLOAD'],
      });
    }
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'gone/unknown' })))).toMatchObject({
      status: 404,
    });
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'gone/aborted' })))).toMatchObject({
      status: 404,
    });
    // The completed object is still the one completed first.
    expect(await stored('gone/completed')).toMatchObject({ sha256: sha256([Buffer.from('the only part')]) });
    expect(await listed('gone/')).toEqual([]);
  });

  it('INVALID_PART for a wrong ETag, a missing part and a too-small part; no object, the upload stays open', async () => {
    const key = 'invalid-parts.bin';
    const { uploadId } = await create(key);
    const one = await putPart(key, uploadId, 1, Buffer.alloc(KiB, 1));
    const two = await putPart(key, uploadId, 2, Buffer.alloc(KiB, 2));
    const attempts = {
      wrongEtag: await complete(key, uploadId, [{ partNumber: 1, etag: '0123456789abcdef0123456789abcdef' }]),
      missingPart: await complete(key, uploadId, [
        { partNumber: 1, etag: one.etag },
        { partNumber: 3, etag: two.etag },
      ]),
      tooSmall: await complete(key, uploadId, [
        { partNumber: 1, etag: one.etag },
        { partNumber: 2, etag: two.etag },
      ]),
      tooSmallListed: await complete(key, uploadId),
    };
    for (const [name, res] of Object.entries(attempts))
      expect({ name, codes: codes(res) }).toEqual({ name, codes: ['INVALID_PART'] });
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
      ok: false,
      status: 404,
    });
    expect(await openInStore(key)).toEqual([uploadId]);

    // An upload with no part at all cannot be completed either.
    const empty = await create('no-parts.bin');
    expect(codes(await complete('no-parts.bin', empty.uploadId))).toEqual(['INVALID_PART']);

    // The open upload can still be fixed: the last part alone is a valid object.
    const fixed = await complete(key, uploadId, [{ partNumber: 2, etag: two.etag }]);
    expect(fixed.errors).toBeUndefined();
    expect(await stored(key)).toMatchObject({ size: KiB, etag: multipartEtag([two.etag]) });
  });

  it('BAD_USER_INPUT for arguments that break a rule, and nothing reaches the store', async () => {
    const key = 'k';
    const uploadId = 'some-upload-id';
    const file = Buffer.from('x');
    const etag = md5(file);
    app.resetCalls();
    const cases: [string, Promise<GqlResponse<unknown>>][] = [
      ['bucket', app.gql(CREATE, { bucket: 'Not_A_Bucket', key })],
      ['key', app.gql(CREATE, { bucket, key: '' })],
      ['contentType', app.gql(CREATE, { bucket, key, contentType: 'not a type' })],
      ['partNumber', app.upload(UPLOAD_PART, { bucket, key, uploadId, partNumber: 0 }, { file })],
      ['partNumber', app.upload(UPLOAD_PART, { bucket, key, uploadId, partNumber: 10_001 }, { file })],
      ['size', app.upload(UPLOAD_PART, { bucket, key, uploadId, partNumber: 1, size: -1 }, { file })],
      ['uploadId', app.upload(UPLOAD_PART, { bucket, key, uploadId: '', partNumber: 1 }, { file })],
      ['partNumber', app.gql(PRESIGN_PART, { bucket, key, uploadId, partNumber: 0 })],
      ['partNumber', app.gql(PRESIGN_PART, { bucket, key, uploadId, partNumber: 10_001 })],
      ['expiresIn', app.gql(PRESIGN_PART, { bucket, key, uploadId, partNumber: 1, expiresIn: 0 })],
      ['expiresIn', app.gql(PRESIGN_PART, { bucket, key, uploadId, partNumber: 1, expiresIn: 604_801 })],
      ['uploadId', app.gql(PRESIGN_PART, { bucket, key, uploadId: 'has space', partNumber: 1 })],
      ['uploadId', app.gql(PRESIGN_PART, { bucket, key, uploadId: 'u'.repeat(1025), partNumber: 1 })],
      ['uploadId', app.gql(PRESIGN_PART, { bucket, key, uploadId: 'upload-ü', partNumber: 1 })],
      ['uploadId', app.gql(COMPLETE, { bucket, key, uploadId: 'line\nbreak', parts: [{ partNumber: 1, etag }] })],
      ['uploadId', app.gql(ABORT, { bucket, key, uploadId: '' })],
      ['parts[0].partNumber', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 0, etag }] })],
      [
        'parts[1].etag',
        app.gql(COMPLETE, {
          bucket,
          key,
          uploadId,
          parts: [
            { partNumber: 1, etag },
            { partNumber: 2, etag: '' },
          ],
        }),
      ],
      ['parts[0].etag', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 1, etag: 'a"b' }] })],
      ['parts[0].etag', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 1, etag: `"${etag}` }] })],
      ['parts[0].etag', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 1, etag: 'has space' }] })],
      [
        'parts[0].etag',
        app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 1, etag: 'e'.repeat(1025) }] }),
      ],
      [
        'parts',
        app.gql(COMPLETE, {
          bucket,
          key,
          uploadId,
          parts: Array.from({ length: 10_001 }, (_, i) => ({ partNumber: i + 1, etag })),
        }),
      ],
      ['parts', app.gql(COMPLETE, { bucket, key, uploadId, parts: [] })],
      [
        'parts[1].partNumber',
        app.gql(COMPLETE, {
          bucket,
          key,
          uploadId,
          parts: [
            { partNumber: 1, etag },
            { partNumber: 1, etag },
          ],
        }),
      ],
      ['parts[0].partNumber', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 10_001, etag }] })],
      ['parts[0].etag', app.gql(COMPLETE, { bucket, key, uploadId, parts: [{ partNumber: 1, etag: '""' }] })],
      ['key', app.gql(ABORT, { bucket, key: 'x'.repeat(1025), uploadId })],
      ['bucket', app.gql(ABORT, { bucket: 'ab', key, uploadId })],
      ['olderThanSeconds', app.gql(ABORT_STALE, { bucket, olderThanSeconds: -1 })],
      ['bucket', app.gql(ABORT_STALE, { bucket: '-bad-', olderThanSeconds: 60 })],
    ];
    for (const [argument, pending] of cases) {
      const res = await pending;
      expect({ argument, codes: codes(res), got: argumentOf(res) }).toEqual({
        argument,
        codes: ['BAD_USER_INPUT'],
        got: argument,
      });
    }
    expect(app.calls).toEqual([]);
  });

  it('the edges of the rules are allowed: part numbers 1 and 10000, a 1024-character upload id and ETag, 10000 parts', async () => {
    const longId = 'u'.repeat(1024);
    for (const partNumber of [1, 10_000]) {
      const res = await app.gql<{ multipart: { presignPart: { url: string } } }>(PRESIGN_PART, {
        bucket,
        key: 'k',
        uploadId: longId,
        partNumber,
      });
      expect(res.errors).toBeUndefined();
      const url = new URL(res.data!.multipart.presignPart.url);
      expect([url.searchParams.get('partNumber'), url.searchParams.get('uploadId')]).toEqual([
        String(partNumber),
        longId,
      ]);
    }
    // Past the argument rules, the store answers: there is no such upload.
    const parts = Array.from({ length: 10_000 }, (_, i) => ({
      partNumber: i + 1,
      etag: i === 0 ? 'e'.repeat(1024) : md5(Buffer.from([i])),
    }));
    expect(codes(await complete('k', 'no-such-upload', parts))).toEqual(['NO_SUCH_UPLOAD']);
  });

  it('PAYLOAD_TOO_LARGE past MAX_PART_BYTES, spooled or with size; nothing is stored and no file is left', async () => {
    const limit = SPOOL_MEMORY_BYTES + MiB;
    const small = await startServer(store, { LOG_LEVEL: 'silent', MAX_PART_BYTES: String(limit) });
    try {
      const key = 'too-large.bin';
      const { uploadId } = await create(key, small);
      small.resetCalls();
      const over = await uploadPart(key, uploadId, 1, await randomBytes(limit + 1, 'over'), small);
      expect(codes(over)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(over.errors![0]!.message).toContain(String(limit));
      const declared = await uploadPart(key, uploadId, 2, Buffer.from('tiny'), small, limit + 1);
      expect(codes(declared)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(small.calls).toEqual([]);
      expect(
        (await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))).Parts ?? [],
      ).toEqual([]);

      expect((await small.gql(ABORT, { bucket, key, uploadId })).errors).toBeUndefined();
    } finally {
      await small.close();
    }
  });

  it('a client that disconnects while its part is spooled leaves no temporary file and no part', async () => {
    const key = 'disconnect.bin';
    const { uploadId } = await create(key);
    const boundary = `----multipart-test-${Date.now()}`;
    const operations = JSON.stringify({
      query: UPLOAD_PART,
      variables: { bucket, key, uploadId, partNumber: 1, file: null },
    });
    const head = [
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="part.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ].join('');
    const req = httpRequest(app.url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-graphql-csrf': '1' },
    });
    req.on('error', () => undefined);
    req.write(head);
    const chunk = Buffer.alloc(MiB, 7);
    for (let sent = 0; sent < SPOOL_MEMORY_BYTES + 2 * MiB; sent += chunk.length) {
      if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
    }
    // The part is past the memory threshold: it is in a file in a private directory.
    const spilled = await eventually(async () => {
      const dirs = await readdir(spoolRoot);
      if (dirs.length !== 1 || !dirs[0]!.startsWith(SPOOL_DIR_PREFIX)) return false;
      const file = await stat(join(spoolRoot, dirs[0]!, 'part')).catch(() => undefined);
      return file !== undefined && file.size > SPOOL_MEMORY_BYTES && (file.mode & 0o777) === 0o600;
    });
    expect(spilled).toBe(true);
    const dirMode = (await stat(join(spoolRoot, (await readdir(spoolRoot))[0]!))).mode & 0o777;
    expect(dirMode).toBe(0o700);

    req.destroy();
    expect(await eventually(async () => (await readdir(spoolRoot)).length === 0)).toBe(true);
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    expect(parts.Parts ?? []).toEqual([]);
    expect((await app.gql(ABORT, { bucket, key, uploadId })).errors).toBeUndefined();
  });

  it('parts and multipartUploads follow every page of the store’s listings; complete without parts too', async () => {
    const paged = await startServer(store, { LOG_LEVEL: 'silent' }, { listPageSize: 2 });
    try {
      const prefix = 'paged/';
      const uploads: Upload[] = [];
      for (let i = 0; i < 5; i++) uploads.push(await create(`${prefix}${i}`, paged));
      const target = uploads[0]!;
      const tiny = await Promise.all([1, 2, 3, 4, 5].map((n) => randomBytes(10 + n, `${store.name}/paged/${n}`)));
      for (const [i, data] of tiny.entries()) {
        await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: target.key,
            UploadId: target.uploadId,
            PartNumber: i + 1,
            Body: data,
          }),
        );
      }

      paged.resetCalls();
      const res = await paged.gql<{ bucket: { multipartUploads: Upload[] } }>(UPLOADS, { bucket, prefix });
      expect(res.errors).toBeUndefined();
      const all = res.data!.bucket.multipartUploads;
      expect(all.map((u) => u.key)).toEqual(uploads.map((u) => u.key));
      expect(all[0]!.parts!.map((p) => [p.partNumber, p.size, p.etag])).toEqual(
        tiny.map((b, i) => [i + 1, b.length, md5(b)]),
      );
      // 5 parts in pages of 2: three ListParts for the target, one for each other upload.
      expect(paged.count('ListParts')).toBe(3 + 4);
      // moto ignores MaxUploads and answers with every upload in one page.
      expect(paged.count('ListMultipartUploads')).toBe(store.name === 'moto' ? 1 : 3);

      // Three parts in pages of 2: completing without parts lists both pages.
      const tail = await create(`${prefix}tail`, paged);
      const bytes = await Promise.all(
        [5 * MiB, 5 * MiB, 10].map((size, i) => randomBytes(size, `${store.name}/tail/${i}`)),
      );
      for (const [i, data] of bytes.entries()) {
        await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: tail.key,
            UploadId: tail.uploadId,
            PartNumber: i + 1,
            Body: data,
          }),
        );
      }
      paged.resetCalls();
      const done = await complete(tail.key, tail.uploadId, undefined, paged);
      expect(done.errors).toBeUndefined();
      expect(paged.count('ListParts')).toBe(2);
      expect(await stored(tail.key)).toMatchObject({ etag: multipartEtag(bytes.map(md5)), sha256: sha256(bytes) });
      for (const u of uploads)
        expect((await paged.gql(ABORT, { bucket, key: u.key, uploadId: u.uploadId })).errors).toBeUndefined();
    } finally {
      await paged.close();
    }
  });

  it('abortStale aborts the open uploads older than the cut-off (dryRun only lists them)', async () => {
    const own = await createTestBucket(s3, 'gql-stale');
    try {
      const mk = async (key: string) => {
        const res = await app.gql<{ multipart: { create: Upload } }>(CREATE, { bucket: own, key });
        expect(res.errors).toBeUndefined();
        return res.data!.multipart.create.uploadId;
      };
      // Keys no other test uses: the run without a bucket looks at every bucket of the shared store.
      const p = `stale-${randomUUID()}/`;
      const ids = { a1: await mk(`${p}a/1`), a2: await mk(`${p}a/2`), b1: await mk(`${p}b/1`) };
      const open = async () => {
        const res = await app.gql<{ bucket: { multipartUploads: Upload[] } }>(UPLOADS, { bucket: own });
        return res.data!.bucket.multipartUploads;
      };
      const before = await open();
      expect(before.map((u) => u.key)).toEqual([`${p}a/1`, `${p}a/2`, `${p}b/1`]);
      // Ages by the store's own dates (some stores report a fixed initiation date).
      const oldest = Math.min(...before.map((u) => Date.parse(u.initiatedAt!)));
      const ageOfOldest = Math.ceil((Date.now() - oldest) / 1000);

      type Result = {
        multipart: {
          abortStale: {
            cutoff: string;
            dryRun: boolean;
            aborted: { key: string; uploadId: string }[];
            failed: unknown[];
          };
        };
      };
      const younger = await app.gql<Result>(ABORT_STALE, { bucket: own, olderThanSeconds: ageOfOldest + 3600 });
      expect(younger.errors).toBeUndefined();
      expect(younger.data!.multipart.abortStale).toMatchObject({ dryRun: false, aborted: [], failed: [] });
      expect(Date.parse(younger.data!.multipart.abortStale.cutoff)).toBeLessThan(oldest);

      const dry = await app.gql<Result>(ABORT_STALE, {
        bucket: own,
        olderThanSeconds: 0,
        prefix: `${p}a/`,
        dryRun: true,
      });
      expect(dry.data!.multipart.abortStale).toMatchObject({
        dryRun: true,
        aborted: [
          { key: `${p}a/1`, uploadId: ids.a1 },
          { key: `${p}a/2`, uploadId: ids.a2 },
        ],
        failed: [],
      });
      expect((await open()).length).toBe(3);

      const real = await app.gql<Result>(ABORT_STALE, { bucket: own, olderThanSeconds: 0, prefix: `${p}a/` });
      expect(real.data!.multipart.abortStale).toMatchObject({
        dryRun: false,
        aborted: [
          { key: `${p}a/1`, uploadId: ids.a1 },
          { key: `${p}a/2`, uploadId: ids.a2 },
        ],
        failed: [],
      });
      expect((await open()).map((u) => u.uploadId)).toEqual([ids.b1]);

      // Without a bucket: every bucket the caller may write to, so this one too.
      const everywhere = await app.gql<Result>(ABORT_STALE, { olderThanSeconds: 0, prefix: `${p}b/` });
      expect(everywhere.errors).toBeUndefined();
      expect(everywhere.data!.multipart.abortStale.aborted).toEqual([{ key: `${p}b/1`, uploadId: ids.b1 }]);
      expect(await open()).toEqual([]);
    } finally {
      await removeBucket(s3, own);
    }
  });

  it('the fields inside multipart run concurrently in one operation: two parts in one request', async () => {
    const key = 'two-in-one.bin';
    const { uploadId } = await create(key);
    const a = await randomBytes(300 * KiB, 'two-a');
    const b = await randomBytes(200 * KiB, 'two-b');
    const res = await app.upload<{ multipart: { first: Part; second: Part } }>(
      `mutation Two($bucket: String!, $key: String!, $uploadId: String!, $a: Upload!, $b: Upload!) {
        multipart {
          first: uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: 1, file: $a) { partNumber etag size }
          second: uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: 2, file: $b) { partNumber etag size }
        }
      }`,
      { bucket, key, uploadId },
      { a, b },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.multipart).toEqual({
      first: { partNumber: 1, etag: md5(a), size: a.length },
      second: { partNumber: 2, etag: md5(b), size: b.length },
    });

    const described = await app.gql<{
      __type: { description: string; fields: { name: string; description: string }[] };
    }>('{ __type(name: "MultipartMutations") { description fields { name description } } }');
    const type = described.data!.__type;
    for (const text of [type.description, ...type.fields.map((f) => f.description)]) {
      expect(text).toContain('run concurrently within one operation (only top-level mutation fields run in order)');
    }
    expect((await app.gql(ABORT, { bucket, key, uploadId })).errors).toBeUndefined();
  });

  it('FORBIDDEN for a read-only key on every write, before anything reaches the store; it may list', async () => {
    const token = 'reader-token-0123456789abcdef';
    const reader = await startServer(store, {
      LOG_LEVEL: 'silent',
      API_KEYS: JSON.stringify({ keys: [{ name: 'reader', token, grants: [{ bucket: '*', role: 'read' }] }] }),
    });
    try {
      const auth = { authorization: `Bearer ${token}` };
      const args = { bucket, key: 'k', uploadId: 'u' };
      reader.resetCalls();
      const denied = [
        await reader.gql(CREATE, { bucket, key: 'k' }, auth),
        await reader.upload(UPLOAD_PART, { ...args, partNumber: 1 }, { file: Buffer.from('x') }, auth),
        await reader.gql(PRESIGN_PART, { ...args, partNumber: 1 }, auth),
        await reader.gql(COMPLETE, args, auth),
        await reader.gql(ABORT, args, auth),
        await reader.gql(ABORT_STALE, { bucket, olderThanSeconds: 0 }, auth),
        await reader.gql(ABORT_STALE, { olderThanSeconds: 0 }, auth),
      ];
      expect(denied.map(codes)).toEqual(denied.map(() => ['FORBIDDEN']));
      expect(reader.calls).toEqual([]);
      const list = await reader.gql<{ bucket: { multipartUploads: Upload[] } }>(
        UPLOADS,
        { bucket, prefix: 'nothing-here/' },
        auth,
      );
      expect(list.errors).toBeUndefined();
      expect(list.data!.bucket.multipartUploads).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});
