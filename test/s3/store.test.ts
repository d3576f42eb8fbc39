/**
 * The store layer against every real S3-compatible store of the shared
 * harness (moto, and the embedded store once it is registered), checked with
 * a separate plain SDK client, plus the error mapping as pure code.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import {
  BucketAlreadyExists,
  BucketAlreadyOwnedByYou,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  NoSuchBucket,
  NoSuchKey,
  NoSuchUpload,
  NotFound,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import type { StoreCallEvent } from '../../src/s3/instrumentation.js';
import { toAppError } from '../../src/s3/errors.js';
import { copySource } from '../../src/s3/copy.js';
import { stripEtag } from '../../src/s3/shared.js';
import { Store } from '../../src/s3/store.js';
import { KiB, MiB, digestOf, expectedDigest, randomStream, sha256Of } from '../support/data.js';
import { per } from '../support/deviations.js';
import { freePort, startStoreProxy } from '../support/servers.js';
import {
  createTestBucket,
  outcomeOf,
  removeBucket,
  s3Client,
  storeSettingsFor,
  testStores,
  uniqueBucket,
} from '../support/stores.js';

const PART = 5 * MiB;
/** Small on purpose: every loop over a listing must cross pages in these tests. */
const PAGE = 3;

/** Rejects with the AppError `promise` fails with; fails the test if it resolves or throws something else. */
async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an AppError, but the call succeeded');
}

async function bodyDigest(client: S3Client, bucket: string, key: string) {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256Of(r.Body as Readable);
}

async function openUploads(client: S3Client, bucket: string, prefix?: string) {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return r.Uploads ?? [];
}

