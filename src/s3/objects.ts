import { Transform, pipeline, type Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { AppError } from '../core/errors.js';
import { bucketExists } from './buckets.js';
import { call, storeStatusOf, s3ErrorName, toAppError } from './errors.js';
import type { HeadResult, ListInput } from './lean-reads.js';
import type { ListBucketResult } from './list-xml.js';
import { writeObject } from './part-upload.js';
import { lowerCaseKeys, sourceStreamError, stripEtag, type StoreContext } from './shared.js';
import type { GetOptions, GetResult, ObjectHead, ObjectPage, UploadOptions } from './types.js';

/** Object calls: one listing page, HEAD, streamed GET, streamed upload (copy, deletion, presign: their own files). */

const RANGE_PATTERN = /^bytes=(\d+-\d*|-\d+)$/;

const cancelled = () => new AppError('BAD_USER_INPUT', 'the upload was cancelled before it was complete');

function headersOf(err: unknown): Record<string, string> {
  const response = (err as { $response?: { headers?: Record<string, string> } } | null)?.$response;
  return response?.headers ?? {};
}

/** One listing call's options: ListObjectsV2's, but its bucket. */
type ListOptions = Omit<ListInput, 'bucket'>;

/** A GraphQL page is one page of the store's: a plain command, no paginator (the lean read when there is one). */
export function listObjects(s3: StoreContext, bucket: string, opts: ListOptions): Promise<ObjectPage> {
  return call({ bucket }, async () => {
    const page = (await s3.lean?.listObjectsV2({ bucket, ...opts })) ?? (await sdkListObjects(s3, bucket, opts));
    return {
      objects: page.objects.map((o) => ({
        bucket,
        key: o.key,
        size: o.size,
        etag: stripEtag(o.etag),
        lastModified: o.lastModified,
        storageClass: o.storageClass,
      })),
      prefixes: page.prefixes,
      nextToken: page.isTruncated && page.nextContinuationToken ? page.nextContinuationToken : undefined,
    };
  });
}

async function sdkListObjects(s3: StoreContext, bucket: string, opts: ListOptions): Promise<ListBucketResult> {
  const page = await s3.client.send(
    new ListObjectsV2Command({
      Bucket: bucket,
      Prefix: opts.prefix || undefined,
      Delimiter: opts.delimiter || undefined,
      MaxKeys: opts.maxKeys,
      ContinuationToken: opts.continuationToken || undefined,
      StartAfter: opts.startAfter || undefined,
    }),
  );
  return {
    objects: (page.Contents ?? []).flatMap((o) =>
      o.Key === undefined
        ? []
        : [
            {
              key: o.Key,
              size: o.Size ?? 0,
              etag: o.ETag,
              lastModified: o.LastModified ?? new Date(0),
              storageClass: o.StorageClass,
            },
          ],
    ),
    prefixes: (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix !== undefined ? [p.Prefix] : [])),
    isTruncated: page.IsTruncated === true,
    nextContinuationToken: page.NextContinuationToken,
  };
}

