/**
 * S3 conformance: single objects (put, get, ranges, conditional requests,
 * head, delete, copy), asserted as AWS documents them, against every store in
 * `testStores()` and, for calls that carry a body, both SDK checksum modes.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, expectedDigest, MiB, randomBytes, randomStream, sha256Of } from '../support/data.js';
import { per } from '../support/deviations.js';
import {
  CHECKSUM_MODES,
  createTestBucket,
  outcomeOf,
  removeBucket,
  s3Client,
  testStores,
  uniqueBucket,
} from '../support/stores.js';

/** A key with a space, '+', non-ASCII letters, an emoji (4 UTF-8 bytes) and '/'. */
const AWKWARD_KEY = 'dir one/a+b é/ü 😀.txt';

/** CopySource for a key: `bucket/key`, each key segment URL-encoded, '/' kept. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A 304 has no body, so there is no S3 error code to assert (the SDK reports
 * it as an error with name 'Unknown' for AWS itself); the status is the answer.
 */
const NOT_MODIFIED = { ok: false, status: 304 } as const;

async function getBytes(s3: S3Client, Bucket: string, Key: string, Range?: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key, Range }));
  const body = Buffer.from(await out.Body!.transformToByteArray());
  return { out, body };
}

describe.each(testStores())('objects on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'objects');
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  describe.each(CHECKSUM_MODES)('PutObject/GetObject with checksum %s', (checksum) => {
    let client: S3Client;
    beforeAll(() => {
      client = s3Client(store, { checksum });
    });
    afterAll(() => client.destroy());

    const cases = [
      { label: '0 B (empty stream)', size: 0 },
      { label: '1000 B (stream)', size: 1000 },
      { label: '8 MiB (stream)', size: 8 * MiB },
    ];
    it.each(cases)('$label', async ({ size }) => {
      const key = `put-get/${checksum}/${size}`;
      const seed = `${store.name}/${key}`;
      const want = await expectedDigest(size, seed);
      const put = await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomStream(size, seed), ContentLength: size }),
      );
      expect(put.ETag).toBe(`"${want.md5}"`);

      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(got.ContentLength).toBe(size);
      expect(got.ETag).toBe(`"${want.md5}"`);
      expect(await sha256Of(got.Body as Readable)).toEqual(want);
    });

    // The SDK sends `Expect: 100-continue` only for bodies of 2 MiB or more (its
    // expectContinueHeader default), so a store that refuses a smaller upload
    // before reading it must still deliver its error answer, not reset the connection.
    it.each([
      { label: '10 B (stream)', size: 10 },
      { label: '1.5 MiB (stream, no Expect: 100-continue)', size: 1.5 * MiB },
    ])('PutObject of $label into a missing bucket is 404 NoSuchBucket', async ({ size }) => {
      const missing = uniqueBucket('put-missing');
      const out = await outcomeOf(
        client.send(
          new PutObjectCommand({ Bucket: missing, Key: 'k', Body: randomStream(size, missing), ContentLength: size }),
        ),
      );
      expect(out).toEqual({ ok: false, status: 404, code: 'NoSuchBucket' });
    });

    it('a Buffer body', async () => {
      const key = `put-get/${checksum}/buffer`;
      const data = await randomBytes(4096, key);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
      const { body } = await getBytes(client, bucket, key);
      expect(digestOf(body)).toEqual(digestOf(data));
    });
  });

  describe('Range', () => {
    const key = 'range/hundred';
    let data: Buffer;
    beforeAll(async () => {
      data = await randomBytes(100, key);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    });

    it('bytes=0-9 gives 206 and the first 10 bytes', async () => {
      const { out, body } = await getBytes(s3, bucket, key, 'bytes=0-9');
      expect(out.$metadata.httpStatusCode).toBe(206);
      expect(out.ContentRange).toBe('bytes 0-9/100');
      expect(out.ContentLength).toBe(10);
      expect(body.equals(data.subarray(0, 10))).toBe(true);
    });

    it('open bytes=10- gives the rest', async () => {
      const { out, body } = await getBytes(s3, bucket, key, 'bytes=10-');
      expect(out.$metadata.httpStatusCode).toBe(206);
      expect(out.ContentRange).toBe('bytes 10-99/100');
      expect(out.ContentLength).toBe(90);
      expect(body.equals(data.subarray(10))).toBe(true);
    });

    it('suffix bytes=-3 gives the last 3 bytes', async () => {
      const { out, body } = await getBytes(s3, bucket, key, 'bytes=-3');
      expect(out.$metadata.httpStatusCode).toBe(206);
      expect(out.ContentRange).toBe('bytes 97-99/100');
      expect(body.equals(data.subarray(97))).toBe(true);
    });

    it('an end past the object is clamped to its last byte', async () => {
      const { out, body } = await getBytes(s3, bucket, key, 'bytes=95-1000');
      expect(out.$metadata.httpStatusCode).toBe(206);
      expect(out.ContentRange).toBe('bytes 95-99/100');
      expect(body.equals(data.subarray(95))).toBe(true);
    });

    it('a range starting past the end is 416 InvalidRange', async () => {
      expect(await outcomeOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=100-' })))).toEqual(
        {
          ok: false,
          status: 416,
          code: 'InvalidRange',
        },
      );
    });
  });

  describe('conditional GET and response overrides', () => {
    const key = 'conditional/obj.txt';
    let etag: string;
    let lastModified: Date;
    beforeAll(async () => {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'conditional body', ContentType: 'text/plain' }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      etag = head.ETag!;
      lastModified = head.LastModified!;
    });

    it('If-None-Match with the current ETag is 304; with another ETag 200', async () => {
      expect(
        await outcomeOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: etag }))),
      ).toMatchObject(NOT_MODIFIED);
      const { out, body } = await getBytes(s3, bucket, key);
      expect(out.ETag).toBe(etag);
      expect(body.toString()).toBe('conditional body');
      const other = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '"0123456789abcdef0123456789abcdef"' }),
      );
      expect(other.$metadata.httpStatusCode).toBe(200);
      await other.Body!.transformToByteArray();
    });

    it('If-Modified-Since its Last-Modified is 304; since an earlier time 200', async () => {
      expect(
        await outcomeOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: lastModified }))),
      ).toMatchObject(NOT_MODIFIED);
      const earlier = new Date(lastModified.getTime() - 24 * 3600 * 1000);
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: earlier }));
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(await out.Body!.transformToString()).toBe('conditional body');
    });

    it('ResponseContentType and ResponseContentDisposition override the stored headers', async () => {
      const out = await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ResponseContentType: 'application/x-custom',
          ResponseContentDisposition: 'attachment; filename="x.txt"',
        }),
      );
      expect(out.ContentType).toBe(
        per(store, 'getObject.responseOverrides', { aws: 'application/x-custom', deviation: 'text/plain' }),
      );
      expect(out.ContentDisposition).toBe(
        per(store, 'getObject.responseOverrides', { aws: 'attachment; filename="x.txt"', deviation: undefined }),
      );
      expect(await out.Body!.transformToString()).toBe('conditional body');
      const plain = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(plain.ContentType).toBe('text/plain');
    });
  });

  describe('HeadObject', () => {
    it('gives ContentLength, the quoted MD5 ETag, ContentType, LastModified and lower-cased Metadata keys', async () => {
      const key = 'head/meta.json';
      const body = '{"hello":"world"}';
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json; charset=utf-8',
          Metadata: { Color: 'Blue', 'X-Mixed-Case': 'Some Value' },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(body.length);
      expect(head.ETag).toBe(`"${digestOf(body).md5}"`);
      expect(head.ContentType).toBe('application/json; charset=utf-8');
      expect(head.LastModified).toBeInstanceOf(Date);
      expect(head.Metadata).toEqual({ color: 'Blue', 'x-mixed-case': 'Some Value' });
    });

    it('of a missing key is 404 NotFound; GetObject of it 404 NoSuchKey', async () => {
      expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head/missing' })))).toEqual({
        ok: false,
        status: 404,
        code: 'NotFound',
      });
      expect(await outcomeOf(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'head/missing' })))).toEqual({
        ok: false,
        status: 404,
        code: 'NoSuchKey',
      });
    });
  });

  describe('DeleteObject and DeleteObjects', () => {
    it('DeleteObject removes a key, and of a missing key succeeds with 204', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'delete/one', Body: '1' }));
      expect(await outcomeOf(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'delete/one' })))).toEqual({
        ok: true,
        status: 204,
      });
      expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'delete/one' })))).toMatchObject({
        ok: false,
        status: 404,
      });
      expect(await outcomeOf(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'delete/never-there' })))).toEqual({
        ok: true,
        status: 204,
      });
    });

    describe.each(CHECKSUM_MODES)('DeleteObjects with checksum %s', (checksum) => {
      let client: S3Client;
      beforeAll(() => {
        client = s3Client(store, { checksum });
      });
      afterAll(() => client.destroy());

      async function seed(prefix: string): Promise<string[]> {
        const keys = [`${prefix}/a`, `${prefix}/b c`, `${prefix}/ü+`];
        for (const Key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
        return keys;
      }

      async function keysUnder(prefix: string): Promise<string[]> {
        const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
        expect(out.IsTruncated).toBe(false);
        return (out.Contents ?? []).map((o) => o.Key!);
      }

      it('not quiet: every key, missing ones included, is reported Deleted', async () => {
        const prefix = `delete-many/${checksum}/verbose`;
        const keys = await seed(prefix);
        const all = [...keys, `${prefix}/missing`];
        const out = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all.map((Key) => ({ Key })), Quiet: false } }),
        );
        expect((out.Deleted ?? []).map((d) => d.Key).sort()).toEqual([...all].sort());
        expect(out.Errors ?? []).toEqual([]);
        expect(await keysUnder(prefix)).toEqual([]);
      });

      it('quiet: nothing reported, everything deleted', async () => {
        const prefix = `delete-many/${checksum}/quiet`;
        const keys = await seed(prefix);
        const out = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
        );
        const reported = (out.Deleted ?? []).map((d) => d.Key).sort();
        expect(reported).toEqual(per(store, 'deleteObjects.quiet', { aws: [], deviation: [...keys].sort() }));
        expect(out.Errors ?? []).toEqual([]);
        expect(await keysUnder(prefix)).toEqual([]);
      });
    });
  });

  describe('CopyObject', () => {
    const sourceBody = 'copy me, byte for byte';
    beforeAll(async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: AWKWARD_KEY,
          Body: sourceBody,
          ContentType: 'text/plain',
          Metadata: { origin: 'source' },
        }),
      );
    });

    it('COPY (the default) keeps content, ContentType and Metadata, from a key with spaces, +, unicode and /', async () => {
      const out = await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'copy/copied',
          CopySource: copySource(bucket, AWKWARD_KEY),
          MetadataDirective: 'COPY',
        }),
      );
      expect(out.CopyObjectResult?.ETag).toBe(`"${digestOf(sourceBody).md5}"`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/copied' }));
      expect(head.ContentType).toBe('text/plain');
      expect(head.Metadata).toEqual({ origin: 'source' });
      expect((await getBytes(s3, bucket, 'copy/copied')).body.toString()).toBe(sourceBody);
    });

    it('REPLACE takes ContentType and Metadata from the request', async () => {
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'copy/replaced',
          CopySource: copySource(bucket, AWKWARD_KEY),
          MetadataDirective: 'REPLACE',
          ContentType: 'application/octet-stream',
          Metadata: { origin: 'replaced', extra: 'yes' },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/replaced' }));
      expect(head.ContentType).toBe('application/octet-stream');
      expect(head.Metadata).toEqual({ origin: 'replaced', extra: 'yes' });
      expect((await getBytes(s3, bucket, 'copy/replaced')).body.toString()).toBe(sourceBody);
    });

    it('onto an awkward destination key', async () => {
      const dest = `${AWKWARD_KEY}.copy`;
      await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: dest, CopySource: copySource(bucket, AWKWARD_KEY) }));
      expect((await getBytes(s3, bucket, dest)).body.toString()).toBe(sourceBody);
    });

    it('onto itself without REPLACE is 400 InvalidRequest; with REPLACE it changes the metadata', async () => {
      expect(
        await outcomeOf(
          s3.send(
            new CopyObjectCommand({ Bucket: bucket, Key: AWKWARD_KEY, CopySource: copySource(bucket, AWKWARD_KEY) }),
          ),
        ),
      ).toEqual({ ok: false, status: 400, code: 'InvalidRequest' });
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: AWKWARD_KEY,
          CopySource: copySource(bucket, AWKWARD_KEY),
          MetadataDirective: 'REPLACE',
          ContentType: 'text/markdown',
          Metadata: { origin: 'self' },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: AWKWARD_KEY }));
      expect(head.ContentType).toBe('text/markdown');
      expect(head.Metadata).toEqual({ origin: 'self' });
      expect((await getBytes(s3, bucket, AWKWARD_KEY)).body.toString()).toBe(sourceBody);
    });

    it('of a missing source key is 404 NoSuchKey', async () => {
      expect(
        await outcomeOf(
          s3.send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'copy/x', CopySource: copySource(bucket, 'copy/none') }),
          ),
        ),
      ).toEqual({ ok: false, status: 404, code: 'NoSuchKey' });
    });
  });
});