describe.each(testStores())('Store on $name', (storeUT) => {
  const calls: StoreCallEvent[] = [];
  const client = createS3Client(storeSettingsFor(storeUT), { onCall: (e) => calls.push(e) });
  const presignClient = createS3Client(storeSettingsFor(storeUT), { forPresign: true });
  const store = new Store(client, presignClient, {
    partSize: PART,
    queueSize: 2,
    maxUploadBytes: 64 * MiB,
    listPageSize: PAGE,
    copyMultipartThreshold: 6 * MiB,
    copyPartSize: PART,
  });
  const direct = s3Client(storeUT);
  let bucket: string;

  /** The operations `run` sent to the store, in order. */
  async function callsDuring(run: () => Promise<unknown>): Promise<string[]> {
    const start = calls.length;
    await run();
    return calls.slice(start).map((c) => c.operation);
  }

  beforeAll(async () => {
    bucket = await createTestBucket(direct, 'store');
  });
  afterAll(async () => {
    await removeBucket(direct, bucket);
    client.destroy();
    presignClient.destroy();
    direct.destroy();
  });

  describe('buckets', () => {
    it('ping answers with one ListBuckets call', async () => {
      expect(await callsDuring(() => store.ping())).toEqual(['ListBuckets']);
    });

    it('ping of an unreachable store is BACKEND_UNAVAILABLE, and names no endpoint', async () => {
      const port = await freePort();
      const deadClient = createS3Client(
        storeSettingsFor(storeUT, { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 }),
      );
      const dead = new Store(deadClient, deadClient, { partSize: PART, queueSize: 1, maxUploadBytes: MiB });
      const err = await appErrorOf(dead.ping());
      expect(err.code).toBe('BACKEND_UNAVAILABLE');
      expect(err.message).not.toContain(String(port));
      expect(err.cause).toBeDefined();
      expect((await appErrorOf(dead.listBuckets())).code).toBe('BACKEND_UNAVAILABLE');
      deadClient.destroy();
    });

    it('creates, finds, lists and deletes a bucket; a second create is BUCKET_ALREADY_EXISTS', async () => {
      const name = uniqueBucket('store-create');
      expect(await store.bucketExists(name)).toBeNull();
      await store.createBucket(name);
      expect(await store.bucketExists(name)).toEqual({ name });
      const listed = await store.listBuckets();
      const mine = listed.find((b) => b.name === name);
      expect(mine?.createdAt).toBeInstanceOf(Date);
      expect((await appErrorOf(store.createBucket(name))).code).toBe('BUCKET_ALREADY_EXISTS');
      await store.deleteBucket(name);
      expect(await store.bucketExists(name)).toBeNull();
      expect((await appErrorOf(store.deleteBucket(name))).code).toBe('NO_SUCH_BUCKET');
    });

    it('deleteBucket refuses a non-empty bucket, and with force empties it over several pages first', async () => {
      const name = await createTestBucket(direct, 'store-force');
      for (let i = 0; i < 2 * PAGE + 1; i++) {
        await direct.send(new PutObjectCommand({ Bucket: name, Key: `dir/k${i}`, Body: `v${i}` }));
      }
      const upload = await store.createMultipartUpload(name, 'pending');
      const refused = await appErrorOf(store.deleteBucket(name));
      expect(refused.code).toBe('BUCKET_NOT_EMPTY');
      expect(refused.message).toContain(name);

      const ops = await callsDuring(() => store.deleteBucket(name, { force: true }));
      expect(ops.filter((o) => o === 'ListObjectsV2').length).toBeGreaterThanOrEqual(3);
      expect(ops).toContain('AbortMultipartUpload');
      expect(ops.at(-1)).toBe('DeleteBucket');
      expect(await store.bucketExists(name)).toBeNull();
      expect((await appErrorOf(store.listParts(name, 'pending', upload.uploadId))).code).toBe('NO_SUCH_BUCKET');
      expect((await appErrorOf(store.deleteBucket(name, { force: true }))).code).toBe('NO_SUCH_BUCKET');
    });
  });

  describe('listing and reading', () => {
    const keys = ['list/a.txt', 'list/b.txt', 'list/c/d.txt', 'list/c/e.txt', 'list/f.txt'];
    beforeAll(async () => {
      for (const key of keys) {
        await direct.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `body of ${key}`,
            ContentType: 'text/plain',
            Metadata: { Colour: 'Blue' },
          }),
        );
      }
    });

    it('listObjects is exactly one ListObjectsV2 call per page, and the pages add up', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        let page!: Awaited<ReturnType<Store['listObjects']>>;
        const ops = await callsDuring(async () => {
          page = await store.listObjects(bucket, { prefix: 'list/', maxKeys: 2, continuationToken: token });
        });
        expect(ops).toEqual(['ListObjectsV2']);
        seen.push(...page.objects.map((o) => o.key));
        token = page.nextToken;
        pages += 1;
      } while (token);
      expect(pages).toBe(3);
      expect(seen).toEqual([...keys].sort());
      expect(calls.at(-1)).toMatchObject({ operation: 'ListObjectsV2', outcome: 'ok' });
      expect(calls.at(-1)!.seconds).toBeGreaterThan(0);
    });

    it('listObjects folds keys into prefixes with a delimiter, honours startAfter and strips ETag quotes', async () => {
      const page = await store.listObjects(bucket, { prefix: 'list/', delimiter: '/', maxKeys: 100 });
      expect(page.prefixes).toEqual(['list/c/']);
      expect(page.objects.map((o) => o.key)).toEqual(['list/a.txt', 'list/b.txt', 'list/f.txt']);
      expect(page.nextToken).toBeUndefined();
      const a = page.objects[0]!;
      expect(a).toMatchObject({ bucket, size: 'body of list/a.txt'.length, etag: digestOf('body of list/a.txt').md5 });
      expect(a.lastModified).toBeInstanceOf(Date);

      const after = await store.listObjects(bucket, { prefix: 'list/', maxKeys: 100, startAfter: 'list/c/e.txt' });
      expect(after.objects.map((o) => o.key)).toEqual(['list/f.txt']);
      expect((await appErrorOf(store.listObjects(uniqueBucket('missing'), { maxKeys: 1 }))).code).toBe(
        'NO_SUCH_BUCKET',
      );
    });

    it('headObject gives size, ETag without quotes, type, lower-case metadata and storage class; null for a missing key', async () => {
      const head = await store.headObject(bucket, 'list/a.txt');
      expect(head).toMatchObject({
        bucket,
        key: 'list/a.txt',
        size: 'body of list/a.txt'.length,
        etag: digestOf('body of list/a.txt').md5,
        contentType: 'text/plain',
        metadata: { colour: 'Blue' },
        // S3 sends no x-amz-storage-class for STANDARD objects; the listing says STANDARD, and so does the head.
        storageClass: 'STANDARD',
      });
      expect(await store.headObject(bucket, 'list/nothing')).toBeNull();
      const missing = uniqueBucket('missing');
      const err = await appErrorOf(store.headObject(missing, 'x'));
      expect(err.code).toBe('NO_SUCH_BUCKET');
      expect(err.message).toContain(missing);
    });

    it('getObject streams the body, a range as 206, and a matching If-None-Match as 304', async () => {
      const full = await store.getObject(bucket, 'list/b.txt');
      expect(full.status).toBe(200);
      expect(full.contentLength).toBe('body of list/b.txt'.length);
      expect(full.contentType).toBe('text/plain');
      expect(full.metadata).toEqual({ colour: 'Blue' });
      expect(full.etag).toBe(digestOf('body of list/b.txt').md5);
      expect(full.lastModified).toBeInstanceOf(Date);
      expect((await sha256Of(full.body!)).sha256).toBe(digestOf('body of list/b.txt').sha256);

      const part = await store.getObject(bucket, 'list/b.txt', { range: 'bytes=0-3' });
      expect(part.status).toBe(206);
      expect(part.contentRange).toBe(`bytes 0-3/${'body of list/b.txt'.length}`);
      expect(Buffer.concat(await part.body!.toArray()).toString()).toBe('body');

      const suffix = await store.getObject(bucket, 'list/b.txt', { range: 'bytes=-5' });
      expect(Buffer.concat(await suffix.body!.toArray()).toString()).toBe('b.txt');

      const notModified = await store.getObject(bucket, 'list/b.txt', { ifNoneMatch: `"${full.etag}"` });
      expect(notModified.status).toBe(304);
      expect(notModified.body).toBeUndefined();
      expect(calls.at(-1)).toMatchObject({ operation: 'GetObject', outcome: 'ok' });

      const changed = await store.getObject(bucket, 'list/b.txt', {
        ifNoneMatch: '"0123456789abcdef0123456789abcdef"',
      });
      expect(changed.status).toBe(200);
      changed.body!.destroy();
    });

    it('getObject errors: 416 ranges, 412 preconditions, NO_SUCH_KEY and NO_SUCH_BUCKET', async () => {
      const unsatisfiable = await appErrorOf(store.getObject(bucket, 'list/b.txt', { range: 'bytes=1000-2000' }));
      expect(unsatisfiable.code).toBe('BAD_USER_INPUT');
      expect(unsatisfiable.extensions.httpStatus).toBe(416);

      const before = calls.length;
      const malformed = await appErrorOf(store.getObject(bucket, 'list/b.txt', { range: 'bytes=5-1,7-9' }));
      expect(malformed).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { httpStatus: 416 } });
      expect(calls.length).toBe(before);

      const precondition = await appErrorOf(
        store.getObject(bucket, 'list/b.txt', { ifMatch: '"0123456789abcdef0123456789abcdef"' }),
      );
      expect(precondition).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { httpStatus: 412 } });

      const noKey = await appErrorOf(store.getObject(bucket, 'list/none'));
      expect(noKey.code).toBe('NO_SUCH_KEY');
      expect(noKey.message).toContain('list/none');
      expect(calls.at(-1)).toMatchObject({ operation: 'GetObject', outcome: 'error' });
      expect((await appErrorOf(store.getObject(uniqueBucket('missing'), 'k'))).code).toBe('NO_SUCH_BUCKET');
    });
  });

  describe('uploadStream', () => {
    it('stores a small body byte for byte with one PutObject', async () => {
      const size = 10 * KiB + 7;
      let head!: Awaited<ReturnType<Store['uploadStream']>>;
      const ops = await callsDuring(async () => {
        head = await store.uploadStream(bucket, 'up/small.bin', randomStream(size, 'small'), {
          maxBytes: size,
          contentType: 'application/x-test',
          metadata: { Origin: 'Test' },
        });
      });
      expect(ops).toEqual(['PutObject', 'HeadObject']);
      const expected = await expectedDigest(size, 'small');
      expect(head).toMatchObject({
        key: 'up/small.bin',
        size,
        etag: expected.md5,
        contentType: 'application/x-test',
        metadata: { origin: 'Test' },
      });
      expect(await bodyDigest(direct, bucket, 'up/small.bin')).toEqual(expected);
    });

    it('stores a body larger than partSize byte for byte as a multipart upload', async () => {
      const size = 2 * PART + 123_457;
      let head!: Awaited<ReturnType<Store['uploadStream']>>;
      const ops = await callsDuring(async () => {
        head = await store.uploadStream(bucket, 'up/large.bin', randomStream(size, 'large'), { maxBytes: size });
      });
      expect(ops.filter((o) => o === 'UploadPart')).toHaveLength(3);
      expect(ops).toContain('CreateMultipartUpload');
      expect(ops).toContain('CompleteMultipartUpload');
      expect(head.size).toBe(size);
      expect(head.etag).toMatch(/-3$/);
      expect(await bodyDigest(direct, bucket, 'up/large.bin')).toEqual(await expectedDigest(size, 'large'));
      expect(await openUploads(direct, bucket, 'up/large.bin')).toEqual([]);
    });

    it('past maxBytes fails with PAYLOAD_TOO_LARGE and leaves no object and no open multipart upload', async () => {
      const key = 'up/too-large.bin';
      let err!: AppError;
      const ops = await callsDuring(async () => {
        // The first part is complete (a multipart upload is open) when the limit is crossed.
        err = await appErrorOf(store.uploadStream(bucket, key, randomStream(3 * PART, 'big'), { maxBytes: 2 * PART }));
      });
      expect(err.code).toBe('PAYLOAD_TOO_LARGE');
      expect(ops).toContain('CreateMultipartUpload');
      expect(ops).toContain('AbortMultipartUpload');
      expect(ops).not.toContain('CompleteMultipartUpload');
      expect(await outcomeOf(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
        ok: false,
        status: 404,
      });
      expect(await openUploads(direct, bucket, key)).toEqual([]);

      const small = await appErrorOf(
        store.uploadStream(bucket, 'up/tiny.bin', Readable.from([Buffer.alloc(11)]), { maxBytes: 10 }),
      );
      expect(small.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await store.headObject(bucket, 'up/tiny.bin')).toBeNull();
    });

    it('the store-wide maxUploadBytes caps a larger maxBytes', async () => {
      const capped = new Store(client, presignClient, { partSize: PART, queueSize: 1, maxUploadBytes: 100 });
      const err = await appErrorOf(
        capped.uploadStream(bucket, 'up/capped.bin', Readable.from([Buffer.alloc(101)]), { maxBytes: 10 * MiB }),
      );
      expect(err.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await store.headObject(bucket, 'up/capped.bin')).toBeNull();
    });

    it('an aborted signal or a failing body stops the upload and leaves nothing behind', async () => {
      const controller = new AbortController();
      const slow = new PassThrough();
      const pending = store.uploadStream(bucket, 'up/aborted.bin', slow, {
        maxBytes: 64 * MiB,
        signal: controller.signal,
      });
      // More than one part, so a multipart upload is open when the signal fires.
      slow.write(Buffer.alloc(PART + KiB));
      await new Promise((resolve) => setTimeout(resolve, 300));
      controller.abort();
      expect((await appErrorOf(pending)).code).toBe('BAD_USER_INPUT');
      expect(slow.destroyed).toBe(true);
      expect(await store.headObject(bucket, 'up/aborted.bin')).toBeNull();
      expect(await openUploads(direct, bucket, 'up/aborted.bin')).toEqual([]);

      const failing = new PassThrough();
      const pending2 = store.uploadStream(bucket, 'up/failing.bin', failing, { maxBytes: 64 * MiB });
      failing.write(Buffer.alloc(PART + KiB));
      setTimeout(() => failing.destroy(new Error('client went away')), 300);
      const err = await appErrorOf(pending2);
      expect(err.code).toBe('BAD_USER_INPUT');
      expect(err.message).not.toContain('client went away');
      expect(await store.headObject(bucket, 'up/failing.bin')).toBeNull();
      expect(await openUploads(direct, bucket, 'up/failing.bin')).toEqual([]);
    });

    it('into a missing bucket is NO_SUCH_BUCKET', async () => {
      const err = await appErrorOf(
        store.uploadStream(uniqueBucket('missing'), 'k', Readable.from([Buffer.from('x')]), { maxBytes: 10 }),
      );
      expect(err.code).toBe('NO_SUCH_BUCKET');
    });
  });

  describe('deleting', () => {
    it('deleteObject removes one key; a missing key succeeds; a missing bucket is NO_SUCH_BUCKET', async () => {
      await direct.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/one', Body: '1' }));
      await store.deleteObject(bucket, 'del/one');
      expect(await store.headObject(bucket, 'del/one')).toBeNull();
      await store.deleteObject(bucket, 'del/one');
      expect((await appErrorOf(store.deleteObject(uniqueBucket('missing'), 'k'))).code).toBe('NO_SUCH_BUCKET');
    });

    it('deleteObjects sends Content-MD5 and reports every key', async () => {
      const seen: Record<string, string>[] = [];
      const spy = createS3Client(storeSettingsFor(storeUT));
      spy.middlewareStack.add(
        (next, context) => async (args) => {
          const request = args.request as { headers: Record<string, string>; body: unknown };
          if (context.commandName === 'DeleteObjectsCommand')
            seen.push({ ...request.headers, body: String(request.body) });
          return next(args);
        },
        { step: 'finalizeRequest', name: 'testSpy' },
      );
      const spyStore = new Store(spy, spy, { partSize: PART, queueSize: 1, maxUploadBytes: MiB });
      for (const key of ['del/x', 'del/y'])
        await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const result = await spyStore.deleteObjects(bucket, ['del/x', 'del/y', 'del/never-existed']);
      expect([...result.deleted].sort()).toEqual(['del/never-existed', 'del/x', 'del/y']);
      expect(result.errors).toEqual([]);
      expect(seen).toHaveLength(1);
      expect(seen[0]!['content-md5']).toBe(createHash('md5').update(seen[0]!.body!).digest('base64'));
      expect(await store.headObject(bucket, 'del/x')).toBeNull();
      expect(await spyStore.deleteObjects(bucket, [])).toEqual({ deleted: [], errors: [] });
      spy.destroy();
    });

    it('deletePrefix deletes every key under the prefix across listing pages, and nothing else', async () => {
      const inside = Array.from({ length: 3 * PAGE + 1 }, (_, i) => `pre/fix/${String(i).padStart(2, '0')}`);
      const outside = ['pre/other', 'pre/fi'];
      for (const key of [...inside, ...outside]) {
        await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      }
      let result!: Awaited<ReturnType<Store['deletePrefix']>>;
      const ops = await callsDuring(async () => {
        result = await store.deletePrefix(bucket, 'pre/fix/');
      });
      expect(ops.filter((o) => o === 'ListObjectsV2')).toHaveLength(4);
      expect(ops.filter((o) => o === 'DeleteObjects')).toHaveLength(4);
      expect([...result.deleted].sort()).toEqual(inside);
      expect(result.errors).toEqual([]);
      const left = await store.listObjects(bucket, { prefix: 'pre/', maxKeys: 100 });
      expect(left.objects.map((o) => o.key)).toEqual(['pre/fi', 'pre/other']);
      expect((await appErrorOf(store.deletePrefix(bucket, ''))).code).toBe('BAD_USER_INPUT');
    });
  });

  describe('copyObject', () => {
    const tricky = [
      'copy/with space.txt',
      'copy/plus+sign.txt',
      'copy/percent%20not-a-space%.txt',
      'copy/ünïcödé/日本語/ключ.txt',
      'copy/a//double/slash',
      "copy/quote's (paren) *star* !bang",
      'copy/amp&eq=q?hash#tilde~',
    ];

    it('copies keys with spaces, +, %, unicode and slashes, keeping type and metadata', async () => {
      for (const [i, key] of tricky.entries()) {
        await direct.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `content ${i}`,
            ContentType: 'text/x-tricky',
            Metadata: { n: String(i) },
          }),
        );
        const target = `${key} copy+${i}%`;
        const head = await store.copyObject({ bucket, key }, { bucket, key: target });
        expect(head).toMatchObject({
          key: target,
          size: `content ${i}`.length,
          etag: digestOf(`content ${i}`).md5,
          contentType: 'text/x-tricky',
          metadata: { n: String(i) },
        });
        expect((await bodyDigest(direct, bucket, target)).sha256).toBe(digestOf(`content ${i}`).sha256);
      }
    });

    it('copies an object above the threshold with UploadPartCopy, byte for byte', async () => {
      const size = PART + 2 * MiB;
      await direct.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'copy/big src',
          Body: randomStream(size, 'copy'),
          ContentLength: size,
          ContentType: 'application/x-big',
          Metadata: { kept: 'yes' },
        }),
      );
      let head!: Awaited<ReturnType<Store['copyObject']>>;
      const ops = await callsDuring(async () => {
        head = await store.copyObject({ bucket, key: 'copy/big src' }, { bucket, key: 'copy/big+dst' });
      });
      expect(ops.filter((o) => o === 'UploadPartCopy')).toHaveLength(2);
      expect(ops).not.toContain('CopyObject');
      expect(head).toMatchObject({ size, contentType: 'application/x-big', metadata: { kept: 'yes' } });
      expect(await bodyDigest(direct, bucket, 'copy/big+dst')).toEqual(await expectedDigest(size, 'copy'));
      expect(await openUploads(direct, bucket, 'copy/')).toEqual([]);
    });

    it('a source replaced while its parts are copied fails the copy, and leaves no upload behind', async () => {
      const size = PART + 2 * MiB;
      const key = 'copy/raced src';
      const putSource = (seed: string) =>
        direct.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomStream(size, seed), ContentLength: size }),
        );
      await putSource('before');
      let swapped = false;
      const proxy = await startStoreProxy(storeUT.endpoint, async (req) => {
        if (req.headers['x-amz-copy-source'] !== undefined && !swapped) {
          swapped = true;
          await putSource('after');
        }
      });
      const raced = createS3Client(storeSettingsFor(storeUT, { endpoint: proxy.endpoint }));
      const racedStore = new Store(raced, raced, {
        partSize: PART,
        queueSize: 1,
        maxUploadBytes: 64 * MiB,
        copyMultipartThreshold: 6 * MiB,
        copyPartSize: PART,
      });
      try {
        const copied = racedStore.copyObject({ bucket, key }, { bucket, key: 'copy/raced dst' });
        if (per(storeUT, 'copyObject.copySourceConditions', { aws: true, deviation: false })) {
          const err = await appErrorOf(copied);
          expect(err.code).toBe('BAD_USER_INPUT');
          expect(err.message).toContain('changed while it was being copied');
          expect(
            await outcomeOf(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/raced dst' }))),
          ).toMatchObject({ ok: false, status: 404 });
        } else {
          await copied;
        }
        expect(swapped).toBe(true);
        expect(await openUploads(direct, bucket, 'copy/raced')).toEqual([]);
      } finally {
        raced.destroy();
        await proxy.close();
      }
    });

    it('copy errors: missing source key or bucket, missing destination bucket, copy onto itself', async () => {
      const noKey = await appErrorOf(store.copyObject({ bucket, key: 'copy/none' }, { bucket, key: 'copy/x' }));
      expect(noKey.code).toBe('NO_SUCH_KEY');
      expect(noKey.message).toContain('copy/none');
      const missing = uniqueBucket('missing');
      const noSrcBucket = await appErrorOf(store.copyObject({ bucket: missing, key: 'k' }, { bucket, key: 'copy/x' }));
      expect(noSrcBucket.code).toBe('NO_SUCH_BUCKET');
      const noDstBucket = await appErrorOf(
        store.copyObject({ bucket, key: tricky[0]! }, { bucket: missing, key: 'k' }),
      );
      expect(noDstBucket.code).toBe('NO_SUCH_BUCKET');
      const self = await appErrorOf(store.copyObject({ bucket, key: tricky[0]! }, { bucket, key: tricky[0]! }));
      expect(self.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('presigning', () => {
    it('a presigned GET downloads the object with fetch, and can set Content-Disposition', async () => {
      const key = 'presign/get me+now.txt';
      await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'presigned body' }));
      const ops = await callsDuring(async () => {
        const before = Date.now();
        const signed = await store.presignGet(bucket, key, 120, {
          responseContentDisposition: 'attachment; filename="x.txt"',
        });
        expect(signed.headers).toEqual([]);
        expect(signed.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 120_000);
        expect(signed.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 120_000);
        const res = await fetch(signed.url);
        expect(res.status).toBe(200);
        expect(new URL(signed.url).searchParams.get('response-content-disposition')).toBe(
          'attachment; filename="x.txt"',
        );
        expect(res.headers.get('content-disposition')).toBe(
          per(storeUT, 'getObject.responseOverrides', { aws: 'attachment; filename="x.txt"', deviation: null }),
        );
        expect(await res.text()).toBe('presigned body');
      });
      expect(ops).toEqual([]);
    });

    it('a presigned PUT carries no checksum, signs Content-Type and uploads with fetch', async () => {
      const key = 'presign/put me.txt';
      const signed = await store.presignPut(bucket, key, 300, { contentType: 'text/x-presigned' });
      const url = new URL(signed.url);
      expect(url.origin).toBe(storeUT.endpoint);
      const query = [...url.searchParams.keys()].map((k) => k.toLowerCase());
      expect(query).not.toContain('x-amz-checksum-crc32');
      expect(query).not.toContain('x-amz-sdk-checksum-algorithm');
      expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('content-type');
      expect(signed.headers).toEqual([{ key: 'content-type', value: 'text/x-presigned' }]);

      const headers = Object.fromEntries(signed.headers.map((h) => [h.key, h.value]));
      const res = await fetch(signed.url, { method: 'PUT', headers, body: 'uploaded via presign' });
      expect(res.status).toBe(200);
      const head = await store.headObject(bucket, key);
      expect(head).toMatchObject({ size: 'uploaded via presign'.length, contentType: 'text/x-presigned' });

      expect((await appErrorOf(store.presignPut(bucket, key, 0))).code).toBe('BAD_USER_INPUT');
      expect((await appErrorOf(store.presignGet(bucket, key, 604_801))).code).toBe('BAD_USER_INPUT');
    });

    it('presigned URLs use the public endpoint', async () => {
      const publicClient = createS3Client(storeSettingsFor(storeUT, { publicEndpoint: 'http://localhost:9999' }), {
        forPresign: true,
      });
      const publicStore = new Store(client, publicClient, { partSize: PART, queueSize: 1, maxUploadBytes: MiB });
      const signed = await publicStore.presignGet(bucket, 'k', 60);
      expect(new URL(signed.url).host).toBe('localhost:9999');
      publicClient.destroy();
    });
  });

  describe('multipart', () => {
    it('create, upload streamed parts, list them, complete without a part list: the object is byte-exact', async () => {
      const key = 'mp/assembled.bin';
      const upload = await store.createMultipartUpload(bucket, key, {
        contentType: 'application/x-mp',
        metadata: { Step: 'one' },
      });
      expect(upload).toMatchObject({ bucket, key });
      expect(upload.uploadId).not.toBe('');
      const p1 = await store.uploadPart(bucket, key, upload.uploadId, 1, randomStream(PART, 'p1'), PART);
      const p2 = await store.uploadPart(bucket, key, upload.uploadId, 2, randomStream(1000, 'p2'), 1000);
      expect(p1).toEqual({ partNumber: 1, etag: (await expectedDigest(PART, 'p1')).md5, size: PART });
      const listed = await store.listParts(bucket, key, upload.uploadId);
      expect(listed.map((p) => [p.partNumber, p.etag, p.size])).toEqual([
        [1, p1.etag, PART],
        [2, p2.etag, 1000],
      ]);
      const head = await store.completeMultipartUpload(bucket, key, upload.uploadId);
      expect(head).toMatchObject({ size: PART + 1000, contentType: 'application/x-mp', metadata: { step: 'one' } });
      const expected = createHash('sha256');
      for await (const chunk of randomStream(PART, 'p1')) expected.update(chunk as Buffer);
      for await (const chunk of randomStream(1000, 'p2')) expected.update(chunk as Buffer);
      expect((await bodyDigest(direct, bucket, key)).sha256).toBe(expected.digest('hex'));
      const gone = await appErrorOf(store.listParts(bucket, key, upload.uploadId));
      expect(gone.code).toBe('NO_SUCH_UPLOAD');
    });

    it('listParts and listMultipartUploads follow their markers over several pages', async () => {
      const key = 'mp/paged';
      const upload = await store.createMultipartUpload(bucket, key);
      for (let n = 1; n <= PAGE + 2; n++) {
        await store.uploadPart(
          bucket,
          key,
          upload.uploadId,
          n,
          Readable.from([Buffer.from(`part ${n}`)]),
          `part ${n}`.length,
        );
      }
      let parts!: Awaited<ReturnType<Store['listParts']>>;
      const ops = await callsDuring(async () => {
        parts = await store.listParts(bucket, key, upload.uploadId);
      });
      expect(ops).toEqual(['ListParts', 'ListParts']);
      expect(parts.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5]);

      const others = [];
      for (let i = 0; i < PAGE; i++) others.push(await store.createMultipartUpload(bucket, `mp/listed/${i}`));
      others.push(await store.createMultipartUpload(bucket, 'mp/listed/0'));
      // Paging of uploads is checked against the scripted server below: moto ignores max-uploads.
      const uploads = await store.listMultipartUploads(bucket, { prefix: 'mp/listed/' });
      expect(uploads.map((u) => u.uploadId).sort()).toEqual(others.map((u) => u.uploadId).sort());
      expect(uploads.every((u) => u.bucket === bucket && u.initiatedAt instanceof Date)).toBe(true);

      for (const u of [...others, upload]) await store.abortMultipartUpload(bucket, u.key, u.uploadId);
      expect(await store.listMultipartUploads(bucket, { prefix: 'mp/' })).toEqual([]);
    });

    it('a presigned part PUT with fetch completes with an explicit part list', async () => {
      const key = 'mp/presigned';
      const upload = await store.createMultipartUpload(bucket, key);
      const signed = await store.presignUploadPart(bucket, key, upload.uploadId, 1, 300);
      const res = await fetch(signed.url, { method: 'PUT', body: 'part sent straight to the store' });
      expect(res.status).toBe(200);
      const etag = stripEtag(res.headers.get('etag') ?? undefined);
      expect(etag).toBe(digestOf('part sent straight to the store').md5);
      const head = await store.completeMultipartUpload(bucket, key, upload.uploadId, [{ partNumber: 1, etag }]);
      expect(head.size).toBe('part sent straight to the store'.length);
      expect((await appErrorOf(store.presignUploadPart(bucket, key, upload.uploadId, 10_001, 60))).code).toBe(
        'BAD_USER_INPUT',
      );
    });

    it('maps multipart errors: NO_SUCH_UPLOAD, INVALID_PART, and a body that does not match its length', async () => {
      const key = 'mp/errors';
      for (const call of [
        () => store.uploadPart(bucket, key, 'no-such-upload', 1, Readable.from([Buffer.from('abc')]), 3),
        () => store.completeMultipartUpload(bucket, key, 'no-such-upload', [{ partNumber: 1, etag: 'x' }]),
        () => store.abortMultipartUpload(bucket, key, 'no-such-upload'),
        () => store.listParts(bucket, key, 'no-such-upload'),
      ]) {
        const err = await appErrorOf(call());
        expect(err.code).toBe('NO_SUCH_UPLOAD');
        expect(err.message).toContain('no-such-upload');
      }

      const upload = await store.createMultipartUpload(bucket, key);
      const wrongEtag = await appErrorOf(
        store.completeMultipartUpload(bucket, key, upload.uploadId, [
          { partNumber: 1, etag: '0123456789abcdef0123456789abcdef' },
        ]),
      );
      expect(wrongEtag.code).toBe('INVALID_PART');
      expect((await appErrorOf(store.completeMultipartUpload(bucket, key, upload.uploadId))).code).toBe('INVALID_PART');

      const short = await appErrorOf(
        store.uploadPart(bucket, key, upload.uploadId, 1, Readable.from([Buffer.from('abc')]), 10),
      );
      expect(short.code).toBe('BAD_USER_INPUT');
      const long = await appErrorOf(
        store.uploadPart(bucket, key, upload.uploadId, 1, Readable.from([Buffer.from('abcdefgh')]), 4),
      );
      expect(long.code).toBe('BAD_USER_INPUT');
      expect((await appErrorOf(store.uploadPart(bucket, key, upload.uploadId, 0, Readable.from([]), 0))).code).toBe(
        'BAD_USER_INPUT',
      );

      const small1 = await store.uploadPart(
        bucket,
        key,
        upload.uploadId,
        1,
        Readable.from([Buffer.from('tiny one')]),
        8,
      );
      const small2 = await store.uploadPart(
        bucket,
        key,
        upload.uploadId,
        2,
        Readable.from([Buffer.from('tiny two')]),
        8,
      );
      const tooSmall = await appErrorOf(
        store.completeMultipartUpload(bucket, key, upload.uploadId, [
          { partNumber: 1, etag: small1.etag },
          { partNumber: 2, etag: small2.etag },
        ]),
      );
      expect(tooSmall.code).toBe('INVALID_PART');
      await store.abortMultipartUpload(bucket, key, upload.uploadId);
      expect(await openUploads(direct, bucket, key)).toEqual([]);
    });
  });
});