export function headObject(s3: StoreContext, bucket: string, key: string): Promise<ObjectHead | null> {
  return call({ bucket, key }, async () => {
    let r: HeadResult | 'missing' | undefined = await s3.lean?.headObject(bucket, key);
    if (r === undefined) {
      try {
        r = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (e) {
        if (storeStatusOf(e) !== 404) throw e;
        r = 'missing';
      }
    }
    if (r === 'missing') {
      // HEAD answers a bare 404 for a missing key and a missing bucket alike.
      if ((await bucketExists(s3, bucket)) === null) {
        throw new AppError('NO_SUCH_BUCKET', `bucket "${bucket}" does not exist`);
      }
      return null;
    }
    return {
      bucket,
      key,
      size: r.ContentLength ?? 0,
      etag: stripEtag(r.ETag),
      lastModified: r.LastModified ?? new Date(0),
      // HEAD omits x-amz-storage-class for STANDARD objects (S3's documentation says so).
      storageClass: r.StorageClass ?? 'STANDARD',
      contentType: r.ContentType,
      metadata: lowerCaseKeys(r.Metadata),
      contentDisposition: r.ContentDisposition,
      cacheControl: r.CacheControl,
      contentEncoding: r.ContentEncoding,
    };
  });
}

/** HEAD of an object this store just wrote. */
export async function headStored(s3: StoreContext, bucket: string, key: string): Promise<ObjectHead> {
  const head = await headObject(s3, bucket, key);
  if (head === null) {
    throw new AppError('INTERNAL_SERVER_ERROR', 'the object store does not show the object it just stored');
  }
  return head;
}

export async function getObject(s3: StoreContext, bucket: string, key: string, opts: GetOptions): Promise<GetResult> {
  const ctx = { bucket, key };
  if (opts.range !== undefined && !RANGE_PATTERN.test(opts.range.trim())) {
    throw new AppError('BAD_USER_INPUT', 'range: must be one byte range such as bytes=0-99, bytes=100- or bytes=-100', {
      argument: 'range',
      httpStatus: 416,
    });
  }
  const mapping = (e: unknown) => {
    const mapped = toAppError(e, ctx);
    if (s3ErrorName(e) === 'InvalidRange') {
      const size = Number((e as { ActualObjectSize?: unknown }).ActualObjectSize);
      if (Number.isSafeInteger(size)) mapped.extensions.objectSize = size;
    }
    return mapped;
  };
  return call(mapping, async (): Promise<GetResult> => {
    try {
      const r = await s3.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: opts.range?.trim(),
          IfNoneMatch: opts.ifNoneMatch,
          IfModifiedSince: opts.ifModifiedSince,
          IfMatch: opts.ifMatch,
          IfUnmodifiedSince: opts.ifUnmodifiedSince,
        }),
      );
      return {
        status: r.$metadata.httpStatusCode === 206 ? 206 : 200,
        body: r.Body as Readable | undefined,
        contentLength: r.ContentLength,
        contentRange: r.ContentRange,
        contentType: r.ContentType,
        etag: r.ETag === undefined ? undefined : stripEtag(r.ETag),
        lastModified: r.LastModified,
        metadata: lowerCaseKeys(r.Metadata),
        contentDisposition: r.ContentDisposition,
        cacheControl: r.CacheControl,
        contentEncoding: r.ContentEncoding,
        acceptRanges: r.AcceptRanges,
      };
    } catch (e) {
      if (storeStatusOf(e) !== 304) throw e;
      const headers = headersOf(e);
      const lastModified = headers['last-modified'] ? new Date(headers['last-modified']) : undefined;
      return {
        status: 304,
        etag: headers.etag === undefined ? undefined : stripEtag(headers.etag),
        lastModified: lastModified && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined,
        metadata: {},
      };
    }
  });
}

/**
 * writeObject (part-upload.ts) sends one PutObject, or a multipart upload
 * with `queueSize` parts in flight from a bounded pool of part buffers; a
 * counting stream in front of it enforces the limit, and it aborts the
 * multipart upload when it stops.
 */
export async function uploadStream(
  s3: StoreContext,
  bucket: string,
  key: string,
  body: Readable,
  opts: UploadOptions,
): Promise<ObjectHead> {
  const limit = Math.min(opts.maxBytes, s3.maxUploadBytes);
  if (opts.signal?.aborted) {
    body.destroy();
    throw cancelled();
  }
  let received = 0;
  let stoppedBy: AppError | undefined;
  let sourceError: unknown;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > limit) {
        stoppedBy = new AppError('PAYLOAD_TOO_LARGE', `the upload is larger than the limit of ${limit} bytes`);
        callback(stoppedBy);
      } else {
        callback(null, chunk);
      }
    },
  });
  body.once('error', (err) => {
    sourceError ??= err;
  });
  pipeline(body, counter, () => {});
  const onAbort = () => {
    stoppedBy ??= cancelled();
    counter.destroy(stoppedBy);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  await call({ bucket, key }, async () => {
    try {
      // Not destroyed when writeObject stops reading: the catch below does, once it has read stoppedBy and
      // sourceError, or the premature close that destroying it causes would pass for the source's failure.
      const chunks = counter.iterator({ destroyOnReturn: false });
      await writeObject(s3, { bucket, key, contentType: opts.contentType, metadata: opts.metadata }, chunks);
    } catch (e) {
      counter.destroy();
      if (stoppedBy) throw stoppedBy;
      if (sourceError !== undefined) throw sourceStreamError(sourceError);
      throw e;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  });
  return headStored(s3, bucket, key);
}
