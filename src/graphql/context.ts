import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import { keyringOf, type Caller } from '../security/auth.js';
import { forEachLimited } from '../core/concurrency.js';
import type { Config } from '../config/index.js';
import type { ObjectHead, Store } from '../s3/store.js';

/** What the GraphQL layer needs from the application wiring (a subset of `AppDeps`). */
export interface ContextDeps {
  config: Config;
  store: Store;
  logger: Logger;
}

/**
 * What `src/http/server.ts` may pass as Yoga's server context: the request id it
 * logs with, the caller when it has authenticated the request itself, and
 * how to charge the rest of the request's cost to the client's rate limit.
 */
export interface ServerContext {
  requestId?: string;
  caller?: Caller;
  /** Charges `count` more to this client's rate limit (src/graphql/plugins/use-store-call-limit.ts: store calls past the one charged on arrival); throws the RATE_LIMITED error when over. */
  chargeOperations?: (count: number) => void;
}

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
}

/** Everything a resolver gets. A new one per request, so loaders never share results between requests. */
export interface Context {
  config: Config;
  store: Store;
  /** Child of the app logger carrying `requestId`. */
  logger: Logger;
  requestId: string;
  caller: Caller;
  loaders: Loaders;
}

/** HEADs in flight at once for one request's batch (the socket pool is shared by all requests). */
export const HEAD_CONCURRENCY = 16;

export const headKey = (bucket: string, key: string) => `${bucket}\u0000${key}`;

const splitHeadKey = (id: string): [string, string] => {
  const nul = id.indexOf('\u0000');
  return [id.slice(0, nul), id.slice(nul + 1)];
};

/** Runs `fn` over `items` with at most `limit` calls in flight; failures become Error values. */
async function mapSettled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<(R | Error)[]> {
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

function createLoaders(store: Store): Loaders {
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
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A well-formed `x-request-id` header, else a new UUID. */
export function requestIdFrom(header: string | null | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** The request id: the server's, else the request's own. */
function requestIdOf(request: Request, server: ServerContext | undefined): string {
  return server?.requestId || requestIdFrom(request.headers.get('x-request-id'));
}

/**
 * Builds the context of one GraphQL request. The caller is the one the
 * server authenticated, or is found here from the Authorization header;
 * a missing or unknown token throws UNAUTHENTICATED before anything runs.
 */
export function createContext(deps: ContextDeps, request: Request, server?: ServerContext): Context {
  const requestId = requestIdOf(request, server);
  const caller = server?.caller ?? keyringOf(deps.config).authenticate(request.headers.get('authorization'));
  return {
    config: deps.config,
    store: deps.store,
    logger: deps.logger.child({ requestId }),
    requestId,
    caller,
    loaders: createLoaders(deps.store),
  };
}