/** moto is the store of the harness with versioning; force-deleting must remove old versions and delete markers too. */
describe.each(testStores().filter((s) => s.name === 'moto'))('versioned bucket on $name', (storeUT) => {
  it('deleteBucket with force removes every version and delete marker', async () => {
    const direct = s3Client(storeUT);
    const client = createS3Client(storeSettingsFor(storeUT));
    const store = new Store(client, client, { partSize: PART, queueSize: 1, maxUploadBytes: MiB, listPageSize: PAGE });
    const name = await createTestBucket(direct, 'store-versions');
    await direct.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    for (let i = 0; i < PAGE + 1; i++) {
      await direct.send(new PutObjectCommand({ Bucket: name, Key: `v/${i}`, Body: 'first' }));
      await direct.send(new PutObjectCommand({ Bucket: name, Key: `v/${i}`, Body: 'second' }));
    }
    await direct.send(new DeleteObjectCommand({ Bucket: name, Key: 'v/0' }));
    expect((await appErrorOf(store.deleteBucket(name))).code).toBe('BUCKET_NOT_EMPTY');
    await store.deleteBucket(name, { force: true });
    expect(await store.bucketExists(name)).toBeNull();
    client.destroy();
    direct.destroy();
  });
});

/**
 * A store's 400 for an argument, as the embedded store really answers it, for
 * arguments the API's validation refuses before any store call (nothing that
 * passes it provokes one; moto takes every one of these, so only the embedded
 * store runs this).
 */
