import { forEachLimited } from '../core/concurrency.js';
import { AppError } from '../core/errors.js';
import { StoreCallLimitError } from '../core/store-call-budget.js';
import type { MultipartUploadInfo, Store } from './store.js';

/**
 * Cleanup of abandoned multipart uploads: every open upload of the given
 * buckets initiated more than `olderThanSeconds` before now (by the store's
 * clock, as ListMultipartUploads reports it) is aborted, which frees its
 * parts. Used by `multipart.abortStale` and by `npm run abort-stale`.
 *
 * Where the store supports it, a lifecycle rule with
 * `AbortIncompleteMultipartUpload` does the same job inside the store and is
 * the better choice; this is for stores without one.
 */

/** Aborts in flight at once. */
const ABORT_CONCURRENCY = 8;

export interface StaleUploadsOptions {
  /** The buckets to clean, each listed to the end (all pages). */
  buckets: readonly string[];
  /** Uploads initiated more than this many seconds ago are stale; 0: every open upload. */
  olderThanSeconds: number;
  /** Only uploads whose key starts with this. */
  prefix?: string | undefined;
  /**
   * Skip a bucket that no longer exists (it came from a listing and was
   * deleted since); otherwise NO_SUCH_BUCKET rejects.
   */
  skipMissingBuckets?: boolean;
  /** Find the stale uploads but abort nothing. */
  dryRun: boolean;
  /** "Now", for the cut-off (default: the current time). */
  now?: Date;
  /** Told about each upload once it is aborted (with dryRun: once it is found). */
  onAborted?: (upload: MultipartUploadInfo) => void;
  /** Told about each upload the store refused to abort. */
  onFailed?: (upload: MultipartUploadInfo, error: AppError) => void;
}

export interface StaleUploadsResult {
  /** Uploads initiated before this were stale. */
  cutoff: Date;
  /** Aborted now (with dryRun: the ones that would be), by bucket, key and upload id. */
  aborted: MultipartUploadInfo[];
  /** Stale uploads the store refused to abort, with why. */
  failed: { upload: MultipartUploadInfo; error: AppError }[];
  /** Open uploads the store gave no initiation time for: left alone. */
  undated: number;
}

const compare = (a: MultipartUploadInfo, b: MultipartUploadInfo) =>
  a.bucket !== b.bucket
    ? a.bucket < b.bucket
      ? -1
      : 1
    : a.key !== b.key
      ? a.key < b.key
        ? -1
        : 1
      : a.uploadId < b.uploadId
        ? -1
        : a.uploadId > b.uploadId
          ? 1
          : 0;

/**
 * Finds and (unless dryRun) aborts the stale uploads. An upload that is gone
 * by the time it is aborted (completed or aborted meanwhile, NO_SUCH_UPLOAD)
 * is neither aborted nor failed. A listing that fails (e.g. NO_SUCH_BUCKET,
 * unless skipMissingBuckets) rejects; one refused abort does not stop the
 * others, but the end of the request's store-call budget does.
 */
export async function abortStaleUploads(store: Store, options: StaleUploadsOptions): Promise<StaleUploadsResult> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.olderThanSeconds * 1000);
  const result: StaleUploadsResult = { cutoff, aborted: [], failed: [], undated: 0 };
  for (const bucket of options.buckets) {
    const stale: MultipartUploadInfo[] = [];
    let open: MultipartUploadInfo[];
    try {
      open = await store.listMultipartUploads(bucket, { prefix: options.prefix });
    } catch (err) {
      if (options.skipMissingBuckets && err instanceof AppError && err.code === 'NO_SUCH_BUCKET') continue;
      throw err;
    }
    for (const upload of open) {
      if (upload.initiatedAt === undefined) result.undated += 1;
      else if (upload.initiatedAt.getTime() < cutoff.getTime() || options.olderThanSeconds === 0) stale.push(upload);
    }
    if (options.dryRun) {
      for (const upload of stale) {
        result.aborted.push(upload);
        options.onAborted?.(upload);
      }
      continue;
    }
    await forEachLimited(stale, ABORT_CONCURRENCY, async (upload) => {
      try {
        await store.abortMultipartUpload(upload.bucket, upload.key, upload.uploadId);
      } catch (err) {
        const error =
          err instanceof AppError ? err : new AppError('INTERNAL_SERVER_ERROR', 'the upload could not be aborted');
        if (error.code === 'NO_SUCH_UPLOAD') return;
        // The request's store calls are spent: the rest would fail the same way without trying.
        if (error instanceof StoreCallLimitError) throw error;
        result.failed.push({ upload, error });
        options.onFailed?.(upload, error);
        return;
      }
      result.aborted.push(upload);
      options.onAborted?.(upload);
    });
  }
  result.aborted.sort(compare);
  result.failed.sort((a, b) => compare(a.upload, b.upload));
  return result;
}
