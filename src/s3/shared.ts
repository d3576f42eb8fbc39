import type { S3Client } from '@aws-sdk/client-s3';
import { AppError, isPayloadTooLarge } from '../core/errors.js';
import type { LeanReads } from './lean-reads.js';
import type { StoreOptions } from './types.js';

/** What the parts of the store (buckets.ts, objects.ts, …) share: the clients, the settings and S3's wire formats. */

/** The clients and the settings with their defaults applied; every store function takes it first. */
export interface StoreContext {
  readonly client: S3Client;
  /** Only signs URLs, for the public endpoint; sends nothing. */
  readonly presignClient: S3Client;
  readonly partSize: number;
  readonly queueSize: number;
  readonly maxUploadBytes: number;
  readonly listPageSize: number;
  readonly copyMultipartThreshold: number;
  readonly copyPartSize: number;
  /** ListObjectsV2 and HeadObject without the SDK's pipeline (./lean-reads.ts), when the store allows it. */
  readonly lean: LeanReads | undefined;
}

const GIB = 1024 ** 3;

export function storeContext(client: S3Client, presignClient: S3Client, options: StoreOptions): StoreContext {
  return {
    client,
    presignClient,
    partSize: options.partSize,
    queueSize: options.queueSize,
    maxUploadBytes: options.maxUploadBytes,
    listPageSize: options.listPageSize ?? 1000,
    copyMultipartThreshold: options.copyMultipartThreshold ?? 5 * GIB,
    copyPartSize: options.copyPartSize ?? 512 * 1024 ** 2,
    lean: options.lean,
  };
}

/** Removes the quotes S3 puts around ETags (once; the rest of the server never sees them). */
export const stripEtag = (etag: string | undefined): string =>
  etag === undefined ? '' : etag.replace(/^"([\s\S]*)"$/, '$1');

export const quoteEtag = (etag: string) => (etag.startsWith('"') ? etag : `"${etag}"`);

export function lowerCaseKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) result[k.toLowerCase()] = v;
  return result;
}

/** Guards the loops over store listings against a store that hands back the same marker forever. */
export function advance(previous: string | undefined, next: string | undefined, what: string): string {
  if (next === undefined || next === '' || next === previous) {
    throw new AppError('INTERNAL_SERVER_ERROR', `the object store returned an invalid ${what} marker`);
  }
  return next;
}

/** How an upload body that failed on the client's side is reported. */
export function sourceStreamError(err: unknown): AppError {
  const appError = isPayloadTooLarge(err)
    ? new AppError('PAYLOAD_TOO_LARGE', 'the upload is larger than the server accepts')
    : new AppError('BAD_USER_INPUT', 'the upload stream failed before it was complete');
  appError.cause = err;
  return appError;
}
