import {
  CreateBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  paginateListBuckets,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { AppError } from '../core/errors.js';
import { call, storeStatusOf, toAppError } from './errors.js';
import { advance, type StoreContext } from './shared.js';
import type { BucketInfo } from './types.js';

/** Bucket calls: the readiness check, listing, existence and creation (deleting is in deletion.ts). */

export function ping(s3: StoreContext, signal?: AbortSignal): Promise<void> {
  return call(
    (e) => {
      const mapped = toAppError(e);
      if (mapped.code === 'BACKEND_UNAVAILABLE') return mapped;
      const name = (e as { name?: unknown }).name;
      const why = typeof name === 'string' ? name : 'an error';
      const unavailable = new AppError(
        'BACKEND_UNAVAILABLE',
        `the object store answered the readiness check with ${why}: check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`,
      );
      unavailable.cause = e;
      return unavailable;
    },
    async () => {
      try {
        await s3.client.send(new ListBucketsCommand({ MaxBuckets: 1 }), { abortSignal: signal });
      } catch (e) {
        if ((e as { name?: unknown }).name !== 'AccessDenied') throw e;
      }
    },
  );
}

export function listBuckets(s3: StoreContext): Promise<BucketInfo[]> {
  return call({}, async () => {
    const buckets: BucketInfo[] = [];
    let token: string | undefined;
    // No pageSize (MaxBuckets): some stores (moto) cut the list at MaxBuckets without a ContinuationToken.
    for await (const page of paginateListBuckets({ client: s3.client }, {})) {
      for (const b of page.Buckets ?? []) {
        if (b.Name !== undefined) buckets.push({ name: b.Name, createdAt: b.CreationDate });
      }
      if (!page.ContinuationToken) break;
      token = advance(token, page.ContinuationToken, 'bucket listing');
    }
    return buckets;
  });
}

export function bucketExists(s3: StoreContext, name: string): Promise<BucketInfo | null> {
  return call({ bucket: name }, async () => {
    try {
      await s3.client.send(new HeadBucketCommand({ Bucket: name }));
      return { name };
    } catch (e) {
      if (storeStatusOf(e) === 404) return null;
      throw e;
    }
  });
}

export function createBucket(s3: StoreContext, name: string): Promise<void> {
  return call({ bucket: name }, async () => {
    let exists = false;
    try {
      await s3.client.send(new HeadBucketCommand({ Bucket: name }));
      exists = true;
    } catch (e) {
      // 404: the name is free. 403: another account's bucket (or bad credentials): CreateBucket tells which.
      const status = storeStatusOf(e);
      if (status !== 404 && status !== 403) throw e;
    }
    if (exists) throw new AppError('BUCKET_ALREADY_EXISTS', `bucket "${name}" already exists`);
    const region = await s3.client.config.region();
    await s3.client.send(
      new CreateBucketCommand({
        Bucket: name,
        CreateBucketConfiguration:
          region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
      }),
    );
  });
}