describe.each(testStores().filter((s) => s.name === 'embedded'))(
  "a store's 400 for an argument on $name",
  (storeUT) => {
    const direct = s3Client(storeUT);
    const client = createS3Client(storeSettingsFor(storeUT, { maxAttempts: 1 }));
    const store = new Store(client, client, { partSize: PART, queueSize: 1, maxUploadBytes: MiB });
    let bucket: string;

    beforeAll(async () => {
      bucket = await createTestBucket(direct, 'store-refused');
    });
    afterAll(async () => {
      await removeBucket(direct, bucket);
      client.destroy();
      direct.destroy();
    });

    /** The AppError of a call the store refused with `status`, checked to reveal nothing the store said. */
    async function refused(call: Promise<unknown>, status: number, name?: string): Promise<AppError> {
      const err = await appErrorOf(call);
      expect(err.cause).toMatchObject({ $metadata: { httpStatusCode: status }, ...(name ? { name } : {}) });
      expect(err.code).toBe('BAD_USER_INPUT');
      expect(err.message).not.toMatch(/zzz|incorrect|RequestId|127\.0\.0\.1|exceed/i);
      return err;
    }

    it('InvalidArgument (a continuation token it did not make) is BAD_USER_INPUT', async () => {
      const err = await refused(
        store.listObjects(bucket, { maxKeys: 10, continuationToken: 'zzz' }),
        400,
        'InvalidArgument',
      );
      expect(err.message).toBe('the object store refused an argument of the request (InvalidArgument)');
    });

    it('431 (a 20 KB token in the query string) is BAD_USER_INPUT', async () => {
      const err = await refused(store.listObjects(bucket, { maxKeys: 10, continuationToken: 'z'.repeat(20_000) }), 431);
      expect(err.message).toBe('an argument of the request is too long for the object store');
    });

    it('MetadataTooLarge is BAD_USER_INPUT for metadata, and nothing is stored', async () => {
      const body = Readable.from([Buffer.from('x')]);
      const err = await refused(
        store.uploadStream(bucket, 'meta', body, { maxBytes: 10, metadata: { big: 'x'.repeat(3000) } }),
        400,
        'MetadataTooLarge',
      );
      expect(err.extensions.argument).toBe('metadata');
      expect(await store.headObject(bucket, 'meta')).toBeNull();
    });
  },
);

