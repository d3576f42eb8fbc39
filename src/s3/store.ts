/**
 * The S3 layer: the only code in src/ that sends SDK commands (src/embedded
 * uses the SDK's signer and checksums only, to check what clients send). Resolvers, HTTP routes
 * and the CLI call the `Store` below and get plain data (./types.ts) or an
 * AppError: every store call runs through `call` (./errors.ts), which maps
 * whatever the SDK threw with toAppError.
 *
 * Store is a facade; the calls are in one file per domain, as functions of a
 * StoreContext (the clients and settings, ./shared.ts): buckets.ts,
 * cors.ts (bucket CORS rules), objects.ts (list, head, get, upload), copy.ts,
 * deletion.ts, presign.ts, multipart.ts. client.ts builds the S3 client; spool.ts (part bodies of
 * unknown length) and stale-uploads.ts (abortStale, the CLI) work with Store.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import * as buckets from './buckets.js';
import { copyObject } from './copy.js';
import * as cors from './cors.js';
import * as deletion from './deletion.js';
import * as multipart from './multipart.js';
import * as objects from './objects.js';
import * as presign from './presign.js';
import { storeContext, type StoreContext } from './shared.js';
import type {
  BucketInfo,
  CorsRule,
  DeleteResult,
  GetOptions,
  GetResult,
  MultipartUploadInfo,
  ObjectHead,
  ObjectPage,
  PartInfo,
  PostPolicy,
  PresignedPostResult,
  PresignResult,
  StoreOptions,
  UploadOptions,
} from './types.js';

export type * from './types.js';

/**
 * Every call the server makes to the object store. Resolvers and HTTP routes
 * use only this class; every method either returns plain data or throws an
 * AppError (see ./errors.ts).
 */
export class Store {
  private readonly s3: StoreContext;

  constructor(client: S3Client, presignClient: S3Client, options: StoreOptions) {
    this.s3 = storeContext(client, presignClient, options);
  }

  /**
   * The readiness check: one cheap authenticated call. AccessDenied counts as
   * ready: the store checked the signature before it refused, so it is up and
   * knows the key, which just may not list buckets (an AWS key scoped to some
   * buckets). Throws BACKEND_UNAVAILABLE saying why otherwise; `signal`
   * abandons the call (and its retries).
   */
  ping(signal?: AbortSignal): Promise<void> {
    return buckets.ping(this.s3, signal);
  }

  /** Every bucket, following ContinuationToken to the end. */
  listBuckets(): Promise<BucketInfo[]> {
    return buckets.listBuckets(this.s3);
  }

  /** The bucket (HeadBucket), or null when no bucket has that name. HeadBucket gives no creation date. */
  bucketExists(name: string): Promise<BucketInfo | null> {
    return buckets.bucketExists(this.s3, name);
  }

  /**
   * Creates a bucket. BUCKET_ALREADY_EXISTS when the name is taken, including
   * by this account (AWS us-east-1 and moto answer 200 to re-creating your own bucket).
   */
  createBucket(name: string): Promise<void> {
    return buckets.createBucket(this.s3, name);
  }

  /**
   * Deletes a bucket. With force it first aborts every open multipart upload
   * and deletes every object (and, if the store still finds it not empty,
   * every object version and delete marker).
   */
  deleteBucket(name: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    return deletion.deleteBucket(this.s3, name, force);
  }

  /** The bucket's CORS rules (GetBucketCors); a bucket without rules gives an empty list. */
  getBucketCors(bucket: string): Promise<CorsRule[]> {
    return cors.getBucketCors(this.s3, bucket);
  }

  /** Replaces the bucket's CORS rules (PutBucketCors): one to MAX_CORS_RULES, checked by the caller. */
  putBucketCors(bucket: string, rules: readonly CorsRule[]): Promise<void> {
    return cors.putBucketCors(this.s3, bucket, rules);
  }

  /** Removes the bucket's CORS rules (DeleteBucketCors); a bucket without rules succeeds. */
  deleteBucketCors(bucket: string): Promise<void> {
    return cors.deleteBucketCors(this.s3, bucket);
  }

  /** One page of objects: exactly one ListObjectsV2 call. */
  listObjects(
    bucket: string,
    opts: { prefix?: string; delimiter?: string; maxKeys: number; continuationToken?: string; startAfter?: string },
  ): Promise<ObjectPage> {
    return objects.listObjects(this.s3, bucket, opts);
  }

  /** The object's metadata, or null when the key does not exist; NO_SUCH_BUCKET when the bucket does not. */
  headObject(bucket: string, key: string): Promise<ObjectHead | null> {
    return objects.headObject(this.s3, bucket, key);
  }

  /**
   * Streams an object. Conditional requests give status 304; an unsatisfiable
   * or malformed range gives BAD_USER_INPUT with extensions.httpStatus 416 (and
   * extensions.objectSize when known), a failed If-Match 412.
   */
  getObject(bucket: string, key: string, opts: GetOptions = {}): Promise<GetResult> {
    return objects.getObject(this.s3, bucket, key, opts);
  }

