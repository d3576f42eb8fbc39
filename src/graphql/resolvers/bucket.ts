/**
 * Resolvers: what each field does, `(args, ctx) → result`, calling the store
 * layer (src/s3) through the request context and the argument rules of
 * src/core/validation.ts; no Pothos and no SDK here. One file per domain.
 */
import {
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../context.js';
import type { BucketInfo } from '../loaders.js';
import { AppError } from '../../core/errors.js';
import type { ObjectHead, ObjectPage as StorePage, ObjectSummary } from '../../s3/store.js';
import type { CursorScope, ListingCursors, PageStart } from '../../core/cursors.js';
import * as v from '../../core/validation.js';
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

interface ListingRequest {
  scope: CursorScope;
  maxKeys: number;
  start: PageStart | undefined;
}

function listingRequest(bucket: string, args: ListObjectsArgs, cursors: ListingCursors): ListingRequest {
  const scope = {
    bucket,
    prefix: v.listPrefix(args.prefix, 'prefix'),
    delimiter: v.delimiter(args.delimiter, 'delimiter'),
  };
  return {
    scope,
    maxKeys: v.pageSize(args.first, 'first'),
    start: cursors.pageStart(args.after, scope, 'after'),
  };
}

const pageId = (r: ListingRequest) =>
  JSON.stringify([r.scope.bucket, r.scope.prefix, r.scope.delimiter, r.maxKeys, r.start]);

const listPage = (ctx: Context, r: ListingRequest) =>
  ctx.store.listObjects(r.scope.bucket, {
    prefix: r.scope.prefix,
    delimiter: r.scope.delimiter,
    maxKeys: r.maxKeys,
    ...r.start,
  });

/** Fetches a page ahead of its `objects` field. */
function prefetchPage(ctx: Context, r: ListingRequest): Promise<StorePage> {
  const page = listPage(ctx, r);
  page.catch(() => undefined);
  ctx.loaders.prefetchedPages.set(pageId(r), page);
  return page;
}

/** The page fetched ahead for this listing (used once), else one ListObjectsV2 now. */
function takePage(ctx: Context, r: ListingRequest): Promise<StorePage> {
  const prefetched = ctx.loaders.prefetchedPages;
  const id = pageId(r);
  const page = prefetched.get(id);
  if (page) {
    prefetched.delete(id);
    return page;
  }
  return listPage(ctx, r);
}

/** The arguments of the first `objects` field selected on the bucket `info`'s field returns. */
function selectedListing(info: GraphQLResolveInfo): ListObjectsArgs | undefined {
  const type = getNamedType(info.returnType);
  const field = isObjectType(type) ? type.getFields().objects : undefined;
  if (!field) return undefined;
  const visited = new Set<string>();
  const find = (set: SelectionSetNode | undefined): ListObjectsArgs | undefined => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === 'objects') return getArgumentValues(field, selection, info.variableValues);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const found = find(selection.selectionSet);
        if (found) return found;
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const found = find(info.fragments[selection.name.value]?.selectionSet);
        if (found) return found;
      }
    }
    return undefined;
  };
  for (const node of info.fieldNodes) {
    const found = find(node.selectionSet);
    if (found) return found;
  }
  return undefined;
}

/**
 * Query.bucket: one bucket, or null when none has that name. When the query
 * lists the bucket's objects, that listing's first page is fetched here and
 * answers whether the bucket exists (one ListObjectsV2 instead of a HeadBucket
 * followed by it); otherwise one HeadBucket does.
 */
export async function getBucket(
  args: { name: string },
  ctx: Context,
  info?: GraphQLResolveInfo,
): Promise<BucketInfo | null> {
  const name = v.bucketName(args.name, 'name');
  const listing = info ? selectedListing(info) : undefined;
  if (listing) {
    let request: ListingRequest | undefined;
    try {
      request = listingRequest(name, listing, ctx.cursors);
    } catch {
      // An invalid listing argument is reported by `objects` itself; the bucket is checked below.
    }
    if (request) {
      try {
        await prefetchPage(ctx, request);
        return { name };
      } catch (err) {
        if (err instanceof AppError && err.code === 'NO_SUCH_BUCKET') return null;
      }
    }
  }
  return ctx.loaders.bucket.load(name);
}

/** Bucket.createdAt: from the bucket itself, else from this request's one ListBuckets. */
export async function bucketCreatedAt(bucket: BucketInfo, ctx: Context): Promise<Date | null> {
  if (bucket.createdAt) return bucket.createdAt;
  const listed = (await ctx.loaders.allBuckets()).find((b) => b.name === bucket.name);
  return listed?.createdAt ?? null;
}

/**
 * Bucket.objects: exactly one ListObjectsV2 per page (fetched ahead by
 * `bucket(name)` when it asks for it). An edge's cursor stands for its key
 * (so `after` an edge starts right behind it); `endCursor` for the store's
 * continuation token while there are more pages, else for the last key.
 * Cursors are signed for this bucket, prefix and delimiter (see
 * `ListingCursors`): `after` takes no other. Each is signed only when a
 * query asks for it (an HMAC per edge was most of a listing's own cost).
 */
export async function listObjects(bucket: BucketInfo, args: ListObjectsArgs, ctx: Context): Promise<ObjectPage> {
  const request = listingRequest(bucket.name, args, ctx.cursors);
  const { scope, start } = request;
  const { cursors } = ctx;
  const page = await takePage(ctx, request);
  const keyCursor = (key: string | undefined) => (key === undefined ? null : cursors.ofKey(scope, key));
  const edges = page.objects.map((node) => ({
    node,
    get cursor() {
      return cursors.ofKey(scope, node.key);
    },
  }));
  const { nextToken } = page;
  return {
    edges,
    prefixes: page.prefixes,
    pageInfo: {
      hasNextPage: nextToken !== undefined,
      hasPreviousPage: start !== undefined,
      get startCursor() {
        return keyCursor(page.objects[0]?.key);
      },
      get endCursor() {
        return nextToken !== undefined ? cursors.ofToken(scope, nextToken) : keyCursor(page.objects.at(-1)?.key);
      },
    },
  };
}

/** Bucket.object: one object of a bucket that exists, or null. */
export async function bucketObject(
  bucket: BucketInfo,
  args: { key: string },
  ctx: Context,
): Promise<ObjectHead | null> {
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
export async function deleteBucket(
  args: { name: string; force?: boolean | null | undefined },
  ctx: Context,
): Promise<boolean> {
  const name = v.bucketName(args.name, 'name');
  await ctx.store.deleteBucket(name, { force: args.force ?? false });
  ctx.loaders.bucketsChanged();
  return true;
}
