import { Transform, pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  paginateListParts,
} from '@aws-sdk/client-s3';
import { AppError, badInput } from '../core/errors.js';
import { MAX_PART_NUMBER as MAX_PARTS } from '../core/s3-rules.js';
import { call, storeStatusOf, s3ErrorName, toAppError, type ErrorContext } from './errors.js';
import { headStored } from './objects.js';
import { advance, quoteEtag, sourceStreamError, stripEtag, type StoreContext } from './shared.js';
import type { MultipartUploadInfo, ObjectHead, PartInfo } from './types.js';

/** Multipart uploads: create, upload a part, list parts and uploads, complete, abort. */

type UploadContext = ErrorContext & { bucket: string; key: string; uploadId: string };

/** The error for a part number outside S3's 1 to 10,000, or undefined. */
export function partNumberError(partNumber: number): AppError | undefined {
  if (Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= MAX_PARTS) return undefined;
  return badInput('partNumber', `must be a whole number from 1 to ${MAX_PARTS}`);
}

/**
 * Maps a failed multipart call. Some stores (moto) answer an unknown upload
 * id with a 5xx instead of NoSuchUpload: then ListParts tells whether the
 * upload still exists.
 */
async function multipartError(s3: StoreContext, err: unknown, ctx: UploadContext): Promise<AppError> {
  const status = storeStatusOf(err);
  if (status !== undefined && status >= 500 && s3ErrorName(err) !== 'NoSuchUpload') {
    try {
      await probeUpload(s3, ctx);
    } catch (check) {
      if (s3ErrorName(check) === 'NoSuchUpload') {
        const mapped = toAppError(check, ctx);
        mapped.cause = err;
        return mapped;
      }
    }
  }
  return toAppError(err, ctx);
}

/** Runs a call on one upload, mapping its failure with multipartError. */
function callUpload<T>(s3: StoreContext, ctx: UploadContext, run: () => Promise<T>): Promise<T> {
  return call((e) => multipartError(s3, e, ctx), run);
}

/** One ListParts of one part, whatever the upload's size. */
function probeUpload(s3: StoreContext, { bucket, key, uploadId }: UploadContext) {
  return s3.client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
}

export function createMultipartUpload(
  s3: StoreContext,
  bucket: string,
  key: string,
  opts: { contentType?: string; metadata?: Record<string, string> },
): Promise<MultipartUploadInfo> {
  return call({ bucket, key }, async () => {
    const r = await s3.client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: opts.contentType,
        Metadata: opts.metadata,
      }),
    );
    if (!r.UploadId) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no upload id');
    return { bucket, key, uploadId: r.UploadId };
  });
}

export async function uploadPart(
  s3: StoreContext,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Readable,
  contentLength: number,
): Promise<PartInfo> {
  const badPart = partNumberError(partNumber);
  if (badPart) {
    body.destroy();
    throw badPart;
  }
  const controller = new AbortController();
  let stoppedBy: AppError | undefined;
  let sourceError: unknown;
  let received = 0;
  // Passes exactly contentLength bytes; more or fewer fail the stream (and so the request) with stoppedBy.
  const exact = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > contentLength) {
        stoppedBy = badInput('file', `the part is longer than its declared ${contentLength} bytes`);
        callback(stoppedBy);
      } else {
        callback(null, chunk);
      }
    },
    flush(callback) {
      if (received < contentLength) {
        stoppedBy = badInput('file', `the part ended after ${received} of its declared ${contentLength} bytes`);
        callback(stoppedBy);
      } else {
        callback();
      }
    },
  });
  body.once('error', (err) => {
    sourceError ??= err;
  });
  pipeline(body, exact, (err) => {
    if (err) controller.abort();
  });
  return callUpload(s3, { bucket, key, uploadId }, async () => {
    try {
      const r = await s3.client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: exact,
          ContentLength: contentLength,
        }),
        // The body may take long to arrive; the socket idle timeout still applies.
        { abortSignal: controller.signal, requestTimeout: 0 },
      );
      return { partNumber, etag: stripEtag(r.ETag), size: contentLength };
    } catch (e) {
      exact.destroy();
      if (stoppedBy) throw stoppedBy;
      if (sourceError !== undefined) throw sourceStreamError(sourceError);
      throw e;
    }
  });
}

export function assertUploadOpen(s3: StoreContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const ctx = { bucket, key, uploadId };
  return callUpload(s3, ctx, async () => {
    await probeUpload(s3, ctx);
  });
}

export function listParts(s3: StoreContext, bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
  return callUpload(s3, { bucket, key, uploadId }, async () => {
    const parts: PartInfo[] = [];
    let marker: string | undefined;
    const pages = paginateListParts(
      { client: s3.client, pageSize: s3.listPageSize },
      { Bucket: bucket, Key: key, UploadId: uploadId },
    );
    for await (const page of pages) {
      for (const p of page.Parts ?? []) {
        if (p.PartNumber === undefined) continue;
        parts.push({
          partNumber: p.PartNumber,
          etag: stripEtag(p.ETag),
          size: p.Size ?? 0,
          lastModified: p.LastModified,
        });
      }
      // IsTruncated ends the loop (the paginator alone goes on while a marker is given); advance refuses a
      // missing or repeated marker before the paginator sends it.
      if (!page.IsTruncated) break;
      marker = advance(marker, page.NextPartNumberMarker, 'part listing');
    }
    return parts;
  });
}

/** The SDK has no paginator for ListMultipartUploads (two markers): this loop follows both. */
export function listMultipartUploads(
  s3: StoreContext,
  bucket: string,
  opts: { prefix?: string } = {},
): Promise<MultipartUploadInfo[]> {
  return call({ bucket }, async () => {
    const uploads: MultipartUploadInfo[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await s3.client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: opts.prefix || undefined,
          MaxUploads: s3.listPageSize,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        uploads.push({ bucket, key: u.Key, uploadId: u.UploadId, initiatedAt: u.Initiated });
      }
      if (!page.IsTruncated) return uploads;
      const next = `${page.NextKeyMarker ?? ''}\u0000${page.NextUploadIdMarker ?? ''}`;
      advance(`${keyMarker ?? ''}\u0000${uploadIdMarker ?? ''}`, next, 'upload listing');
      keyMarker = page.NextKeyMarker || undefined;
      uploadIdMarker = page.NextUploadIdMarker || undefined;
    }
  });
}

export async function completeMultipartUpload(
  s3: StoreContext,
  bucket: string,
  key: string,
  uploadId: string,
  parts: { partNumber: number; etag: string }[] | undefined,
): Promise<ObjectHead> {
  const chosen = parts ?? (await listParts(s3, bucket, key, uploadId));
  if (chosen.length === 0) throw new AppError('INVALID_PART', 'a multipart upload needs at least one part to complete');
  await callUpload(s3, { bucket, key, uploadId }, () =>
    s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: [...chosen]
            .sort((a, b) => a.partNumber - b.partNumber)
            .map((p) => ({ PartNumber: p.partNumber, ETag: quoteEtag(p.etag) })),
        },
      }),
    ),
  );
  return headStored(s3, bucket, key);
}

export function abortMultipartUpload(s3: StoreContext, bucket: string, key: string, uploadId: string): Promise<void> {
  return callUpload(s3, { bucket, key, uploadId }, async () => {
    await s3.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  });
}
