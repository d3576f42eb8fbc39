import type { LeanReads } from './lean-reads.js';
import type { Readable } from 'node:stream';

/** What the store's methods take and return: plain data, no SDK types (store.ts re-exports them). */

export interface BucketInfo {
  name: string;
  /** Absent where the store gives none (HeadBucket never does). */
  createdAt?: Date;
}

/** One bucket CORS rule, as S3 keeps it. */
export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

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

/** What a presigned POST form allows; exactly one of key and keyPrefix. */
export type PostPolicy = ({ key: string } | { keyPrefix: string }) & {
  bucket: string;
  /** The content-length-range the store holds the file to, in bytes. */
  minBytes: number;
  maxBytes: number;
  contentType?: string | undefined;
  contentTypePrefix?: string | undefined;
  /** User metadata, names lower-case without x-amz-meta-. */
  metadata?: Record<string, string> | undefined;
  /** The success_action_status the form sends: the store's answer to a stored file. */
  successStatus: 200 | 201 | 204;
  expiresIn: number;
};

export interface PresignedPostResult {
  /** Where the form is sent (POST). */
  url: string;
  /** Form fields to send before the file, in this order. */
  fields: { key: string; value: string }[];
  /** When the policy expires. */
  expiresAt: Date;
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
  /** Part size of uploadStream's multipart uploads (at least 5 MiB). */
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
  /** The lean ListObjectsV2 and HeadObject (./lean-reads.ts); without them every call goes through the SDK. */
  lean?: LeanReads;
}