/**
 * A scripted S3 endpoint on loopback for what no real store here shows on
 * demand: paged ListBuckets, ListMultipartUploads paging (moto ignores
 * max-uploads), a store that repeats a continuation token, 503 SlowDown,
 * rejected signatures, other stores' 400s for arguments (MinIO's codes),
 * 414 and 431, and a store that never answers.
 */
describe('Store against a scripted S3 endpoint', () => {
  const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
  const seen: {
    method: string;
    path: string;
    query: URLSearchParams;
    headers: Record<string, unknown>;
    body: string;
  }[] = [];
  let server: Server;
  let endpoint: string;

  const xml = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  const s3Error = (res: ServerResponse, status: number, code: string) =>
    xml(res, status, `<Error><Code>${code}</Code><Message>secret detail from the store</Message></Error>`);

  function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(req, Buffer.concat(chunks).toString('utf8'), res));
  }

  function answer(req: IncomingMessage, body: string, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Path-style bucket requests come as /bucket/ (the SDK adds the slash).
    const path = url.pathname.replace(/(.)\/$/, '$1');
    seen.push({ method: req.method ?? '', path, query: url.searchParams, headers: req.headers, body });
    const q = url.searchParams;
    if (req.method === 'HEAD' && ['/taken', '/foreign', '/fresh'].includes(path)) {
      res.writeHead(path === '/foreign' ? 403 : 404);
      return res.end();
    }
    if (req.method === 'PUT' && path === '/taken') return s3Error(res, 409, 'BucketAlreadyOwnedByYou');
    if (req.method === 'PUT' && path === '/foreign') return s3Error(res, 409, 'BucketAlreadyExists');
    if (req.method === 'PUT' && path === '/fresh') {
      res.writeHead(200);
      return res.end();
    }
    // A key named refuse-<Code> gets that error for ListBuckets, as a store that checked the key would answer.
    const refused = /Credential=refuse-(\w+)\//.exec(String(req.headers.authorization ?? ''));
    if (path === '/' && refused) return s3Error(res, 403, refused[1]!);
    if (path === '/' && req.method === 'GET') {
      const bucketXml = (name: string) =>
        `<Bucket><Name>${name}</Name><CreationDate>2024-01-0${name.length}T00:00:00.000Z</CreationDate></Bucket>`;
      if (!q.get('continuation-token')) {
        return xml(
          res,
          200,
          `<ListAllMyBucketsResult ${NS}><Buckets>${bucketXml('a')}${bucketXml('bb')}</Buckets><ContinuationToken>page-2</ContinuationToken></ListAllMyBucketsResult>`,
        );
      }
      return xml(
        res,
        200,
        `<ListAllMyBucketsResult ${NS}><Buckets>${bucketXml('ccc')}</Buckets></ListAllMyBucketsResult>`,
      );
    }
    if (path === '/paged' && q.has('uploads')) {
      const upload = (key: string, id: string) =>
        `<Upload><Key>${key}</Key><UploadId>${id}</UploadId><Initiated>2024-01-01T00:00:00.000Z</Initiated></Upload>`;
      if (!q.get('key-marker')) {
        return xml(
          res,
          200,
          `<ListMultipartUploadsResult ${NS}><Bucket>paged</Bucket><IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>${upload('k', 'u1')}${upload('k', 'u2')}</ListMultipartUploadsResult>`,
        );
      }
      return xml(
        res,
        200,
        `<ListMultipartUploadsResult ${NS}><Bucket>paged</Bucket><IsTruncated>false</IsTruncated>${upload('k', 'u3')}</ListMultipartUploadsResult>`,
      );
    }
    if (path === '/loop' && q.get('list-type') === '2') {
      return xml(
        res,
        200,
        `<ListBucketResult ${NS}><Name>loop</Name><KeyCount>1</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken><Contents><Key>loop/x</Key><Size>1</Size></Contents></ListBucketResult>`,
      );
    }
    if (path === '/loop' && q.has('delete')) {
      return xml(res, 200, `<DeleteResult ${NS}><Deleted><Key>loop/x</Key></Deleted></DeleteResult>`);
    }
    // /refused/<Code> answers 400 <Code>; /status/<n> answers n without a body.
    if (path.startsWith('/refused/')) return s3Error(res, 400, path.split('/')[2]!);
    if (path.startsWith('/status/')) {
      res.writeHead(Number(path.split('/')[2]));
      return res.end();
    }
    if (path.startsWith('/busy/')) return s3Error(res, 503, 'SlowDown');
    if (path.startsWith('/denied/')) return s3Error(res, 403, 'SignatureDoesNotMatch');
    if (path.startsWith('/silent/')) return; // never answers
    return s3Error(res, 500, 'InternalError');
  }

  function storeFor(overrides: Partial<ResolvedStoreSettings> = {}) {
    const client = createS3Client(
      {
        endpoint,
        publicEndpoint: undefined,
        region: 'us-east-1',
        accessKeyId: 'scripted',
        secretAccessKey: 'scripted-secret',
        forcePathStyle: true,
        checksum: 'when_required',
        maxSockets: 4,
        connectTimeoutMs: 1_000,
        requestTimeoutMs: 5_000,
        maxAttempts: 2,
        ...overrides,
      },
      {},
    );
    return {
      client,
      store: new Store(client, client, { partSize: PART, queueSize: 1, maxUploadBytes: MiB, listPageSize: 2 }),
    };
  }

  beforeAll(async () => {
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('createBucket maps a taken name to BUCKET_ALREADY_EXISTS when HeadBucket did not see it', async () => {
    const { client, store } = storeFor();
    expect((await appErrorOf(store.createBucket('taken'))).code).toBe('BUCKET_ALREADY_EXISTS');
    expect((await appErrorOf(store.createBucket('foreign'))).code).toBe('BUCKET_ALREADY_EXISTS');
    client.destroy();
  });

  it('createBucket outside us-east-1 sends the region as LocationConstraint', async () => {
    const { client, store } = storeFor({ region: 'eu-west-1' });
    seen.length = 0;
    await store.createBucket('fresh');
    const put = seen.find((r) => r.method === 'PUT');
    expect(put?.body).toContain('<LocationConstraint>eu-west-1</LocationConstraint>');
    client.destroy();
  });

  it('listBuckets follows ContinuationToken to the end', async () => {
    const { client, store } = storeFor();
    seen.length = 0;
    const buckets = await store.listBuckets();
    expect(buckets.map((b) => b.name)).toEqual(['a', 'bb', 'ccc']);
    expect(buckets[2]!.createdAt).toEqual(new Date('2024-01-03T00:00:00.000Z'));
    expect(seen.map((r) => r.query.get('continuation-token'))).toEqual([null, 'page-2']);
    client.destroy();
  });

  it('listMultipartUploads follows KeyMarker and UploadIdMarker to the end', async () => {
    const { client, store } = storeFor();
    seen.length = 0;
    const uploads = await store.listMultipartUploads('paged');
    expect(uploads.map((u) => u.uploadId)).toEqual(['u1', 'u2', 'u3']);
    expect(
      seen.map((r) => [r.query.get('max-uploads'), r.query.get('key-marker'), r.query.get('upload-id-marker')]),
    ).toEqual([
      ['2', null, null],
      ['2', 'k', 'u2'],
    ]);
    client.destroy();
  });

  it('a store that repeats its continuation token ends in INTERNAL_SERVER_ERROR, not an endless loop', async () => {
    const { client, store } = storeFor();
    seen.length = 0;
    const err = await appErrorOf(store.deletePrefix('loop', 'loop/'));
    expect(err.code).toBe('INTERNAL_SERVER_ERROR');
    expect(seen.filter((r) => r.query.get('list-type') === '2')).toHaveLength(2);
    const deletes = seen.filter((r) => r.query.has('delete'));
    expect(deletes).toHaveLength(2);
    expect(deletes[0]!.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    client.destroy();
  });

  it('503 SlowDown is retried, then BACKEND_UNAVAILABLE', async () => {
    const { client, store } = storeFor({ maxAttempts: 2 });
    seen.length = 0;
    const err = await appErrorOf(store.getObject('busy', 'k'));
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(seen).toHaveLength(2);
    expect(err.message).not.toContain('secret detail');
    client.destroy();
  });

  it('a rejected signature is INTERNAL_SERVER_ERROR with a generic message', async () => {
    const { client, store } = storeFor();
    const err = await appErrorOf(store.getObject('denied', 'k'));
    expect(err.code).toBe('INTERNAL_SERVER_ERROR');
    expect(err.message).not.toMatch(/secret|scripted|127\.0\.0\.1/);
    client.destroy();
  });

  it('ping counts AccessDenied as ready (a key that may not list buckets), and names any other refusal', async () => {
    const scoped = storeFor({ accessKeyId: 'refuse-AccessDenied' });
    await expect(scoped.store.ping()).resolves.toBeUndefined();
    scoped.client.destroy();
    for (const code of ['SignatureDoesNotMatch', 'InvalidAccessKeyId']) {
      const wrong = storeFor({ accessKeyId: `refuse-${code}` });
      const err = await appErrorOf(wrong.store.ping());
      expect(err.code).toBe('BACKEND_UNAVAILABLE');
      expect(err.message).toBe(
        `the object store answered the readiness check with ${code}: check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`,
      );
      wrong.client.destroy();
    }
  });

  it.each([
    ['InvalidRequest', 'BAD_USER_INPUT', undefined],
    ['InvalidArgument', 'BAD_USER_INPUT', undefined],
    ['XMinioInvalidObjectName', 'BAD_USER_INPUT', 'key'],
    ['KeyTooLongError', 'BAD_USER_INPUT', 'key'],
    ['MalformedXML', 'INTERNAL_SERVER_ERROR', undefined],
  ])('a 400 %s is %s, and reveals nothing the store said', async (code, expected, argument) => {
    const { client, store } = storeFor({ maxAttempts: 1 });
    const err = await appErrorOf(store.deleteObject('refused', code));
    expect(err.code).toBe(expected);
    expect(err.extensions.argument).toBe(argument);
    expect(err.message).not.toMatch(/secret|scripted|127\.0\.0\.1/);
    client.destroy();
  });

  it("414 and 431 without a body are BAD_USER_INPUT; a HEAD's bare 400 stays INTERNAL_SERVER_ERROR", async () => {
    const { client, store } = storeFor({ maxAttempts: 1 });
    expect((await appErrorOf(store.deleteObject('status', '414'))).code).toBe('BAD_USER_INPUT');
    expect((await appErrorOf(store.deleteObject('status', '431'))).code).toBe('BAD_USER_INPUT');
    expect((await appErrorOf(store.headObject('status', '400'))).code).toBe('INTERNAL_SERVER_ERROR');
    client.destroy();
  });

  it('a store that does not answer in requestTimeoutMs is BACKEND_UNAVAILABLE', async () => {
    const { client, store } = storeFor({ requestTimeoutMs: 300, maxAttempts: 1 });
    const started = Date.now();
    const err = await appErrorOf(store.getObject('silent', 'k'));
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3_000);
    client.destroy();
  });
});

