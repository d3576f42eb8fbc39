import { Transform, pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type BucketLocationConstraint,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { forEachLimited } from '../core/concurrency.js';
import { AppError, badInput } from '../core/errors.js';
import { MAX_DELETE_KEYS as MAX_DELETE_BATCH, MAX_PRESIGN_EXPIRES_SECONDS as MAX_PRESIGN_SECONDS, MAX_PART_NUMBER as MAX_PARTS } from '../core/s3-rules.js';
import { httpStatusOf, s3ErrorName, toAppError, type ErrorContext } from './errors.js';

export interface ObjectSummary {
  bucket: string;
  key: string;
  size: number;
  /** Without the surrounding quotes S3 sends. */
  etag: string;
  lastModified: Date;
  storageClass?: string;
}

export interface ObjectHead extends ObjectSummary {
  contentType?: string;
  /** User metadata (x-amz-meta-*), keys lower-case. */
  metadata: Record<string, string>;
  contentDisposition?: string;
  cacheControl?: string;
  contentEncoding?: string;
}

export interface ObjectPage {
  objects: ObjectSummary[];
  prefixes: string[];
  /** Present when there is a next page: pass it back as `continuationToken`. */
  nextToken?: string;
}

export interface DeleteResult {
  deleted: string[];
  errors: { key: string; code: string; message: string }[];
}

export interface UploadOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** The upload fails with PAYLOAD_TOO_LARGE past this many bytes (capped by the store's maxUploadBytes). */
  maxBytes: number;
  /** Aborting it stops the upload and removes everything it stored. */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** A Range header value: one range, `bytes=0-99`, `bytes=100-` or `bytes=-100`. */
  range?: string;
  /** If-None-Match / If-Match header values, passed as given (quoted ETags or `*`). */
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
  ifMatch?: string;
  ifUnmodifiedSince?: Date;
}

export interface GetResult {
  status: 200 | 206 | 304;
  /** The object's bytes, streamed from the store; absent for 304. The caller must consume or destroy it. */
  body?: Readable;
  contentLength?: number;
  contentRange?: string;
  contentType?: string;
  /** Without quotes. */
  etag?: string;
  lastModified?: Date;
  metadata: Record<string, string>;
  contentDisposition?: string;
  cacheControl?: string;
  contentEncoding?: string;
  acceptRanges?: string;
}

export interface PresignResult {
  url: string;
  expiresAt: Date;
  /** Headers the client must send with the request, exactly as given. */
  headers: { key: string; value: string }[];
}

export interface MultipartUploadInfo {
  bucket: string;
  key: string;
  uploadId: string;
  initiatedAt?: Date;
}

export interface PartInfo {
  partNumber: number;
  /** Without quotes. */
  etag: string;
  size: number;
  lastModified?: Date;
}

export interface StoreOptions {
  /** lib-storage part size for uploadStream (at least 5 MiB). */
  partSize: number;
  /** Parts uploaded concurrently by one uploadStream. */
  queueSize: number;
  /** Hard cap on any uploadStream, whatever maxBytes the caller passes. */
  maxUploadBytes: number;
  /**
   * Page size of the listings the store loops over itself (deletePrefix,
   * deleteBucket with force, listParts, listMultipartUploads). S3's maximum,
   * 1000, unless a test lowers it to exercise paging.
   */
  listPageSize?: number;
  /** Objects larger than this are copied part by part with UploadPartCopy (S3's CopyObject limit: 5 GiB). */
  copyMultipartThreshold?: number;
  /** Part size for UploadPartCopy (raised when the object would need more than 10,000 parts). */
  copyPartSize?: number;
}

const GIB = 1024 ** 3;
const RANGE_PATTERN = /^bytes=(\d+-\d*|-\d+)$/;

/** Removes the quotes S3 puts around ETags (once; the rest of the server never sees them). */
export const stripEtag = (etag: string | undefined): string =>
  etag === undefined ? '' : etag.replace(/^"([^]*)"$/, '$1');

const quoteEtag = (etag: string) => (etag.startsWith('"') ? etag : `"${etag}"`);

function lowerCaseKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) result[k.toLowerCase()] = v;
  return result;
}

