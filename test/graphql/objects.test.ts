/**
 * Object queries and mutations over HTTP, against every test store: results
 * checked through a direct S3 client, store calls counted (one ListObjectsV2
 * per page, HEADs only when asked for and once per key), and invalid
 * arguments refused before anything reaches the store.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { digestOf, randomBytes, sha256Of } from '../support/data.js';
import { createTestBucket, outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';
import {
  CopyObjectDocument,
  DeleteObjectDocument,
  DeleteObjectsDocument,
  DeletePrefixDocument,
  ListObjectsDocument,
  ListObjectsWithContentTypesDocument,
  ObjectDocument,
  ObjectUrlDocument,
  PresignDocument,
  SameObjectTwiceDocument,
  type ListObjectsQuery,
} from './__generated__/graphql.js';
import { codes, startServer, type GqlResponse, type TestServer } from '../support/app.js';

const UNICODE_KEY = 'ü/ñame with spaces & signs+=.txt';

async function put(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array,
  extra: Partial<{ ContentType: string; Metadata: Record<string, string> }> = {},
) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
}

async function keysIn(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return keys;
}

const md5Hex = (data: string | Uint8Array) => createHash('md5').update(data).digest('hex');

const objectId = (bucket: string, key: string) => Buffer.from(`${bucket}\u0000${key}`).toString('base64url');

describe.each(testStores())('object API on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;
  let scratch: string;
  let zBytes: Buffer;
  const seeded = ['a.txt', 'docs/1.txt', 'docs/2.txt', 'docs/sub/3.txt', 'z.bin', UNICODE_KEY].sort();

  beforeAll(async () => {
    app = await startServer(store);
    bucket = await createTestBucket(s3, 'gql-objects');
    scratch = await createTestBucket(s3, 'gql-scratch');
    zBytes = await randomBytes(2048, 'z.bin');
    await put(s3, bucket, 'a.txt', 'hello a', { ContentType: 'text/plain', Metadata: { Color: 'blue', owner: 'ana' } });
    await put(s3, bucket, 'docs/1.txt', 'one');
    await put(s3, bucket, 'docs/2.txt', 'two');
    await put(s3, bucket, 'docs/sub/3.txt', 'three');
    await put(s3, bucket, 'z.bin', zBytes, { ContentType: 'application/octet-stream' });
    await put(s3, bucket, UNICODE_KEY, 'unicode');
  });

  afterAll(async () => {
    await app.close();
    await removeBucket(s3, bucket);
    await removeBucket(s3, scratch);
    s3.destroy();
  });

  describe('Bucket.objects', () => {
    it('lists one level with a delimiter in one ListObjectsV2, folding prefixes, without any HEAD', async () => {
      app.resetCalls();
      const res = await app.gql(ListObjectsDocument, { bucket, delimiter: '/' });
      expect(res.errors).toBeUndefined();
      // bucket(name) fetches the page it is asked for, which also tells that the bucket exists: no HeadBucket.
      expect(app.calls).toEqual(['ListObjectsV2']);
      const page = res.data!.bucket!.objects;
      expect(page.edges.map((e) => e.node.key)).toEqual(['a.txt', 'z.bin']);
      expect(page.prefixes).toEqual(['docs/', 'ü/']);
      expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });

      const z = page.edges[1]!.node;
      expect(z).toMatchObject({
        id: objectId(bucket, 'z.bin'),
        key: 'z.bin',
        size: 2048,
        etag: md5Hex(zBytes),
        bucket: { name: bucket },
      });
      expect(z.lastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(z.lastModified) - Date.now())).toBeLessThan(10 * 60_000);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges[1]!.cursor);
    });

    it('answers null for a missing bucket whose objects are asked for, from the one ListObjectsV2', async () => {
      app.resetCalls();
      const res = await app.gql(ListObjectsDocument, { bucket: uniqueBucket('gql-nobucket') });
      expect(res.errors).toBeUndefined();
      expect(res.data!.bucket).toBeNull();
      expect(app.calls).toEqual(['ListObjectsV2']);
    });

    it('pages with first/after to the end: every key once, in order, one ListObjectsV2 per page', async () => {
      const keys: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        app.resetCalls();
        const res: GqlResponse<ListObjectsQuery> = await app.gql(ListObjectsDocument, { bucket, first: 2, after });
        expect(res.errors).toBeUndefined();
        expect(app.calls).toEqual(['ListObjectsV2']);
        const page = res.data!.bucket!.objects;
        expect(page.edges.length).toBeLessThanOrEqual(2);
        expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
        keys.push(...page.edges.map((e) => e.node.key));
        pages += 1;
        if (!page.pageInfo.hasNextPage) break;
        expect(page.pageInfo.endCursor).toBeTruthy();
        after = page.pageInfo.endCursor;
      }
      expect(keys).toEqual(seeded);
      expect(pages).toBe(3);
    });

    it('starts right after an edge when given its cursor, and lists under a prefix', async () => {
      const all = await app.gql(ListObjectsDocument, { bucket });
      const edge = all.data!.bucket!.objects.edges.find((e) => e.node.key === 'docs/1.txt')!;
      const rest = await app.gql(ListObjectsDocument, { bucket, after: edge.cursor, first: 2 });
      expect(rest.data!.bucket!.objects.edges.map((e) => e.node.key)).toEqual(['docs/2.txt', 'docs/sub/3.txt']);

      const docs = await app.gql(ListObjectsDocument, { bucket, prefix: 'docs/', delimiter: '/' });
      expect(docs.data!.bucket!.objects.edges.map((e) => e.node.key)).toEqual(['docs/1.txt', 'docs/2.txt']);
      expect(docs.data!.bucket!.objects.prefixes).toEqual(['docs/sub/']);

      const none = await app.gql(ListObjectsDocument, { bucket, prefix: 'nothing-here/' });
      expect(none.data!.bucket!.objects).toEqual({
        edges: [],
        prefixes: [],
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      });
    });

    it.each([
      ['after', { after: 'not a cursor!' }],
      ['after', { after: Buffer.from('x:whatever').toString('base64url') }],
      ['first', { first: 0 }],
      ['first', { first: 1001 }],
    ])('refuses a bad %s with BAD_USER_INPUT before calling the store', async (argument, args) => {
      app.resetCalls();
      const res = await app.gql(ListObjectsDocument, { bucket, ...args });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument).toBe(argument);
      expect(res.errors![0]!.message.startsWith(`${argument}: `)).toBe(true);
      expect(res.errors![0]!.path).toEqual(['bucket', 'objects']);
      // The listing is refused before any store call; bucket(name) checks the bucket with one HeadBucket.
      expect(app.calls).toEqual(['HeadBucket']);
    });
  });

  describe('object and its fields', () => {
    it('object(bucket, key) is one HEAD with content type, lower-case metadata, ETag and size', async () => {
      app.resetCalls();
      const res = await app.gql(ObjectDocument, { bucket, key: 'a.txt' });
      expect(res.errors).toBeUndefined();
      expect(app.calls).toEqual(['HeadObject']);
      expect(res.data!.object).toEqual({
        id: objectId(bucket, 'a.txt'),
        key: 'a.txt',
        size: 7,
        etag: md5Hex('hello a'),
        lastModified: expect.stringMatching(/Z$/),
        storageClass: res.data!.object!.storageClass,
        bucket: { name: bucket },
        contentType: 'text/plain',
        downloadPath: `/objects/${bucket}/a.txt`,
        metadata: [
          { key: 'color', value: 'blue' },
          { key: 'owner', value: 'ana' },
        ],
      });
    });

    it('object ids are unique across buckets, and keys with "/" and non-ASCII work', async () => {
      const res = await app.gql(ObjectDocument, { bucket, key: UNICODE_KEY });
      expect(res.data!.object).toMatchObject({ key: UNICODE_KEY, size: 7, id: objectId(bucket, UNICODE_KEY) });
      expect(res.data!.object!.downloadPath).toBe(
        `/objects/${bucket}/${encodeURIComponent('ü')}/${encodeURIComponent('ñame with spaces & signs+=.txt')}`,
      );
      expect(objectId(bucket, 'a/b')).not.toBe(objectId(`${bucket}a`, 'b'));
    });

    it('object is null for a missing key and NO_SUCH_BUCKET for a missing bucket', async () => {
      const missingKey = await app.gql(ObjectDocument, { bucket, key: 'no/such/key' });
      expect(missingKey.errors).toBeUndefined();
      expect(missingKey.data).toEqual({ object: null });

      const missingBucket = await app.gql(ObjectDocument, { bucket: uniqueBucket('gql-missing'), key: 'a.txt' });
      expect(codes(missingBucket)).toEqual(['NO_SUCH_BUCKET']);
      expect(missingBucket.errors![0]!.path).toEqual(['object']);
    });

    it('the same key asked for twice in one request is one HEAD', async () => {
      app.resetCalls();
      const res = await app.gql(SameObjectTwiceDocument, { bucket, key: 'a.txt' });
      expect(res.errors).toBeUndefined();
      expect(res.data!.first).toEqual({ contentType: 'text/plain' });
      expect(res.data!.second!.metadata).toEqual([
        { key: 'color', value: 'blue' },
        { key: 'owner', value: 'ana' },
      ]);
      expect(res.data!.bucket!.object).toEqual({ size: 7, contentType: 'text/plain' });
      expect(app.count('HeadObject')).toBe(1);
      expect(app.count('HeadBucket')).toBe(1);
    });

    it('contentType of listed objects costs one HEAD per object, shared with object(key) for the same key', async () => {
      app.resetCalls();
      const res = await app.gql(ListObjectsWithContentTypesDocument, { bucket });
      expect(res.errors).toBeUndefined();
      const byKey = Object.fromEntries(res.data!.bucket!.objects.edges.map((e) => [e.node.key, e.node.contentType]));
      expect(byKey['a.txt']).toBe('text/plain');
      expect(byKey['z.bin']).toBe('application/octet-stream');
      expect(res.data!.bucket!.object).toEqual({ key: 'a.txt', contentType: 'text/plain' });
      expect(app.count('ListObjectsV2')).toBe(1);
      expect(app.count('HeadObject')).toBe(seeded.length);
    });

    it('Object.url is a presigned GET that downloads the exact bytes', async () => {
      const res = await app.gql(ObjectUrlDocument, { bucket, key: 'z.bin', expiresIn: 120 });
      expect(res.errors).toBeUndefined();
      const url = new URL(res.data!.object!.url);
      expect(url.origin).toBe(new URL(store.endpoint).origin);
      const download = await fetch(url);
      expect(download.status).toBe(200);
      expect(digestOf(new Uint8Array(await download.arrayBuffer()))).toEqual(digestOf(zBytes));
    });

    it.each([0, 604_801])('Object.url(expiresIn: %i) is BAD_USER_INPUT and presigns nothing', async (expiresIn) => {
      const res = await app.gql(ObjectUrlDocument, { bucket, key: 'z.bin', expiresIn });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.path).toEqual(['object', 'url']);
      expect(res.errors![0]!.extensions?.argument).toBe('expiresIn');
    });

    it('a key over 1024 bytes or empty is BAD_USER_INPUT, and nothing reaches the store', async () => {
      app.resetCalls();
      for (const key of ['', 'é'.repeat(513)]) {
        const res = await app.gql(ObjectDocument, { bucket, key });
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.errors![0]!.extensions?.argument).toBe('key');
      }
      expect(app.calls).toEqual([]);
    });
  });

  describe('deletes', () => {
    it('deleteObject removes the key; a missing key succeeds; a missing bucket is NO_SUCH_BUCKET', async () => {
      await put(s3, scratch, 'delete/me.txt', 'bye');
      const res = await app.gql(DeleteObjectDocument, { bucket: scratch, key: 'delete/me.txt' });
      expect(res.data).toEqual({ deleteObject: true });
      expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: scratch, Key: 'delete/me.txt' })))).toMatchObject({
        ok: false,
        status: 404,
      });

      expect((await app.gql(DeleteObjectDocument, { bucket: scratch, key: 'never/was.txt' })).data).toEqual({
        deleteObject: true,
      });
      expect(codes(await app.gql(DeleteObjectDocument, { bucket: uniqueBucket('gql-missing'), key: 'x' }))).toEqual([
        'NO_SUCH_BUCKET',
      ]);
    });

    it('deleteObjects deletes the keys in one DeleteObjects and reports each', async () => {
      const keys = ['many/1', 'many/2', 'many/3'];
      for (const key of keys) await put(s3, scratch, key, key);
      await put(s3, scratch, 'many-keep', 'keep');
      app.resetCalls();
      const res = await app.gql(DeleteObjectsDocument, { bucket: scratch, keys: [...keys, 'many/absent'] });
      expect(res.errors).toBeUndefined();
      expect(app.calls).toEqual(['DeleteObjects']);
      expect([...res.data!.deleteObjects.deleted].sort()).toEqual([...keys, 'many/absent'].sort());
      expect(res.data!.deleteObjects.errors).toEqual([]);
      const left = await keysIn(s3, scratch);
      expect(left).toContain('many-keep');
      for (const key of keys) expect(left).not.toContain(key);
    });

    it.each([
      ['keys', [] as string[]],
      ['keys', Array.from({ length: 1001 }, (_, i) => `k${i}`)],
      ['keys[1]', ['ok', '']],
    ])('deleteObjects refuses %s with BAD_USER_INPUT, sending nothing', async (argument, keys) => {
      app.resetCalls();
      const res = await app.gql(DeleteObjectsDocument, { bucket: scratch, keys });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument).toBe(argument);
      expect(app.calls).toEqual([]);
    });

    it('deletePrefix deletes every key under the prefix and nothing else', async () => {
      const keys = ['folder/a', 'folder/b/c', 'folder/d'];
      for (const key of keys) await put(s3, scratch, key, key);
      await put(s3, scratch, 'folder-sibling', 'keep');
      const res = await app.gql(DeletePrefixDocument, { bucket: scratch, prefix: 'folder/' });
      expect(res.errors).toBeUndefined();
      expect([...res.data!.deletePrefix.deleted].sort()).toEqual(keys);
      expect(res.data!.deletePrefix.errors).toEqual([]);
      const left = await keysIn(s3, scratch);
      expect(left).toContain('folder-sibling');
      expect(left.filter((k) => k.startsWith('folder/'))).toEqual([]);
    });

    it('deletePrefix with an empty prefix is BAD_USER_INPUT and deletes nothing', async () => {
      await put(s3, scratch, 'survivor', 'still here');
      app.resetCalls();
      const res = await app.gql(DeletePrefixDocument, { bucket: scratch, prefix: '' });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument).toBe('prefix');
      expect(app.calls).toEqual([]);
      expect(await keysIn(s3, scratch)).toContain('survivor');
    });
  });

  describe('copyObject', () => {
    it('copies bytes, content type and metadata to another bucket', async () => {
      const res = await app.gql(CopyObjectDocument, {
        sourceBucket: bucket,
        sourceKey: 'a.txt',
        bucket: scratch,
        key: 'copies/a.txt',
      });
      expect(res.errors).toBeUndefined();
      expect(res.data!.copyObject).toMatchObject({
        key: 'copies/a.txt',
        size: 7,
        etag: md5Hex('hello a'),
        bucket: { name: scratch },
        contentType: 'text/plain',
        metadata: [
          { key: 'color', value: 'blue' },
          { key: 'owner', value: 'ana' },
        ],
      });
      const stored = await s3.send(new GetObjectCommand({ Bucket: scratch, Key: 'copies/a.txt' }));
      expect(stored.ContentType).toBe('text/plain');
      expect(stored.Metadata).toEqual({ color: 'blue', owner: 'ana' });
      expect(await sha256Of(stored.Body as AsyncIterable<Uint8Array>)).toEqual(digestOf('hello a'));
    });

    it('gives NO_SUCH_KEY for a missing source key and NO_SUCH_BUCKET for a missing bucket', async () => {
      const missingKey = await app.gql(CopyObjectDocument, {
        sourceBucket: bucket,
        sourceKey: 'nope',
        bucket: scratch,
        key: 'x',
      });
      expect(codes(missingKey)).toEqual(['NO_SUCH_KEY']);
      const missingSource = await app.gql(CopyObjectDocument, {
        sourceBucket: uniqueBucket('gql-missing'),
        sourceKey: 'a',
        bucket: scratch,
        key: 'x',
      });
      expect(codes(missingSource)).toEqual(['NO_SUCH_BUCKET']);
      const missingTarget = await app.gql(CopyObjectDocument, {
        sourceBucket: bucket,
        sourceKey: 'a.txt',
        bucket: uniqueBucket('gql-missing'),
        key: 'x',
      });
      expect(codes(missingTarget)).toEqual(['NO_SUCH_BUCKET']);
    });

    it('validates both sides before calling the store', async () => {
      app.resetCalls();
      const res = await app.gql(CopyObjectDocument, {
        sourceBucket: 'Bad_Bucket',
        sourceKey: 'a',
        bucket: scratch,
        key: 'x',
      });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument).toBe('sourceBucket');
      const res2 = await app.gql(CopyObjectDocument, {
        sourceBucket: bucket,
        sourceKey: 'a',
        bucket: scratch,
        key: '',
      });
      expect(res2.errors![0]!.extensions?.argument).toBe('key');
      expect(app.calls).toEqual([]);
    });
  });

  describe('presign', () => {
    it('GET: a URL that downloads the object, with expiresAt and no headers', async () => {
      const before = Date.now();
      const res = await app.gql(PresignDocument, { bucket, key: 'z.bin', expiresIn: 300 });
      expect(res.errors).toBeUndefined();
      const signed = res.data!.presign;
      expect(signed.method).toBe('GET');
      expect(signed.headers).toEqual([]);
      const expiresAt = Date.parse(signed.expiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 300_000 - 1_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000 + 1_000);
      const download = await fetch(signed.url);
      expect(digestOf(new Uint8Array(await download.arrayBuffer()))).toEqual(digestOf(zBytes));
    });

    it('PUT: a URL that uploads straight to the store with the headers it lists', async () => {
      const res = await app.gql(PresignDocument, {
        bucket: scratch,
        key: 'direct/put.json',
        method: 'PUT',
        contentType: 'application/json',
      });
      expect(res.errors).toBeUndefined();
      const signed = res.data!.presign;
      expect(signed.method).toBe('PUT');
      expect(signed.headers).toEqual([{ key: 'content-type', value: 'application/json' }]);
      const body = JSON.stringify({ hello: 'world' });
      const upload = await fetch(signed.url, {
        method: 'PUT',
        headers: Object.fromEntries(signed.headers.map((h) => [h.key, h.value])),
        body,
      });
      expect(upload.status).toBe(200);
      const stored = await s3.send(new GetObjectCommand({ Bucket: scratch, Key: 'direct/put.json' }));
      expect(stored.ContentType).toBe('application/json');
      expect(await sha256Of(stored.Body as AsyncIterable<Uint8Array>)).toEqual(digestOf(body));
    });

    it.each([
      ['expiresIn', { expiresIn: 0 }],
      ['expiresIn', { expiresIn: 604_801 }],
      ['contentType', { contentType: 'text/plain' }],
      ['contentType', { method: 'PUT' as const, contentType: 'not a type\r\nx-evil: 1' }],
    ])('refuses a bad %s with BAD_USER_INPUT and signs nothing', async (argument, args) => {
      const res = await app.gql(PresignDocument, { bucket, key: 'z.bin', ...args });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument).toBe(argument);
    });
  });
});
