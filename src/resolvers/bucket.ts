import type { BucketInfo, Context } from '../context.js';
import type { ObjectHead, ObjectSummary } from '../s3/store.js';
import * as v from '../validation.js';
import { headObject } from './object.js';

/** One page of a listing, as `ObjectConnection` shows it. */
export interface ObjectPage {
  edges: { cursor: string; node: ObjectSummary }[];
  prefixes: string[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

export interface ListObjectsArgs {
  prefix?: string | null | undefined;
  delimiter?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}

/** Query.buckets: the buckets the caller holds a grant on, by name. */
export async function listBuckets(_args: unknown, ctx: Context): Promise<BucketInfo[]> {
  const all = await ctx.loaders.allBuckets();
  return all.filter((b) => ctx.caller.canSee(b.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Query.bucket: one bucket, or null when none has that name. */
export async function getBucket(args: { name: string }, ctx: Context): Promise<BucketInfo | null> {
  const name = v.bucketName(args.name, 'name');
  return ctx.loaders.bucket.load(name);
}

/** Bucket.createdAt: from the bucket itself, else from this request's one ListBuckets. */
export async function bucketCreatedAt(bucket: BucketInfo, ctx: Context): Promise<Date | null> {
  if (bucket.createdAt) return bucket.createdAt;
  const listed = (await ctx.loaders.allBuckets()).find((b) => b.name === bucket.name);
  return listed?.createdAt ?? null;
}

/**
 * Bucket.objects: exactly one ListObjectsV2 per page. An edge's cursor is its
 * key (so `after` an edge starts right behind it); `endCursor` is the store's
 * continuation token while there are more pages, else the last key.
 */
export async function listObjects(bucket: BucketInfo, args: ListObjectsArgs, ctx: Context): Promise<ObjectPage> {
  const prefix = v.listPrefix(args.prefix, 'prefix');
  const delimiter = v.delimiter(args.delimiter, 'delimiter');
  const maxKeys = v.pageSize(args.first, 'first');
  const start = v.pageStart(args.after, 'after');

  const page = await ctx.store.listObjects(bucket.name, { prefix, delimiter, maxKeys, ...start });
  const edges = page.objects.map((node) => ({ cursor: v.keyCursor(node.key), node }));
  const last = edges.at(-1);
  return {
    edges,
    prefixes: page.prefixes,
    pageInfo: {
      hasNextPage: page.nextToken !== undefined,
      hasPreviousPage: start !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: page.nextToken !== undefined ? v.tokenCursor(page.nextToken) : (last?.cursor ?? null),
    },
  };
}

/** Bucket.object: one object of a bucket that exists, or null. */
export async function bucketObject(bucket: BucketInfo, args: { key: string }, ctx: Context): Promise<ObjectHead | null> {
  const key = v.objectKey(args.key, 'key');
  return headObject(bucket.name, key, ctx);
}

/** Mutation.createBucket. */
export async function createBucket(args: { name: string }, ctx: Context): Promise<BucketInfo> {
  const name = v.bucketName(args.name, 'name');
  await ctx.store.createBucket(name);
  ctx.loaders.bucketsChanged();
  return { name };
}

/** Mutation.deleteBucket: with force, empties it first. */
export async function deleteBucket(args: { name: string; force?: boolean | null | undefined }, ctx: Context): Promise<boolean> {
  const name = v.bucketName(args.name, 'name');
  await ctx.store.deleteBucket(name, { force: args.force ?? false });
  ctx.loaders.bucketsChanged();
  return true;
}