/** `bucket/key` for x-amz-copy-source, each key segment percent-encoded ('/' kept as the separator). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Guards the loops over store listings against a store that hands back the same marker forever. */
function advance(previous: string | undefined, next: string | undefined, what: string): string {
  if (next === undefined || next === '' || next === previous) {
    throw new AppError('INTERNAL_SERVER_ERROR', `the object store returned an invalid ${what} marker`);
  }
  return next;
}

/** The error for a part number outside S3's 1 to 10,000, or undefined. */
function partNumberError(partNumber: number): AppError | undefined {
  if (Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= MAX_PARTS) return undefined;
  return badInput('partNumber', `must be a whole number from 1 to ${MAX_PARTS}`);
}

function checkExpiresIn(expiresIn: number): void {
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
    throw badInput('expiresIn', `must be a whole number of seconds from 1 to ${MAX_PRESIGN_SECONDS}`);
  }
}

function headersOf(err: unknown): Record<string, string> {
  const response = (err as { $response?: { headers?: Record<string, string> } } | null)?.$response;
  return response?.headers ?? {};
}

/** How an upload body that failed on the client's side is reported. */
function sourceStreamError(err: unknown): AppError {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status;
  const appError =
    status === 413
      ? new AppError('PAYLOAD_TOO_LARGE', 'the upload is larger than the server accepts')
      : new AppError('BAD_USER_INPUT', 'the upload stream failed before it was complete');
  appError.cause = err;
  return appError;
}

const cancelled = () => new AppError('BAD_USER_INPUT', 'the upload was cancelled before it was complete');

/**
 * Every call the server makes to the object store. Resolvers and HTTP routes
 * use only this class; every method either returns plain data or throws an
 * AppError (see ./errors.ts).
 */
export class Store {
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxUploadBytes: number;
  private readonly listPageSize: number;
  private readonly copyMultipartThreshold: number;
  private readonly copyPartSize: number;

  constructor(
    private readonly client: S3Client,
    private readonly presignClient: S3Client,
    options: StoreOptions,
  ) {
    this.partSize = options.partSize;
    this.queueSize = options.queueSize;
    this.maxUploadBytes = options.maxUploadBytes;
    this.listPageSize = options.listPageSize ?? 1000;
    this.copyMultipartThreshold = options.copyMultipartThreshold ?? 5 * GIB;
    this.copyPartSize = options.copyPartSize ?? 512 * 1024 ** 2;
  }

  /**
   * The readiness check: one cheap authenticated call. AccessDenied counts as
   * ready: the store checked the signature before it refused, so it is up and
   * knows the key, which just may not list buckets (an AWS key scoped to some
   * buckets). Throws BACKEND_UNAVAILABLE saying why otherwise.
   */
  async ping(): Promise<void> {
    try {
      await this.client.send(new ListBucketsCommand({ MaxBuckets: 1 }));
    } catch (e) {
      const name = (e as { name?: unknown }).name;
      if (name === 'AccessDenied') return;
      const mapped = toAppError(e);
      if (mapped.code === 'BACKEND_UNAVAILABLE') throw mapped;
      const why = typeof name === 'string' ? name : 'an error';
      const unavailable = new AppError(
        'BACKEND_UNAVAILABLE',
        `the object store answered the readiness check with ${why}: check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`,
      );
      unavailable.cause = e;
      throw unavailable;
    }
  }