describe('toAppError', () => {
  const meta = (status: number) => ({ $metadata: { httpStatusCode: status }, $fault: 'client' as const });
  const service = (name: string, status: number, message = 'store says no') =>
    new S3ServiceException({ name, message, ...meta(status) });

  it.each([
    [new NoSuchBucket({ message: 'internal detail 42', ...meta(404) }), 'NO_SUCH_BUCKET'],
    [new NoSuchKey({ message: 'internal detail 42', ...meta(404) }), 'NO_SUCH_KEY'],
    [new NotFound({ message: 'internal detail 42', ...meta(404) }), 'NO_SUCH_KEY'],
    [new NoSuchUpload({ message: 'internal detail 42', ...meta(404) }), 'NO_SUCH_UPLOAD'],
    [new BucketAlreadyExists({ message: 'internal detail 42', ...meta(409) }), 'BUCKET_ALREADY_EXISTS'],
    [new BucketAlreadyOwnedByYou({ message: 'internal detail 42', ...meta(409) }), 'BUCKET_ALREADY_EXISTS'],
    [service('BucketNotEmpty', 409), 'BUCKET_NOT_EMPTY'],
    [service('InvalidPart', 400), 'INVALID_PART'],
    [service('InvalidPartOrder', 400), 'INVALID_PART'],
    [service('EntityTooSmall', 400), 'INVALID_PART'],
    [service('EntityTooLarge', 400), 'PAYLOAD_TOO_LARGE'],
    [service('InvalidArgument', 400), 'BAD_USER_INPUT'],
    [service('InvalidRequest', 400), 'BAD_USER_INPUT'],
    [service('MetadataTooLarge', 400), 'BAD_USER_INPUT'],
    [service('XMinioInvalidObjectName', 400), 'BAD_USER_INPUT'],
    [service('Unknown', 431), 'BAD_USER_INPUT'],
    [service('Unknown', 414), 'BAD_USER_INPUT'],
    [service('Unknown', 400), 'INTERNAL_SERVER_ERROR'],
    [service('MalformedXML', 400), 'INTERNAL_SERVER_ERROR'],
    [service('AuthorizationHeaderMalformed', 400), 'INTERNAL_SERVER_ERROR'],
    [service('SlowDown', 503), 'BACKEND_UNAVAILABLE'],
    [service('Unknown', 502), 'BACKEND_UNAVAILABLE'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'BACKEND_UNAVAILABLE'],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'BACKEND_UNAVAILABLE'],
    [
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed'),
      'BACKEND_UNAVAILABLE',
    ],
    [service('InvalidAccessKeyId', 403), 'INTERNAL_SERVER_ERROR'],
    [service('SignatureDoesNotMatch', 403), 'INTERNAL_SERVER_ERROR'],
    [service('NoSuchLifecycleConfiguration', 404), 'INTERNAL_SERVER_ERROR'],
    [new TypeError('cannot read x of undefined'), 'INTERNAL_SERVER_ERROR'],
  ])('%s → %s', (err, code) => {
    const mapped = toAppError(err, { bucket: 'photos', key: 'a/b.jpg', uploadId: 'u-1' });
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped.code).toBe(code);
    expect(mapped.extensions.code).toBe(code);
    expect(mapped.cause).toBe(err);
    expect(mapped.message).not.toContain((err as Error).message);
  });

  it('names the bucket, key or upload id it was given, and a bare 404 without a key means the bucket', () => {
    expect(
      toAppError(new NoSuchBucket({ message: 'internal detail 42', ...meta(404) }), { bucket: 'photos' }).message,
    ).toContain('"photos"');
    expect(
      toAppError(new NoSuchKey({ message: 'internal detail 42', ...meta(404) }), { bucket: 'b', key: 'a/b.jpg' })
        .message,
    ).toContain('"a/b.jpg"');
    expect(
      toAppError(new NoSuchUpload({ message: 'internal detail 42', ...meta(404) }), { uploadId: 'u-1' }).message,
    ).toContain('"u-1"');
    expect(toAppError(new NotFound({ message: 'internal detail 42', ...meta(404) }), { bucket: 'photos' }).code).toBe(
      'NO_SUCH_BUCKET',
    );
  });

  it('credential failures and unknown errors reveal nothing of the store', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const mapped = toAppError(
      service('SignatureDoesNotMatch', 403, `expected signature using ${secret} at http://10.0.0.5:9000`),
    );
    expect(mapped.message).not.toMatch(/wJalr|10\.0\.0\.5|signature/i);
    const unknown = toAppError(service('WeirdError', 500, `boom at http://10.0.0.5:9000 ${secret}`));
    expect(unknown.message).toBe('the object store returned an unexpected error');
  });

  it('passes an AppError through unchanged', () => {
    const original = new AppError('FORBIDDEN', 'no');
    expect(toAppError(original)).toBe(original);
  });

  it('range and precondition failures carry the HTTP status the route needs', () => {
    expect(toAppError(service('InvalidRange', 416)).extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      httpStatus: 416,
    });
    expect(toAppError(service('PreconditionFailed', 412)).extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      httpStatus: 412,
    });
  });
});

describe('helpers', () => {
  it('copySource encodes each key segment and keeps the slashes', () => {
    expect(copySource('b', 'a b/c+d/%/ü')).toBe('b/a%20b/c%2Bd/%25/%C3%BC');
  });

  it('stripEtag removes one pair of quotes only', () => {
    expect(stripEtag('"abc"')).toBe('abc');
    expect(stripEtag('abc-2')).toBe('abc-2');
    expect(stripEtag('""x""')).toBe('"x"');
    expect(stripEtag(undefined)).toBe('');
  });
});
