import type { Readable } from 'node:stream';
import type { FileUpload } from 'graphql-upload-minimal';
import type { Context } from '../context.js';
import { headKey, type BucketInfo } from '../loaders.js';
import { AppError, badInput } from '../../core/errors.js';
import type { DeleteResult, ObjectHead, ObjectSummary, PresignResult } from '../../s3/store.js';
import * as v from '../../core/validation.js';
import * as rules from '../../core/upload-rules.js';
import { fileError } from './file.js';

/** An object as a field's parent: a listing entry, or a HEAD result with content type and metadata. */
export type ObjectValue = ObjectSummary | ObjectHead;

type PresignMethod = 'GET' | 'PUT';

export interface MetadataEntry {
  key: string;
  value: string;
}

export interface PresignedUrl extends PresignResult {
  method: PresignMethod;
}

const isHead = (object: ObjectValue): object is ObjectHead => 'metadata' in object;

/** HEAD through this request's loader: null when the key does not exist. */
export function headObject(bucket: string, key: string, ctx: Context): Promise<ObjectHead | null> {
  return ctx.loaders.head.load(headKey(bucket, key));
}

/** The full HEAD of a listed object, loaded (once per request and key) only when a field needs it. */
async function headOf(object: ObjectValue, ctx: Context): Promise<ObjectHead | null> {
  return isHead(object) ? object : headObject(object.bucket, object.key, ctx);
}

/**
 * Query.object: one object, null when the key does not exist. The store
 * throws NO_SUCH_BUCKET when the bucket does not exist.
 */
export async function getObject(args: { bucket: string; key: string }, ctx: Context): Promise<ObjectHead | null> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  return headObject(bucket, key, ctx);
}

/** Object.id: unique across buckets. */
export const objectIdOf = (object: ObjectValue): string => v.objectId(object.bucket, object.key);

/** Object.bucket: the object exists, so its bucket does; nothing is fetched unless its fields need it. */
export const objectBucket = (object: ObjectValue): BucketInfo => ({ name: object.bucket });

/** Object.contentType. */
export async function objectContentType(object: ObjectValue, ctx: Context): Promise<string | null> {
  return (await headOf(object, ctx))?.contentType ?? null;
}

/** Object.metadata, by key. */
export async function objectMetadata(object: ObjectValue, ctx: Context): Promise<MetadataEntry[]> {
  const head = await headOf(object, ctx);
  return Object.entries(head?.metadata ?? {})
    .map(([key, value]) => ({ key, value }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Object.downloadPath: where this server streams the object (`/objects/{bucket}/{key}`). */
export function objectDownloadPath(object: ObjectValue): string {
  const key = object.key.split('/').map(encodeURIComponent).join('/');
  return `/objects/${encodeURIComponent(object.bucket)}/${key}`;
}

/** Object.url: a presigned GET. */
export async function objectUrl(
  object: ObjectValue,
  args: { expiresIn?: number | null | undefined },
  ctx: Context,
): Promise<string> {
  const seconds = v.expiresIn(args.expiresIn, 'expiresIn');
  return (await ctx.store.presignGet(object.bucket, object.key, seconds)).url;
}

export interface UploadObjectArgs {
  bucket: string;
  key: string;
  file: Promise<FileUpload>;
  contentType?: string | null | undefined;
  metadata?: readonly MetadataEntry[] | null | undefined;
}

const uploadTooLarge = (maxBytes: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `file: larger than the upload limit of ${maxBytes} bytes`, { argument: 'file' });

/**
 * Mutation.uploadObject: validates every argument, waits for the file part,
 * takes its stream once and streams it into the store (in parts when large),
 * at most `maxUploadBytes` or the bucket's upload rule's maxBytes, whichever
 * is smaller. The `contentType` argument wins over the type the client gave
 * the file part; the bucket's rule must allow the type before any byte is
 * sent to the store.
 */
export async function uploadObject(args: UploadObjectArgs, ctx: Context): Promise<ObjectHead> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  const contentType = v.contentType(args.contentType, 'contentType');
  const metadata = v.metadata(args.metadata, 'metadata');
  const rule = ctx.config.uploadRules.ruleFor(bucket);
  if (contentType !== undefined) rules.checkContentType(rule, contentType, 'contentType');

  const serverLimit = ctx.config.maxUploadBytes;
  const own = { maxBytes: serverLimit, tooLarge: () => uploadTooLarge(serverLimit) };
  const limit = rules.sizeLimit(rule, own, 'file');
  let file: FileUpload;
  let body: Readable;
  try {
    file = await args.file;
    body = file.createReadStream();
  } catch (err) {
    throw fileError(err, limit.tooLarge);
  }

  // The stream's own failure explains a failed upload better than the store's view of it.
  let bodyError: unknown;
  const abort = new AbortController();
  body.once('error', (err) => {
    bodyError = err;
    abort.abort(err);
  });
  // A bare busboy stream stops at its size limit and then ends as if it were whole.
  body.once('limit', () => body.destroy(limit.tooLarge()));

  const claimed = file.mimetype && v.isContentType(file.mimetype) ? file.mimetype : undefined;
  try {
    if (contentType === undefined) rules.checkContentType(rule, claimed, 'file');
    const head = await ctx.store.uploadStream(bucket, key, body, {
      contentType: contentType ?? claimed,
      metadata,
      maxBytes: limit.maxBytes,
      signal: abort.signal,
    });
    ctx.loaders.objectChanged(bucket, key, head);
    return head;
  } catch (err) {
    const failure = fileError(bodyError ?? err, limit.tooLarge);
    // Past a rule's maxBytes (the smaller limit) the store's counter stops the stream: the rule is what refused.
    const ruleRefused = limit !== own && failure instanceof AppError && failure.code === 'PAYLOAD_TOO_LARGE';
    throw ruleRefused ? limit.tooLarge() : failure;
  } finally {
    if (!body.destroyed && !body.readableEnded) body.destroy();
  }
}

/** Mutation.deleteObject: deleting a missing key succeeds, as in S3. */
export async function deleteObject(args: { bucket: string; key: string }, ctx: Context): Promise<boolean> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  await ctx.store.deleteObject(bucket, key);
  ctx.loaders.objectChanged(bucket, key, null);
  return true;
}

/** Mutation.deleteObjects: 1..1000 keys in one request. */
export async function deleteObjects(
  args: { bucket: string; keys: readonly string[] },
  ctx: Context,
): Promise<DeleteResult> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const keys = v.deletionKeys(args.keys, 'keys');
  const result = await ctx.store.deleteObjects(bucket, keys);
  ctx.loaders.objectsChanged();
  return result;
}

