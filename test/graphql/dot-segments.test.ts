/**
 * Keys with a `.` or `..` path segment over HTTP, against every test store:
 * refused with BAD_USER_INPUT naming the argument wherever a key comes in
 * (upload, presign, object, copy source and target, delete, deleteObjects,
 * multipart), before any store call; prefixes are not paths, so such a key
 * already in the store is still listed and removed by deletePrefix.
 */
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import {
  CopyObjectDocument,
  DeleteObjectDocument,
  DeleteObjectsDocument,
  DeletePrefixDocument,
  ListObjectsDocument,
  ObjectDocument,
  PresignDocument,
  UploadObjectDocument,
  type ListObjectsQuery,
} from './__generated__/graphql.js';
import { codes, startServer, type GqlResponse, type TestServer } from '../support/app.js';

const DOT_KEYS = ['a/../b', './x', 'a/./b', '..', '.', 'a/..', 'a/.'];

const BUCKET_OBJECT = `query BucketObject($bucket: String!, $key: String!) { bucket(name: $bucket) { object(key: $key) { key } } }`;
const CREATE = `mutation Create($bucket: String!, $key: String!) { multipart { create(bucket: $bucket, key: $key) { uploadId } } }`;

describe.each(testStores())('keys with dot segments on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;

  beforeAll(async () => {
    app = await startServer(store, { LOG_LEVEL: 'silent' });
    bucket = await createTestBucket(s3, 'gql-dots');
    // What the store already holds (written around the API): the original, and one with a dot-segment key.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b', Body: 'original b' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old/../b', Body: 'old' }));
  });

  afterAll(async () => {
    await app.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  async function keysInStore(): Promise<string[]> {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((o) => o.Key!);
  }

  /** Expects one BAD_USER_INPUT for `argument`, and no store call. */
  function expectRefused(res: GqlResponse<unknown>, argument: string, allowed: string[] = []) {
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.argument).toBe(argument);
    expect(res.errors![0]!.message).toMatch(
      new RegExp(`^${argument.replace(/[[\]]/g, '\\$&')}: must not have "\\." or "\\.\\." as a path segment`),
    );
    expect(app.calls).toEqual(allowed);
  }

  it.each(DOT_KEYS)('refuses %s as a key everywhere a key comes in, before any store call', async (key) => {
    const cases: [string, () => Promise<GqlResponse<unknown>>, string[]?][] = [
      [
        'key',
        () =>
          app.upload(
            UploadObjectDocument.toString(),
            { bucket, key },
            { file: new TextEncoder().encode('overwrite?') },
          ),
      ],
      ['key', () => app.gql(PresignDocument.toString(), { bucket, key, method: 'GET' })],
      ['key', () => app.gql(PresignDocument.toString(), { bucket, key, method: 'PUT' })],
      ['key', () => app.gql(ObjectDocument.toString(), { bucket, key })],
      // bucket(name) still finds its bucket; the object is never asked for.
      ['key', () => app.gql(BUCKET_OBJECT, { bucket, key }), ['HeadBucket']],
      [
        'sourceKey',
        () => app.gql(CopyObjectDocument.toString(), { sourceBucket: bucket, sourceKey: key, bucket, key: 'copy' }),
      ],
      ['key', () => app.gql(CopyObjectDocument.toString(), { sourceBucket: bucket, sourceKey: 'b', bucket, key })],
      ['key', () => app.gql(DeleteObjectDocument.toString(), { bucket, key })],
      ['keys[1]', () => app.gql(DeleteObjectsDocument.toString(), { bucket, keys: ['b', key] })],
      ['key', () => app.gql(CREATE, { bucket, key })],
    ];
    for (const [argument, send, allowed] of cases) {
      app.resetCalls();
      expectRefused(await send(), argument, allowed);
    }
    expect(await keysInStore()).toEqual(['b', 'old/../b']);
  });

  it('takes prefixes with dot segments: a dot-segment key already in the store is listed, and deletePrefix removes it', async () => {
    const listed: GqlResponse<ListObjectsQuery> = await app.gql(ListObjectsDocument.toString(), {
      bucket,
      prefix: 'old/..',
    });
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.bucket!.objects.edges.map((e) => e.node.key)).toEqual(['old/../b']);

    const removed = await app.gql(DeletePrefixDocument.toString(), { bucket, prefix: 'old/../' });
    expect(removed.errors).toBeUndefined();
    expect(await keysInStore()).toEqual(['b']);
  });
});
