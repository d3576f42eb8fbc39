/**
 * S3 conformance: the copy source's conditions (x-amz-copy-source-if-match,
 * -if-none-match, -if-modified-since, -if-unmodified-since) on CopyObject and
 * UploadPartCopy, asserted as AWS documents them against every store in
 * `testStores()`: a condition that fails is 412 PreconditionFailed and
 * nothing is copied. The API relies on CopySourceIfMatch to copy only the
 * source its upload rules were checked against.
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  type CopyObjectCommandInput,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type UploadPartCopyCommandInput,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/data.js';
import { per } from '../support/deviations.js';
import { createTestBucket, type Outcome, outcomeOf, removeBucket, s3Client, testStores } from '../support/stores.js';

const DAY = 24 * 60 * 60 * 1000;
const SOURCE = 'source/conditions.txt';
const BODY = 'the copy source of the condition tests';
const ETAG = `"${digestOf(BODY).md5}"`;
const OTHER_ETAG = '"00000000000000000000000000000000"';
const OK = { ok: true, status: 200 } as const;
const FAILED = { ok: false, status: 412, code: 'PreconditionFailed' } as const;

type Conditions = Pick<
  CopyObjectCommandInput,
  'CopySourceIfMatch' | 'CopySourceIfNoneMatch' | 'CopySourceIfModifiedSince' | 'CopySourceIfUnmodifiedSince'
>;

describe.each(testStores())('copy source conditions on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  let lastModified: Date;
  let n = 0;
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'copy-cond');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: SOURCE, Body: BODY }));
    lastModified = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: SOURCE }))).LastModified!;
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** What a store that ignores the condition does (moto, for all but if-none-match on CopyObject): it copies. */
  const unlessIgnored = (aws: Outcome): Outcome =>
    per(store, 'copyObject.copySourceConditions', { aws, deviation: OK });

  /** CopyObject to a fresh key under these conditions: its outcome, and whether the copy exists afterwards. */
  async function copyWith(conditions: Conditions): Promise<{ outcome: Outcome; copied: boolean }> {
    const Key = `copy/${++n}`;
    const outcome = await outcomeOf(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource: `${bucket}/${SOURCE}`, ...conditions })),
    );
    const head = await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key })));
    return { outcome, copied: head.ok };
  }

  describe('CopyObject', () => {
    it('x-amz-copy-source-if-match: the current ETag copies; another is 412 and copies nothing', async () => {
      expect(await copyWith({ CopySourceIfMatch: ETAG })).toEqual({ outcome: OK, copied: true });
      const other = await copyWith({ CopySourceIfMatch: OTHER_ETAG });
      expect(other.outcome).toEqual(unlessIgnored(FAILED));
      expect(other.copied).toBe(other.outcome.ok);
    });

    it('x-amz-copy-source-if-none-match: the current ETag is 412 and copies nothing; another copies', async () => {
      expect(await copyWith({ CopySourceIfNoneMatch: ETAG })).toEqual({ outcome: FAILED, copied: false });
      expect(await copyWith({ CopySourceIfNoneMatch: OTHER_ETAG })).toEqual({ outcome: OK, copied: true });
    });

    it('x-amz-copy-source-if-modified-since: its Last-Modified is 412; an earlier time copies', async () => {
      const since = await copyWith({ CopySourceIfModifiedSince: lastModified });
      expect(since.outcome).toEqual(unlessIgnored(FAILED));
      expect(since.copied).toBe(since.outcome.ok);
      const earlier = new Date(lastModified.getTime() - DAY);
      expect(await copyWith({ CopySourceIfModifiedSince: earlier })).toEqual({ outcome: OK, copied: true });
    });

    it('x-amz-copy-source-if-unmodified-since: an earlier time is 412; its Last-Modified copies', async () => {
      const earlier = await copyWith({ CopySourceIfUnmodifiedSince: new Date(lastModified.getTime() - DAY) });
      expect(earlier.outcome).toEqual(unlessIgnored(FAILED));
      expect(earlier.copied).toBe(earlier.outcome.ok);
      expect(await copyWith({ CopySourceIfUnmodifiedSince: lastModified })).toEqual({ outcome: OK, copied: true });
    });

    it('if-match true wins over if-unmodified-since false (AWS documents a 200)', async () => {
      const both = { CopySourceIfMatch: ETAG, CopySourceIfUnmodifiedSince: new Date(lastModified.getTime() - DAY) };
      expect(await copyWith(both)).toEqual({ outcome: OK, copied: true });
    });
  });

  describe('UploadPartCopy', () => {
    let uploadId: string;
    beforeAll(async () => {
      uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts' }))).UploadId!;
    });
    afterAll(async () => {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'parts', UploadId: uploadId }));
    });

    const partCopy = (conditions: Pick<UploadPartCopyCommandInput, keyof Conditions>) =>
      outcomeOf(
        s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: 'parts',
            UploadId: uploadId,
            PartNumber: 1,
            CopySource: `${bucket}/${SOURCE}`,
            ...conditions,
          }),
        ),
      );

    it('x-amz-copy-source-if-match: the current ETag copies the part; another is 412', async () => {
      expect(await partCopy({ CopySourceIfMatch: ETAG })).toEqual(OK);
      expect(await partCopy({ CopySourceIfMatch: OTHER_ETAG })).toEqual(unlessIgnored(FAILED));
    });

    it('x-amz-copy-source-if-none-match, -if-modified-since and -if-unmodified-since that fail are 412', async () => {
      expect(await partCopy({ CopySourceIfNoneMatch: ETAG })).toEqual(unlessIgnored(FAILED));
      expect(await partCopy({ CopySourceIfModifiedSince: lastModified })).toEqual(unlessIgnored(FAILED));
      const earlier = new Date(lastModified.getTime() - DAY);
      expect(await partCopy({ CopySourceIfUnmodifiedSince: earlier })).toEqual(unlessIgnored(FAILED));
    });
  });
});
