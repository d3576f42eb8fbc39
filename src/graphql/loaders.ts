import DataLoader from 'dataloader';
import { forEachLimited } from '../core/concurrency.js';
import type { ObjectHead, ObjectPage, Store } from '../s3/store.js';

/**
 * What one GraphQL request has learnt from the store, shared by its
 * resolvers and never by two requests: DataLoaders (one HEAD per object, one
 * HeadBucket per bucket, one ListBuckets) and the listing pages fetched ahead.
 */

/** A bucket as the API shows it. `createdAt` is filled in lazily when missing. */
export interface BucketInfo {
  name: string;
  createdAt?: Date | undefined;
}

export interface Loaders {
  /**
   * HEAD of one object, keyed by `headKey(bucket, key)`: null when the key
   * does not exist. The same key asked twice in a request is one HEAD.
   */
  head: DataLoader<string, ObjectHead | null>;
  /** One bucket by name (HeadBucket), null when it does not exist. */
  bucket: DataLoader<string, BucketInfo | null>;
  /** Every bucket with its creation date (one ListBuckets per request, when asked). */
  allBuckets(): Promise<BucketInfo[]>;
  /** A bucket was created or deleted: forget what this request learnt about buckets. */
  bucketsChanged(): void;
  /** An object was written: later fields of this request see `head` (null: deleted). */
  objectChanged(bucket: string, key: string, head: ObjectHead | null): void;
  /** Objects were deleted in bulk: forget every HEAD this request made. */
  objectsChanged(): void;
  /**
   * Listing pages fetched ahead by `bucket(name)`, by listing, each waiting
   * for the `objects` field that shows it (which takes it out).
   */
  prefetchedPages: Map<string, Promise<ObjectPage>>;
}

/** HEADs in flight at once for one request's batch (the socket pool is shared by all requests). */
const HEAD_CONCURRENCY = 16;

export const headKey = (bucket: string, key: string) => `${bucket}\u0000${key}`;

const splitHeadKey = (id: string): [string, string] => {
  const nul = id.indexOf('\u0000');
  return [id.slice(0, nul), id.slice(nul + 1)];
};

/** Runs `fn` over `items` with at most `limit` calls in flight; failures become Error values. */
async function mapSettled<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<(R | Error)[]> {
  const results: (R | Error)[] = new Array(items.length);
  await forEachLimited(items, limit, async (item, i) => {
    try {
      results[i] = await fn(item);
    } catch (err) {
      results[i] = err instanceof Error ? err : new Error(String(err));
    }
  });
  return results;
}

export function createLoaders(store: Store): Loaders {
  let bucketList: Promise<BucketInfo[]> | undefined;
  const head = new DataLoader<string, ObjectHead | null>((ids) =>
    mapSettled(ids, HEAD_CONCURRENCY, (id) => store.headObject(...splitHeadKey(id))),
  );
  const bucket = new DataLoader<string, BucketInfo | null>((names) =>
    mapSettled(names, HEAD_CONCURRENCY, (name) => store.bucketExists(name)),
  );
  return {
    head,
    bucket,
    allBuckets() {
      bucketList ??= store.listBuckets();
      return bucketList;
    },
    bucketsChanged() {
      bucketList = undefined;
      bucket.clearAll();
      head.clearAll();
    },
    objectChanged(bucketName, key, value) {
      head.clear(headKey(bucketName, key)).prime(headKey(bucketName, key), value);
    },
    objectsChanged() {
      head.clearAll();
    },
    prefetchedPages: new Map(),
  };
}
