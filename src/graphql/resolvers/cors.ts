import type { Context } from '../context.js';
import type { BucketInfo } from '../loaders.js';
import type { CorsRule } from '../../s3/store.js';
import * as v from '../../core/validation.js';

/** Bucket.cors: the bucket's rules at the store (one GetBucketCors); none is an empty list. */
export function bucketCors(bucket: BucketInfo, ctx: Context): Promise<CorsRule[]> {
  return ctx.store.getBucketCors(bucket.name);
}

/** Mutation.setBucketCors: every rule checked before the one PutBucketCors, which replaces the bucket's rules. */
export async function setBucketCors(
  args: { bucket: string; rules: Parameters<typeof v.corsRules>[0] },
  ctx: Context,
): Promise<BucketInfo> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const rules = v.corsRules(args.rules, 'rules');
  await ctx.store.putBucketCors(bucket, rules);
  return { name: bucket };
}

/** Mutation.deleteBucketCors: one DeleteBucketCors; a bucket without rules succeeds. */
export async function deleteBucketCors(args: { bucket: string }, ctx: Context): Promise<BucketInfo> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  await ctx.store.deleteBucketCors(bucket);
  return { name: bucket };
}