  /**
   * Streams body into an object: one PutObject when it fits in one part, else
   * a multipart upload with `queueSize` parts in flight (part-upload.ts).
   * Memory: at most partSize × (queueSize + 1) bytes of parts, whatever the
   * body's size. Past maxBytes, on abort of
   * `signal` or when body fails, the upload stops and its multipart upload is
   * aborted before this rejects, so nothing is left in the store.
   */
  uploadStream(bucket: string, key: string, body: Readable, opts: UploadOptions): Promise<ObjectHead> {
    return objects.uploadStream(this.s3, bucket, key, body, opts);
  }

  /** Deletes one object; a missing key succeeds, as in S3. */
  deleteObject(bucket: string, key: string): Promise<void> {
    return deletion.deleteObject(this.s3, bucket, key);
  }

  /** Deletes the keys, 1000 per DeleteObjects request; per-key failures come back in `errors`. */
  deleteObjects(bucket: string, keys: string[]): Promise<DeleteResult> {
    return deletion.deleteObjects(this.s3, bucket, keys);
  }

  /** Deletes every object whose key starts with prefix, following the listing to its end. */
  deletePrefix(bucket: string, prefix: string): Promise<DeleteResult> {
    return deletion.deletePrefix(this.s3, bucket, prefix);
  }

  /**
   * Server-side copy keeping content type and metadata. CopySource is encoded
   * per key segment. Objects above copyMultipartThreshold (5 GiB) are copied
   * with UploadPartCopy. Returns the HEAD of the copy. `beforeCopy` sees the
   * source's HEAD before anything is written; what it throws stops the copy.
   */
  copyObject(
    src: { bucket: string; key: string },
    dst: { bucket: string; key: string },
    beforeCopy?: (source: ObjectHead) => void,
  ): Promise<ObjectHead> {
    return copyObject(this.s3, src, dst, beforeCopy);
  }

  /** A presigned GET URL for the public endpoint. */
  presignGet(
    bucket: string,
    key: string,
    expiresIn: number,
    opts: { responseContentDisposition?: string } = {},
  ): Promise<PresignResult> {
    return presign.presignGet(this.s3, bucket, key, expiresIn, opts);
  }

  /**
   * A presigned PUT URL. With contentType, Content-Type is signed and must be
   * sent as given (it is listed in `headers`). No checksum is baked in.
   */
  presignPut(
    bucket: string,
    key: string,
    expiresIn: number,
    opts: { contentType?: string } = {},
  ): Promise<PresignResult> {
    return presign.presignPut(this.s3, bucket, key, expiresIn, opts);
  }

  /**
   * A presigned POST form for a browser upload straight to the store, whose
   * policy bounds the key, the size, the type and the metadata.
   */
  presignPost(policy: PostPolicy): Promise<PresignedPostResult> {
    return presign.presignPost(this.s3, policy);
  }

  createMultipartUpload(
    bucket: string,
    key: string,
    opts: { contentType?: string; metadata?: Record<string, string> } = {},
  ): Promise<MultipartUploadInfo> {
    return multipart.createMultipartUpload(this.s3, bucket, key, opts);
  }

  /**
   * Uploads one part from a stream of exactly contentLength bytes (a longer
   * or shorter body fails with BAD_USER_INPUT and the request is aborted).
   * The body is streamed, not buffered, and not retried.
   */
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<PartInfo> {
    return multipart.uploadPart(this.s3, bucket, key, uploadId, partNumber, body, contentLength);
  }

  /** A presigned PUT URL for one part, for clients that send parts straight to the store. */
  presignUploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    expiresIn: number,
  ): Promise<PresignResult> {
    return presign.presignUploadPart(this.s3, bucket, key, uploadId, partNumber, expiresIn);
  }

  /** Throws NO_SUCH_UPLOAD unless the upload is open: one ListParts of one part, whatever its size. */
  assertUploadOpen(bucket: string, key: string, uploadId: string): Promise<void> {
    return multipart.assertUploadOpen(this.s3, bucket, key, uploadId);
  }

  /** Every part uploaded so far, following PartNumberMarker to the end. */
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return multipart.listParts(this.s3, bucket, key, uploadId);
  }

  /** Open multipart uploads, following KeyMarker/UploadIdMarker to the end. */
  listMultipartUploads(bucket: string, opts: { prefix?: string } = {}): Promise<MultipartUploadInfo[]> {
    return multipart.listMultipartUploads(this.s3, bucket, opts);
  }

  /**
   * Completes a multipart upload with the given parts, or with every uploaded
   * part (ListParts) when none are given. Returns the HEAD of the object.
   */
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts?: { partNumber: number; etag: string }[],
  ): Promise<ObjectHead> {
    return multipart.completeMultipartUpload(this.s3, bucket, key, uploadId, parts);
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return multipart.abortMultipartUpload(this.s3, bucket, key, uploadId);
  }
}
