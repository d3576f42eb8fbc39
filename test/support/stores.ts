/**
 * The shared test harness for anything that needs a real S3-compatible store.
 *
 * `test/global-setup.ts` starts the stores once per run (moto's server and the
 * embedded store, on loopback); this module is what test files use:
 *
 * ```ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { testStores, s3Client, createTestBucket, removeBucket } from '../support/stores.js';
 *
 * describe.each(testStores())('$name', (store) => {
 *   const s3 = s3Client(store);
 *   let bucket: string;
 *   beforeAll(async () => { bucket = await createTestBucket(s3, 'gql-upload'); });
 *   afterAll(() => removeBucket(s3, bucket));
 *   it('...', async () => { ... });
 * });
 * ```
 *
 * Every store is shared by all test files running in parallel, so each test
 * works in buckets of its own (`uniqueBucket`) and never lists all buckets
 * expecting to see only its own.
 *
 * Alongside: `./app.js` (the store environment for the app, starting the
 * server), `./data.js` (deterministic streamed test data, SHA-256 of
 * streams), `./servers.js` (free ports, moto), `./deviations.js` (where a
 * store knowingly departs from AWS).
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { ResolvedStoreSettings } from '../../src/s3/client.js';
import type { TestServer } from './app.js';
import type { StoreCredentials, StoreUnderTest } from './provided.js';

export type { StoreUnderTest } from './provided.js';

/** The stores started by the global setup (at least one; moto first when present). */
export function testStores(): StoreUnderTest[] {
  const stores = inject('stores');
  if (!stores?.length)
    throw new Error('no test stores: is test/global-setup.ts listed as globalSetup in vitest.config.ts?');
  return stores;
}

/** The store the security tests run against: the embedded store (ours, and it checks signatures), else the first. */
export function storeForSecurity(stores: StoreUnderTest[]): StoreUnderTest {
  return stores.find((s) => s.name === 'embedded') ?? stores[0]!;
}

/**
 * The SDK's request checksum calculation and response checksum validation:
 * `WHEN_SUPPORTED` is the SDK default (CRC32 on every upload, streams sent as
 * `aws-chunked` with a trailer); `WHEN_REQUIRED` only where the operation
 * requires one (our server's default, `S3_CHECKSUM=when_required`).
 */
export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
export const CHECKSUM_MODES: readonly ChecksumMode[] = ['WHEN_SUPPORTED', 'WHEN_REQUIRED'];

export interface S3ClientOptions {
  /** Default `WHEN_REQUIRED`. */
  checksum?: ChecksumMode;
  /** Sign with these instead of the store's own (e.g. to test rejected signatures). */
  credentials?: StoreCredentials;
}

/**
 * An SDK client for `store`: path-style, us-east-1, no retries (a test must see
 * the first answer). Call `destroy()` when done if the test creates many.
 */
export function s3Client(store: StoreUnderTest, options: S3ClientOptions = {}): S3Client {
  const checksum = options.checksum ?? 'WHEN_REQUIRED';
  return new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: options.credentials ?? store.credentials,
    maxAttempts: 1,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
  });
}

/** An SDK client for the embedded store a test server started (no `store` given): path-style, us-east-1, the SDK's defaults otherwise. */
export function embeddedClient(server: TestServer): S3Client {
  const embedded = server.app.embedded!;
  return new S3Client({
    endpoint: embedded.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: embedded.credentials,
  });
}

let bucketCounter = 0;

/**
 * A bucket name no other test in this run uses: `<prefix>-<random>-<n>`,
 * lower-case, at most 63 characters, valid for S3. `prefix` says which test
 * made it (letters, digits and dashes are kept; the rest becomes `-`).
 */
export function uniqueBucket(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'test';
  bucketCounter += 1;
  const name = `${clean}-${randomBytes(5).toString('hex')}-${bucketCounter}`;
  return /^[a-z0-9]/.test(name) ? name : `t${name}`;
}

/** Creates a fresh bucket (see `uniqueBucket`) and returns its name. */
export async function createTestBucket(client: S3Client, prefix: string): Promise<string> {
  const bucket = uniqueBucket(prefix);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/**
 * Deletes a bucket with everything in it: objects (listing followed to the
 * end, deleted 1000 at a time) and unfinished multipart uploads. A bucket that
 * no longer exists is fine.
 */
export async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    let uploadMarkers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...uploadMarkers }));
      for (const upload of page.Uploads ?? []) {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
        );
      }
      if (!page.IsTruncated) break;
      uploadMarkers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
      if (keys.length)
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (err instanceof S3ServiceException && err.name === 'NoSuchBucket') return;
    throw err;
  }
}

/** How an S3 call ended, in the terms tests compare: HTTP status and S3 error code. */
export type Outcome = { ok: true; status: number } | { ok: false; status: number | undefined; code: string };

/** The `code` of an error answer whose body is not an S3 error document (e.g. an HTML error page). */
export const UNPARSEABLE_ERROR = 'UnparseableErrorResponse';

/**
 * Runs an SDK call and describes how it ended, so a test can assert on the
 * error code and status in one `expect`. An HTTP error answer whose body the
 * SDK cannot parse gets the code `UNPARSEABLE_ERROR`. Errors that are not HTTP
 * answers at all (network failures, bugs in the test) are re-thrown.
 */
export async function outcomeOf(call: Promise<{ $metadata: { httpStatusCode?: number } }>): Promise<Outcome> {
  try {
    const out = await call;
    return { ok: true, status: out.$metadata.httpStatusCode ?? 200 };
  } catch (err) {
    if (err instanceof S3ServiceException) return { ok: false, status: err.$metadata.httpStatusCode, code: err.name };
    const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
    if (typeof status === 'number') return { ok: false, status, code: UNPARSEABLE_ERROR };
    throw err;
  }
}

/** The server's store settings for `store` (as src/config makes them), with `overrides`. */
export function storeSettingsFor(
  store: StoreUnderTest,
  overrides: Partial<ResolvedStoreSettings> = {},
): ResolvedStoreSettings {
  return {
    endpoint: store.endpoint,
    publicEndpoint: undefined,
    region: 'us-east-1',
    accessKeyId: store.credentials.accessKeyId,
    secretAccessKey: store.credentials.secretAccessKey,
    forcePathStyle: true,
    checksum: 'when_required',
    maxSockets: 16,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 20_000,
    maxAttempts: 2,
    ...overrides,
  };
}
