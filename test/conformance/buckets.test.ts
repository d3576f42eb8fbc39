/**
 * S3 conformance: bucket operations our API relies on, asserted as AWS
 * documents them, against every store in `testStores()`.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketCorsCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  type Bucket,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKSUM_MODES, outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';

/** Every bucket in the store, following ContinuationToken to the end. */
async function allBuckets(s3: ReturnType<typeof s3Client>): Promise<Bucket[]> {
  const buckets: Bucket[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListBucketsCommand({ ContinuationToken }));
    buckets.push(...(page.Buckets ?? []));
    ContinuationToken = page.ContinuationToken;
  } while (ContinuationToken);
  return buckets;
}

describe.each(testStores())('buckets on $name', (store) => {
  const s3 = s3Client(store);
  const created: string[] = [];
  afterAll(async () => {
    for (const bucket of created) await removeBucket(s3, bucket);
    s3.destroy();
  });

  async function newBucket(prefix: string): Promise<string> {
    const bucket = uniqueBucket(prefix);
    created.push(bucket);
    const out = await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    return bucket;
  }

  it('CreateBucket, then ListBuckets shows it with its CreationDate', async () => {
    const before = Date.now();
    const bucket = await newBucket('list');
    const listed = (await allBuckets(s3)).find((b) => b.Name === bucket);
    expect(listed).toBeDefined();
    expect(listed!.CreationDate).toBeInstanceOf(Date);
    // CreationDate has second precision in S3's XML; allow for it and for clock rounding.
    const created = listed!.CreationDate!.getTime();
    expect(created).toBeGreaterThanOrEqual(before - 2_000);
    expect(created).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it('HeadBucket of an existing bucket is 200, of a missing one 404 NotFound', async () => {
    const bucket = await newBucket('head');
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: bucket })))).toEqual({ ok: true, status: 200 });
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: uniqueBucket('missing') })))).toEqual({
      ok: false,
      status: 404,
      code: 'NotFound',
    });
  });

  it('DeleteBucket of a non-empty bucket is 409 BucketNotEmpty; once emptied it goes', async () => {
    const bucket = await newBucket('nonempty');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    expect(await outcomeOf(s3.send(new DeleteBucketCommand({ Bucket: bucket })))).toEqual({
      ok: false,
      status: 409,
      code: 'BucketNotEmpty',
    });
    await removeBucket(s3, bucket);
    expect(await outcomeOf(s3.send(new HeadBucketCommand({ Bucket: bucket })))).toMatchObject({
      ok: false,
      status: 404,
    });
  });

  it('DeleteBucket of a missing bucket is 404 NoSuchBucket', async () => {
    expect(await outcomeOf(s3.send(new DeleteBucketCommand({ Bucket: uniqueBucket('gone') })))).toEqual({
      ok: false,
      status: 404,
      code: 'NoSuchBucket',
    });
  });

  it('GetBucketLocation in us-east-1 gives an empty LocationConstraint', async () => {
    // AWS: "Buckets in Region us-east-1 have a LocationConstraint of null."
    const bucket = await newBucket('location');
    const out = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    expect(out.LocationConstraint ?? '').toBe('');
  });

  it.each(CHECKSUM_MODES)('PutBucketCors then GetBucketCors gives the rules back (checksum %s)', async (checksum) => {
    const bucket = await newBucket('cors');
    const client = s3Client(store, { checksum });
    try {
      const rules = [
        {
          AllowedOrigins: ['https://app.example.com'],
          AllowedMethods: ['GET', 'PUT'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag'],
          MaxAgeSeconds: 3000,
        },
      ];
      await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: rules } }));
      const out = await client.send(new GetBucketCorsCommand({ Bucket: bucket }));
      expect(out.CORSRules).toEqual([expect.objectContaining(rules[0])]);
    } finally {
      client.destroy();
    }
  });
});