  /** Every bucket, following ContinuationToken to the end. */
  async listBuckets(): Promise<{ name: string; createdAt?: Date }[]> {
    try {
      const buckets: { name: string; createdAt?: Date }[] = [];
      let token: string | undefined;
      for (;;) {
        // No MaxBuckets: some stores (moto) cut the list at MaxBuckets without a ContinuationToken.
        const page = await this.client.send(new ListBucketsCommand({ ContinuationToken: token }));
        for (const b of page.Buckets ?? []) {
          if (b.Name !== undefined) buckets.push({ name: b.Name, createdAt: b.CreationDate });
        }
        if (!page.ContinuationToken) return buckets;
        token = advance(token, page.ContinuationToken, 'bucket listing');
      }
    } catch (e) {
      throw toAppError(e);
    }
  }

  /** The bucket (HeadBucket), or null when no bucket has that name. HeadBucket gives no creation date. */
  async bucketExists(name: string): Promise<{ name: string; createdAt?: Date } | null> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: name }));
      return { name };
    } catch (e) {
      if (httpStatusOf(e) === 404) return null;
      throw toAppError(e, { bucket: name });
    }
  }

  /**
   * Creates a bucket. BUCKET_ALREADY_EXISTS when the name is taken, including
   * by this account (AWS us-east-1 and moto answer 200 to re-creating your own bucket).
   */
  async createBucket(name: string): Promise<void> {
    try {
      let exists = false;
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: name }));
        exists = true;
      } catch (e) {
        // 404: the name is free. 403: another account's bucket (or bad credentials): CreateBucket tells which.
        const status = httpStatusOf(e);
        if (status !== 404 && status !== 403) throw e;
      }
      if (exists) throw new AppError('BUCKET_ALREADY_EXISTS', `bucket "${name}" already exists`);
      const region = await this.client.config.region();
      await this.client.send(
        new CreateBucketCommand({
          Bucket: name,
          CreateBucketConfiguration:
            region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
        }),
      );
    } catch (e) {
      throw toAppError(e, { bucket: name });
    }
  }

  /**
   * Deletes a bucket. With force it first aborts every open multipart upload
   * and deletes every object (and, if the store still finds it not empty,
   * every object version and delete marker).
   */
  async deleteBucket(name: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const ctx = { bucket: name };
    try {
      if (!force) {
        await this.client.send(new DeleteBucketCommand({ Bucket: name }));
        return;
      }
      for (const upload of await this.listMultipartUploads(name)) {
        await this.abortMultipartUpload(name, upload.key, upload.uploadId).catch((e: unknown) => {
          if (toAppError(e).code !== 'NO_SUCH_UPLOAD') throw e;
        });
      }
      await this.deleteAll(name, '', false);
      try {
        await this.client.send(new DeleteBucketCommand({ Bucket: name }));
      } catch (e) {
        if (s3ErrorName(e) !== 'BucketNotEmpty') throw e;
        const notEmpty = toAppError(e, ctx);
        try {
          await this.deleteAllVersions(name);
        } catch {
          // A store without ListObjectVersions: its first answer stands.
          throw notEmpty;
        }
        await this.client.send(new DeleteBucketCommand({ Bucket: name }));
      }
    } catch (e) {
      throw toAppError(e, ctx);
    }
  }

  /** One page of objects: exactly one ListObjectsV2 call. */
  async listObjects(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; maxKeys: number; continuationToken?: string; startAfter?: string },
  ): Promise<ObjectPage> {
    try {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: opts.prefix || undefined,
          Delimiter: opts.delimiter || undefined,
          MaxKeys: opts.maxKeys,
          ContinuationToken: opts.continuationToken || undefined,
          StartAfter: opts.startAfter || undefined,
        }),
      );
      const objects: ObjectSummary[] = (page.Contents ?? [])
        .filter((o) => o.Key !== undefined)
        .map((o) => ({
          bucket,
          key: o.Key!,
          size: o.Size ?? 0,
          etag: stripEtag(o.ETag),
          lastModified: o.LastModified ?? new Date(0),
          storageClass: o.StorageClass,
        }));
      const prefixes = (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix !== undefined ? [p.Prefix] : []));
      return {
        objects,
        prefixes,
        nextToken: page.IsTruncated && page.NextContinuationToken ? page.NextContinuationToken : undefined,
      };
    } catch (e) {
      throw toAppError(e, { bucket });
    }
  }

  /** The object's metadata, or null when the key does not exist; NO_SUCH_BUCKET when the bucket does not. */
  async headObject(bucket: string, key: string): Promise<ObjectHead | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
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
    } catch (e) {
      if (httpStatusOf(e) === 404) {
        // HEAD answers a bare 404 for a missing key and a missing bucket alike.
        if ((await this.bucketExists(bucket)) === null) {
          throw new AppError('NO_SUCH_BUCKET', `bucket "${bucket}" does not exist`);
        }
        return null;
      }
      throw toAppError(e, { bucket, key });
    }
  }

  /**
   * Streams an object. Conditional requests give status 304; an unsatisfiable
   * or malformed range gives BAD_USER_INPUT with extensions.httpStatus 416 (and
   * extensions.objectSize when known), a failed If-Match 412.
   */
  async getObject(bucket: string, key: string, opts: GetOptions = {}): Promise<GetResult> {
    const ctx = { bucket, key };
    if (opts.range !== undefined && !RANGE_PATTERN.test(opts.range.trim())) {
      throw new AppError('BAD_USER_INPUT', 'range: must be one byte range such as bytes=0-99, bytes=100- or bytes=-100', {
        argument: 'range',
        httpStatus: 416,
      });
    }
    try {
      const r = await this.client.send(
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
      if (httpStatusOf(e) === 304) {
        const headers = headersOf(e);
        const lastModified = headers['last-modified'] ? new Date(headers['last-modified']) : undefined;
        return {
          status: 304,
          etag: headers.etag === undefined ? undefined : stripEtag(headers.etag),
          lastModified: lastModified && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined,
          metadata: {},
        };
      }
      const mapped = toAppError(e, ctx);
      if (s3ErrorName(e) === 'InvalidRange') {
        const size = Number((e as { ActualObjectSize?: unknown }).ActualObjectSize);
        if (Number.isSafeInteger(size)) mapped.extensions.objectSize = size;
      }
      throw mapped;
    }
  }

  /**
   * Streams body into an object with lib-storage: one PutObject when it fits
   * in one part, else a multipart upload with `queueSize` parts in flight.
   * Memory: about partSize × (queueSize + 1) bytes. Past maxBytes, on abort of
   * `signal` or when body fails, the upload stops and its multipart upload is
   * aborted before this rejects, so nothing is left in the store.
   */
  async uploadStream(bucket: string, key: string, body: Readable, opts: UploadOptions): Promise<ObjectHead> {
    const ctx = { bucket, key };
    const limit = Math.min(opts.maxBytes, this.maxUploadBytes);
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

    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: bucket, Key: key, Body: counter, ContentType: opts.contentType, Metadata: opts.metadata },
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (e) {
      counter.destroy();
      if (stoppedBy) throw stoppedBy;
      if (sourceError !== undefined) throw sourceStreamError(sourceError);
      throw toAppError(e, ctx);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return this.headStored(bucket, key);
  }

  /** Deletes one object; a missing key succeeds, as in S3. */
  async deleteObject(bucket: string, key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      throw toAppError(e, { bucket, key });
    }
  }

  /** Deletes the keys, 1000 per DeleteObjects request; per-key failures come back in `errors`. */
  async deleteObjects(bucket: string, keys: string[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], errors: [] };
    try {
      for (let i = 0; i < keys.length; i += MAX_DELETE_BATCH) {
        const batch = keys.slice(i, i + MAX_DELETE_BATCH).map((Key) => ({ Key }));
        const part = await this.deleteBatch(bucket, batch);
        result.deleted.push(...part.deleted);
        result.errors.push(...part.errors);
      }
      return result;
    } catch (e) {
      throw toAppError(e, { bucket });
    }
  }

  /** Deletes every object whose key starts with prefix, following the listing to its end. */
  async deletePrefix(bucket: string, prefix: string): Promise<DeleteResult> {
    if (prefix === '') throw badInput('prefix', 'must not be empty');
    try {
      return await this.deleteAll(bucket, prefix, true);
    } catch (e) {
      throw toAppError(e, { bucket });
    }
  }

  /**
   * Server-side copy keeping content type and metadata. CopySource is encoded
   * per key segment. Objects above copyMultipartThreshold (5 GiB) are copied
   * with UploadPartCopy. Returns the HEAD of the copy.
   */
  async copyObject(src: { bucket: string; key: string }, dst: { bucket: string; key: string }): Promise<ObjectHead> {
    if (src.bucket === dst.bucket && src.key === dst.key) {
      throw badInput('key', 'the source and the destination are the same object');
    }
    const source = await this.headObject(src.bucket, src.key);
    if (source === null) {
      throw new AppError('NO_SUCH_KEY', `object "${src.key}" in bucket "${src.bucket}" does not exist`);
    }
    try {
      if (source.size > this.copyMultipartThreshold) {
        await this.copyMultipart(source, dst);
      } else {
        await this.client.send(
          new CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: copySource(src.bucket, src.key) }),
        );
      }
    } catch (e) {
      throw toAppError(e, s3ErrorName(e) === 'NoSuchKey' ? src : dst);
    }
    return this.headStored(dst.bucket, dst.key);
  }

  /** A presigned GET URL for the public endpoint. */
  async presignGet(
    bucket: string,
    key: string,
    expiresIn: number,
    opts: { responseContentDisposition?: string } = {},
  ): Promise<PresignResult> {
    checkExpiresIn(expiresIn);
    try {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentDisposition: opts.responseContentDisposition,
      });
      const url = await getSignedUrl(this.presignClient, command, { expiresIn });
      return { url, expiresAt: new Date(Date.now() + expiresIn * 1000), headers: [] };
    } catch (e) {
      throw toAppError(e, { bucket, key });
    }
  }

  /**
   * A presigned PUT URL. With contentType, Content-Type is signed and must be
   * sent as given (it is listed in `headers`). No checksum is baked in.
   */
  async presignPut(
    bucket: string,
    key: string,
    expiresIn: number,
    opts: { contentType?: string } = {},
  ): Promise<PresignResult> {
    checkExpiresIn(expiresIn);
    try {
      const command = new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: opts.contentType });
      const url = await getSignedUrl(this.presignClient, command, {
        expiresIn,
        signableHeaders: opts.contentType !== undefined ? new Set(['content-type']) : undefined,
      });
      const headers = opts.contentType !== undefined ? [{ key: 'Content-Type', value: opts.contentType }] : [];
      return { url, expiresAt: new Date(Date.now() + expiresIn * 1000), headers };
    } catch (e) {
      throw toAppError(e, { bucket, key });
    }
  }

  async createMultipartUpload(
    bucket: string,
    key: string,
    opts: { contentType?: string; metadata?: Record<string, string> } = {},
  ): Promise<MultipartUploadInfo> {
    try {
      const r = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: opts.contentType,
          Metadata: opts.metadata,
        }),
      );
      if (!r.UploadId) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no upload id');
      return { bucket, key, uploadId: r.UploadId };
    } catch (e) {
      throw toAppError(e, { bucket, key });
    }
  }

  /**
   * Uploads one part from a stream of exactly contentLength bytes (a longer
   * or shorter body fails with BAD_USER_INPUT and the request is aborted).
   * The body is streamed, not buffered, and not retried.
   */
  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<PartInfo> {
    const ctx = { bucket, key, uploadId };
    const badPart = partNumberError(partNumber);
    if (badPart) {
      body.destroy();
      throw badPart;
    }
    const controller = new AbortController();
    let stoppedBy: AppError | undefined;
    let sourceError: unknown;
    let received = 0;
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
    try {
      const r = await this.client.send(
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
      throw await this.multipartError(e, ctx);
    }
  }

  /** A presigned PUT URL for one part, for clients that send parts straight to the store. */
  async presignUploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    expiresIn: number,
  ): Promise<PresignResult> {
    checkExpiresIn(expiresIn);
    const badPart = partNumberError(partNumber);
    if (badPart) throw badPart;
    try {
      const command = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber });
      const url = await getSignedUrl(this.presignClient, command, { expiresIn });
      return { url, expiresAt: new Date(Date.now() + expiresIn * 1000), headers: [] };
    } catch (e) {
      throw toAppError(e, { bucket, key, uploadId });
    }
  }

  /** Every part uploaded so far, following PartNumberMarker to the end. */
  /** Throws NO_SUCH_UPLOAD unless the upload is open: one ListParts of one part, whatever its size. */
  async assertUploadOpen(bucket: string, key: string, uploadId: string): Promise<void> {
    try {
      await this.probeUpload(bucket, key, uploadId);
    } catch (e) {
      throw await this.multipartError(e, { bucket, key, uploadId });
    }
  }

  private probeUpload(bucket: string, key: string, uploadId: string) {
    return this.client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    try {
      const parts: PartInfo[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await this.client.send(
          new ListPartsCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MaxParts: this.listPageSize,
            PartNumberMarker: marker,
          }),
        );
        for (const p of page.Parts ?? []) {
          if (p.PartNumber === undefined) continue;
          parts.push({
            partNumber: p.PartNumber,
            etag: stripEtag(p.ETag),
            size: p.Size ?? 0,
            lastModified: p.LastModified,
          });
        }
        if (!page.IsTruncated) return parts;
        marker = advance(marker, page.NextPartNumberMarker, 'part listing');
      }
    } catch (e) {
      throw await this.multipartError(e, { bucket, key, uploadId });
    }
  }

  /** Open multipart uploads, following KeyMarker/UploadIdMarker to the end. */
  async listMultipartUploads(bucket: string, opts: { prefix?: string } = {}): Promise<MultipartUploadInfo[]> {
    try {
      const uploads: MultipartUploadInfo[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: opts.prefix || undefined,
            MaxUploads: this.listPageSize,
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
    } catch (e) {
      throw toAppError(e, { bucket });
    }
  }

  /**
   * Completes a multipart upload with the given parts, or with every uploaded
   * part (ListParts) when none are given. Returns the HEAD of the object.
   */
  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts?: { partNumber: number; etag: string }[],
  ): Promise<ObjectHead> {
    const ctx = { bucket, key, uploadId };
    const chosen = parts ?? (await this.listParts(bucket, key, uploadId));
    if (chosen.length === 0) throw new AppError('INVALID_PART', 'a multipart upload needs at least one part to complete');
    try {
      await this.client.send(
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
      );
    } catch (e) {
      throw await this.multipartError(e, ctx);
    }
    return this.headStored(bucket, key);
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      throw await this.multipartError(e, { bucket, key, uploadId });
    }
  }

  /** HEAD of an object this store just wrote. */
  private async headStored(bucket: string, key: string): Promise<ObjectHead> {
    const head = await this.headObject(bucket, key);
    if (head === null) {
      throw new AppError('INTERNAL_SERVER_ERROR', 'the object store does not show the object it just stored');
    }
    return head;
  }

  private async deleteBatch(bucket: string, objects: ObjectIdentifier[]): Promise<DeleteResult> {
    if (objects.length === 0) return { deleted: [], errors: [] };
    const r = await this.client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: false } }),
    );
    return {
      deleted: (r.Deleted ?? []).flatMap((d) => (d.Key !== undefined ? [d.Key] : [])),
      errors: (r.Errors ?? []).map((err) => ({
        key: err.Key ?? '',
        code: err.Code ?? 'InternalError',
        message: err.Message ?? 'the object could not be deleted',
      })),
    };
  }

  /**
   * Lists every object under prefix page by page and deletes each page with
   * one DeleteObjects. Keys are collected only when `collect` is set.
   */
  private async deleteAll(bucket: string, prefix: string, collect: boolean): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], errors: [] };
    let token: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix || undefined,
          MaxKeys: this.listPageSize,
          ContinuationToken: token,
        }),
      );
      const batch = (page.Contents ?? []).flatMap((o) => (o.Key !== undefined ? [{ Key: o.Key }] : []));
      const part = await this.deleteBatch(bucket, batch);
      if (collect) result.deleted.push(...part.deleted);
      result.errors.push(...part.errors);
      if (!page.IsTruncated) return result;
      token = advance(token, page.NextContinuationToken, 'object listing');
    }
  }

  /**
   * Deletes every object version and delete marker. Each round lists from the
   * start again instead of following NextKeyMarker/NextVersionIdMarker: those
   * name versions this loop just deleted, which some stores (moto) answer with
   * an empty, final page. It ends when nothing is listed, or when a round
   * deletes nothing (DeleteBucket then reports the bucket not empty).
   */
  private async deleteAllVersions(bucket: string): Promise<void> {
    for (;;) {
      const page = await this.client.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: this.listPageSize }));
      const batch: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].flatMap((v) =>
        v.Key !== undefined ? [{ Key: v.Key, VersionId: v.VersionId }] : [],
      );
      if (batch.length === 0) return;
      let deleted = 0;
      for (let i = 0; i < batch.length; i += MAX_DELETE_BATCH) {
        deleted += (await this.deleteBatch(bucket, batch.slice(i, i + MAX_DELETE_BATCH))).deleted.length;
      }
      if (deleted === 0) return;
    }
  }

  /** Copies an object above the CopyObject limit with UploadPartCopy, queueSize parts at a time. */
  private async copyMultipart(source: ObjectHead, dst: { bucket: string; key: string }): Promise<void> {
    const partSize = Math.max(this.copyPartSize, Math.ceil(source.size / MAX_PARTS));
    const partCount = Math.ceil(source.size / partSize);
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        ContentType: source.contentType,
        Metadata: source.metadata,
        CacheControl: source.cacheControl,
        ContentDisposition: source.contentDisposition,
        ContentEncoding: source.contentEncoding,
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no upload id');
    const from = copySource(source.bucket, source.key);
    const parts: { PartNumber: number; ETag: string }[] = [];
    const copyPart = async (partNumber: number) => {
      const start = (partNumber - 1) * partSize;
      const end = Math.min(start + partSize, source.size) - 1;
      const r = await this.client.send(
        new UploadPartCopyCommand({
          Bucket: dst.bucket,
          Key: dst.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: from,
          CopySourceRange: `bytes=${start}-${end}`,
          CopySourceIfMatch: quoteEtag(source.etag),
        }),
      );
      parts.push({ PartNumber: partNumber, ETag: r.CopyPartResult?.ETag ?? '' });
    };
    try {
      const partNumbers = Array.from({ length: partCount }, (_, i) => i + 1);
      await forEachLimited(partNumbers, this.queueSize, copyPart);
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: dst.bucket,
          Key: dst.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      // Leave no parts behind; the copy's own failure is the error to report.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId: uploadId }))
        .catch(() => undefined);
      throw e;
    }
  }

  /**
   * Maps a failed multipart call. Some stores (moto) answer an unknown upload
   * id with a 5xx instead of NoSuchUpload: then ListParts tells whether the
   * upload still exists.
   */
  private async multipartError(err: unknown, ctx: ErrorContext & { bucket: string; key: string; uploadId: string }) {
    const status = httpStatusOf(err);
    if (status !== undefined && status >= 500 && s3ErrorName(err) !== 'NoSuchUpload') {
      try {
        await this.probeUpload(ctx.bucket, ctx.key, ctx.uploadId);
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
}