/** Mutation.deletePrefix: every key under a non-empty prefix, however many. */
export async function deletePrefix(args: { bucket: string; prefix: string }, ctx: Context): Promise<DeleteResult> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const prefix = v.deletionPrefix(args.prefix, 'prefix');
  const result = await ctx.store.deletePrefix(bucket, prefix);
  ctx.loaders.objectsChanged();
  return result;
}

export interface CopyObjectArgs {
  sourceBucket: string;
  sourceKey: string;
  bucket: string;
  key: string;
}

/**
 * Mutation.copyObject: a server-side copy (reads the source, writes the
 * target). The copy keeps the source's size and content type, so the
 * source's HEAD is held to the destination bucket's upload rule before
 * anything is written.
 */
export async function copyObject(args: CopyObjectArgs, ctx: Context): Promise<ObjectHead> {
  const sourceBucket = v.bucketName(args.sourceBucket, 'sourceBucket');
  const sourceKey = v.objectKey(args.sourceKey, 'sourceKey');
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  const rule = ctx.config.uploadRules.ruleFor(bucket);
  const obeysRule = (source: ObjectHead) => {
    rules.checkSize(rule, source.size, 'sourceKey');
    rules.checkContentType(rule, source.contentType, 'sourceKey');
  };
  const head = await ctx.store.copyObject({ bucket: sourceBucket, key: sourceKey }, { bucket, key }, obeysRule);
  ctx.loaders.objectChanged(bucket, key, head);
  return head;
}

export interface PresignArgs {
  bucket: string;
  key: string;
  method?: PresignMethod | null | undefined;
  expiresIn?: number | null | undefined;
  contentType?: string | null | undefined;
}

/**
 * Mutation.presign: a GET (read) or PUT (write) URL straight to the store.
 * A PUT URL cannot bound what is sent with it, so a bucket whose upload rule
 * has maxBytes gets none (presignPost can bound it); with content types,
 * the PUT's Content-Type is signed and must be one the rule allows.
 */
export async function presign(args: PresignArgs, ctx: Context): Promise<PresignedUrl> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  const method = args.method ?? 'GET';
  const seconds = v.expiresIn(args.expiresIn, 'expiresIn');
  const contentType = v.contentType(args.contentType, 'contentType');
  if (method === 'GET' && contentType !== undefined) {
    throw badInput('contentType', 'applies only to PUT (a GET downloads the stored Content-Type)');
  }
  if (method === 'PUT') {
    const rule = ctx.config.uploadRules.ruleFor(bucket);
    if (rule?.maxBytes !== null && rule?.maxBytes !== undefined) {
      throw new AppError(
        'BAD_USER_INPUT',
        `method: a presigned PUT cannot limit its size, and the upload rule of this bucket allows at most ${rule.maxBytes} bytes; use presignPost, whose policy holds the limit`,
        { argument: 'method', rule },
      );
    }
    rules.checkContentType(rule, contentType, 'contentType');
  }
  const signed =
    method === 'GET'
      ? await ctx.store.presignGet(bucket, key, seconds)
      : await ctx.store.presignPut(bucket, key, seconds, { contentType });
  return { ...signed, method };
}
