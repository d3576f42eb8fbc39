/**
 * Bucket queries and mutations over HTTP, against every test store, with
 * the results checked in the store through a direct S3 client.
 */
import { HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';
import {
  BucketDocument,
  BucketsDocument,
  CreateBucketDocument,
  DeleteBucketDocument,
} from './__generated__/graphql.js';
import { codes, startServer, type TestServer } from '../support/app.js';

describe.each(testStores())('bucket API on $name', (store) => {
  const s3 = s3Client(store);
  const made: string[] = [];
  let app: TestServer;

  const newName = (prefix: string) => {
    const name = uniqueBucket(`gql-${prefix}`);
    made.push(name);
    return name;
  };

  beforeAll(async () => {
    app = await startServer(store);
  });
  afterAll(async () => {
    await app.close();
    for (const bucket of made) await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('createBucket creates it in the store and returns it with createdAt', async () => {
    const name = newName('create');
    const before = Date.now();
    const res = await app.gql(CreateBucketDocument, { name });
    expect(res.errors).toBeUndefined();
    expect(res.data?.createBucket).toMatchObject({ id: name, name });
    const createdAt = Date.parse(res.data!.createBucket.createdAt!);
    expect(res.data!.createBucket.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // S3 dates have second precision.
    expect(createdAt).toBeGreaterThanOrEqual(before - 2_000);
    expect(createdAt).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: name })))).toEqual({ ok: true, status: 200 });
  });

  it('createBucket of a taken name is BUCKET_ALREADY_EXISTS', async () => {
    const name = newName('taken');
    expect((await app.gql(CreateBucketDocument, { name })).errors).toBeUndefined();
    const again = await app.gql(CreateBucketDocument, { name });
    expect(codes(again)).toEqual(['BUCKET_ALREADY_EXISTS']);
    expect(again.errors![0]!.path).toEqual(['createBucket']);
    expect(again.data).toBeNull();
  });

  it('buckets lists every bucket by name with createdAt; bucket(name) finds one or gives null', async () => {
    const names = [newName('list-b'), newName('list-a')];
    for (const name of names) expect((await app.gql(CreateBucketDocument, { name })).errors).toBeUndefined();

    app.resetCalls();
    const list = await app.gql(BucketsDocument);
    expect(list.errors).toBeUndefined();
    expect(app.calls).toEqual(['ListBuckets']);
    const all = list.data!.buckets;
    const listed = all.map((b) => b.name);
    expect(listed).toEqual([...listed].sort());
    for (const name of names) {
      const bucket = all.find((b) => b.name === name);
      expect(bucket).toMatchObject({ id: name, name });
      expect(Number.isNaN(Date.parse(bucket!.createdAt!))).toBe(false);
    }

    const one = await app.gql(BucketDocument, { name: names[0]! });
    expect(one.data?.bucket).toMatchObject({ id: names[0], name: names[0] });
    expect(one.data?.bucket?.createdAt).toBe(all.find((b) => b.name === names[0])!.createdAt);

    const missing = await app.gql(BucketDocument, { name: uniqueBucket('gql-never-made') });
    expect(missing.errors).toBeUndefined();
    expect(missing.data).toEqual({ bucket: null });
  });

  it('deleteBucket: BUCKET_NOT_EMPTY without force, deleted with force, NO_SUCH_BUCKET when missing', async () => {
    const name = newName('delete');
    expect((await app.gql(CreateBucketDocument, { name })).errors).toBeUndefined();
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'dir/file.txt', Body: 'x' }));

    const refused = await app.gql(DeleteBucketDocument, { name });
    expect(codes(refused)).toEqual(['BUCKET_NOT_EMPTY']);
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: name })))).toEqual({ ok: true, status: 200 });

    const forced = await app.gql(DeleteBucketDocument, { name, force: true });
    expect(forced.errors).toBeUndefined();
    expect(forced.data).toEqual({ deleteBucket: true });
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: name })))).toMatchObject({ ok: false, status: 404 });

    expect(codes(await app.gql(DeleteBucketDocument, { name }))).toEqual(['NO_SUCH_BUCKET']);
  });

  it('deleteBucket of an empty bucket needs no force', async () => {
    const name = newName('empty');
    expect((await app.gql(CreateBucketDocument, { name })).errors).toBeUndefined();
    expect((await app.gql(DeleteBucketDocument, { name })).data).toEqual({ deleteBucket: true });
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: name })))).toMatchObject({ ok: false, status: 404 });
  });

  it.each([
    ['too short', 'ab'],
    ['upper case', 'My-Bucket'],
    ['underscore', 'my_bucket'],
    ['IP address', '192.168.1.10'],
    ['adjacent dots', 'a..b'],
    ['xn-- prefix', 'xn--bucket'],
    ['-s3alias suffix', 'bucket-s3alias'],
    ['starts with a hyphen', '-bucket'],
  ])(
    'an invalid bucket name (%s) is BAD_USER_INPUT naming the argument, and nothing reaches the store',
    async (_why, name) => {
      app.resetCalls();
      for (const res of [
        await app.gql(CreateBucketDocument, { name }),
        await app.gql(BucketDocument, { name }),
        await app.gql(DeleteBucketDocument, { name, force: true }),
      ]) {
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.errors![0]!.message).toMatch(/^name: /);
        expect(res.errors![0]!.extensions?.argument).toBe('name');
      }
      expect(app.calls).toEqual([]);
    },
  );
});
