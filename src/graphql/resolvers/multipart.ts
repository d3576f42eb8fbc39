import type { Readable } from 'node:stream';
import type { FileUpload } from 'graphql-upload-minimal';
import type { Context } from '../context.js';
import type { BucketInfo } from '../loaders.js';
import { AppError, badInput, partTooLarge } from '../../core/errors.js';
import type { MultipartUploadInfo, ObjectHead, PartInfo } from '../../s3/store.js';
import { spool } from '../../s3/spool.js';
import { abortStaleUploads } from '../../s3/stale-uploads.js';
import * as v from '../../core/validation.js';
import * as rules from '../../core/upload-rules.js';
import { fileError } from './file.js';
import type { MetadataEntry, PresignedUrl } from './object.js';

/** A MultipartUpload as the resolvers give it: the store's record of an open upload. */
export type MultipartUploadValue = MultipartUploadInfo;
/** An UploadedPart as the resolvers give it: the store's record of a part. */
export type UploadedPartValue = PartInfo;

/** The parent of the fields of `Mutation.multipart`: the group has no state of its own. */
export type MultipartGroup = Record<string, never>;

/** Mutation.multipart. */
export const multipartGroup = (): MultipartGroup => ({});

/**
 * The largest part `uploadPart` accepts: MAX_PART_BYTES (default 5 GiB, S3's
 * maximum part size), and never more than MAX_UPLOAD_BYTES, the limit of any
 * one file in a multipart request.
 */
const maxPartBytes = (ctx: Context): number => Math.min(ctx.config.maxPartBytes, ctx.config.maxUploadBytes);

// ---- MultipartUpload, UploadedPart ----

/** MultipartUpload.id: unique across buckets, keys and uploads. */
export const uploadIdOf = (upload: MultipartUploadInfo): string =>
  v.multipartUploadId(upload.bucket, upload.key, upload.uploadId);

/** MultipartUpload.bucket. */
export const uploadBucket = (upload: MultipartUploadInfo): BucketInfo => ({ name: upload.bucket });

/** MultipartUpload.parts: every part uploaded so far (ListParts, all pages). */
export async function uploadParts(upload: MultipartUploadInfo, ctx: Context): Promise<PartInfo[]> {
  return ctx.store.listParts(upload.bucket, upload.key, upload.uploadId);
}

/** Bucket.multipartUploads: open uploads (ListMultipartUploads, all pages), in key order. */
export async function bucketUploads(
  bucket: BucketInfo,
  args: { prefix?: string | null | undefined },
  ctx: Context,
): Promise<MultipartUploadInfo[]> {
  const prefix = v.listPrefix(args.prefix, 'prefix');
  return ctx.store.listMultipartUploads(bucket.name, { prefix });
}

// ---- the mutations of the group ----

interface UploadRef {
  bucket: string;
  key: string;
  uploadId: string;
}

/** The bucket, key and upload id arguments, validated. */
function uploadRef(args: UploadRef): UploadRef {
  return {
    bucket: v.bucketName(args.bucket, 'bucket'),
    key: v.objectKey(args.key, 'key'),
    uploadId: v.uploadId(args.uploadId, 'uploadId'),
  };
}

export interface CreateArgs {
  bucket: string;
  key: string;
  contentType?: string | null | undefined;
  metadata?: readonly MetadataEntry[] | null | undefined;
}

/**
 * multipart.create: starts an upload; the object gets the content type and
 * metadata given here, so this is where the bucket's upload rule checks the type.
 */
export async function create(args: CreateArgs, ctx: Context): Promise<MultipartUploadInfo> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const key = v.objectKey(args.key, 'key');
  const contentType = v.contentType(args.contentType, 'contentType');
  const metadata = v.metadata(args.metadata, 'metadata');
  rules.checkContentType(ctx.config.uploadRules.ruleFor(bucket), contentType, 'contentType');
  const upload = await ctx.store.createMultipartUpload(bucket, key, { contentType, metadata });
  ctx.logger.debug({ bucket, key, uploadId: upload.uploadId }, 'multipart upload created');
  return upload;
}

export interface UploadPartArgs extends UploadRef {
  partNumber: number;
  file: Promise<FileUpload>;
  size?: number | null | undefined;
}

/**
 * multipart.uploadPart: streams one part to the store. UploadPart needs the
 * part's length before its first byte, and the multipart request does not
 * carry it, so:
 * - with `size`, the part streams straight through (a file of another
 *   length fails with BAD_USER_INPUT and stores nothing);
 * - without it, the part is spooled first (see `src/s3/spool.ts`: up to 8 MiB
 *   in memory, beyond that in a private temporary file that is deleted when
 *   the call ends, however it ends) and then sent with its length.
 * Either way at most `maxPartBytes(ctx)` bytes, or the bucket's upload
 * rule's maxBytes when smaller: more is PAYLOAD_TOO_LARGE. (The rule binds
 * the whole object; `complete` checks the total of the parts.)
 */
export async function uploadPart(args: UploadPartArgs, ctx: Context): Promise<PartInfo> {
  const { bucket, key, uploadId } = uploadRef(args);
  const partNumber = v.partNumber(args.partNumber, 'partNumber');
  const serverLimit = maxPartBytes(ctx);
  const own = { maxBytes: serverLimit, tooLarge: () => partTooLarge(serverLimit) };
  const limit = rules.sizeLimit(ctx.config.uploadRules.ruleFor(bucket), own, 'file');
  const size = args.size ?? undefined;
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || size < 0)
      throw badInput('size', `must be a whole number of bytes (got ${size})`);
    if (size > limit.maxBytes) throw limit.tooLarge();
  }

  let body: Readable;
  try {
    body = (await args.file).createReadStream();
  } catch (err) {
    throw fileError(err, limit.tooLarge);
  }
  // The stream's own failure (too large, client gone) explains a failed part better than the store's view of it.
  let bodyError: unknown;
  body.once('error', (err) => {
    bodyError ??= err;
  });

  try {
    if (size !== undefined) {
      return await ctx.store.uploadPart(bucket, key, uploadId, partNumber, body, size);
    }
    const spooled = await spool(body, { maxBytes: limit.maxBytes });
    try {
      return await ctx.store.uploadPart(bucket, key, uploadId, partNumber, spooled.open(), spooled.length);
    } finally {
      await spooled.dispose();
    }
  } catch (err) {
    const failure = fileError(bodyError ?? err, limit.tooLarge);
    // Past a rule's maxBytes (the smaller limit) the spool stops the part: the rule is what refused.
    const ruleRefused = limit !== own && failure instanceof AppError && failure.code === 'PAYLOAD_TOO_LARGE';
    throw ruleRefused ? limit.tooLarge() : failure;
  } finally {
    if (!body.destroyed && !body.readableEnded) body.destroy();
  }
}

export interface PresignPartArgs extends UploadRef {
  partNumber: number;
  expiresIn?: number | null | undefined;
}

/**
 * multipart.presignPart: a PUT URL for one part, signed here without asking
 * the store anything (so signing each part just before it is sent is cheap).
 * Given under an upload rule too: a part is no object, and the object only
 * comes to be through `complete`, which holds the parts' total to the rule.
 */
export async function presignPart(args: PresignPartArgs, ctx: Context): Promise<PresignedUrl> {
  const { bucket, key, uploadId } = uploadRef(args);
  const partNumber = v.partNumber(args.partNumber, 'partNumber');
  const seconds = v.expiresIn(args.expiresIn, 'expiresIn');
  const signed = await ctx.store.presignUploadPart(bucket, key, uploadId, partNumber, seconds);
  return { ...signed, method: 'PUT' };
}

export interface CompleteArgs extends UploadRef {
  parts?: readonly { partNumber: number; etag: string }[] | null | undefined;
}

/**
 * multipart.complete: with the client's parts, or without them with every
 * uploaded part (ListParts, all pages). A failed completion creates no
 * object and leaves the upload open, so the client can fix the part list,
 * upload a part again, or abort.
 *
 * Under an upload rule with maxBytes the parts are listed first (every
 * page) and their total held to it: over it, the upload is aborted (so its
 * parts are gone) and PAYLOAD_TOO_LARGE names the rule. The store then
 * completes with exactly the parts measured: a given part whose ETag is not
 * the uploaded one is INVALID_PART here, so no part sent after the listing
 * can slip in.
 */
export async function complete(args: CompleteArgs, ctx: Context): Promise<ObjectHead> {
  const { bucket, key, uploadId } = uploadRef(args);
  let parts = v.completedParts(args.parts, 'parts');
  const rule = ctx.config.uploadRules.ruleFor(bucket);
  if (rule?.maxBytes !== null && rule?.maxBytes !== undefined) {
    parts = await measuredParts({ bucket, key, uploadId }, parts, rule, ctx);
  } else if (parts !== undefined) {
    // Some stores (moto) complete an already completed upload again instead of
    // answering NoSuchUpload; ListParts tells every store's open uploads apart.
    // Without parts the store lists them itself, which checks the same.
    await ctx.store.assertUploadOpen(bucket, key, uploadId);
  }
  const head = await ctx.store.completeMultipartUpload(bucket, key, uploadId, parts);
  ctx.loaders.objectChanged(bucket, key, head);
  ctx.logger.debug({ bucket, key, uploadId, size: head.size }, 'multipart upload completed');
  return head;
}

/**
 * The parts to complete with (the given ones, else every uploaded one), once
 * their total is within the rule's maxBytes; over it the upload is aborted.
 */
async function measuredParts(
  ref: UploadRef,
  given: { partNumber: number; etag: string }[] | undefined,
  rule: rules.UploadRule,
  ctx: Context,
): Promise<{ partNumber: number; etag: string }[]> {
  const uploaded = await ctx.store.listParts(ref.bucket, ref.key, ref.uploadId);
  const byNumber = new Map(uploaded.map((p) => [p.partNumber, p]));
  const chosen = given ?? uploaded;
  let total = 0;
  for (const part of chosen) {
    const stored = byNumber.get(part.partNumber);
    if (stored === undefined || stored.etag !== part.etag) {
      throw new AppError('INVALID_PART', `part ${part.partNumber} with ETag "${part.etag}" was not uploaded`, {
        argument: 'parts',
      });
    }
    total += stored.size;
  }
  if (rule.maxBytes !== null && total > rule.maxBytes) {
    await ctx.store.abortMultipartUpload(ref.bucket, ref.key, ref.uploadId);
    ctx.logger.info({ ...ref, size: total }, 'multipart upload aborted: larger than its upload rule');
    throw rules.ruleTooLarge(rule, 'parts', total);
  }
  return chosen.map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
}

/** multipart.abort: the upload and every part of it are gone afterwards. */
export async function abort(args: UploadRef, ctx: Context): Promise<boolean> {
  const { bucket, key, uploadId } = uploadRef(args);
  await ctx.store.abortMultipartUpload(bucket, key, uploadId);
  ctx.logger.debug({ bucket, key, uploadId }, 'multipart upload aborted');
  return true;
}

export interface AbortStaleArgs {
  bucket?: string | null | undefined;
  olderThanSeconds: number;
  prefix?: string | null | undefined;
  dryRun?: boolean | null | undefined;
}

export interface AbortStaleFailure {
  upload: MultipartUploadInfo;
  code: string;
  message: string;
}

export interface AbortStaleResult {
  cutoff: Date;
  dryRun: boolean;
  aborted: MultipartUploadInfo[];
  failed: AbortStaleFailure[];
}

/**
 * multipart.abortStale: aborts the open uploads initiated more than
 * olderThanSeconds ago, in one bucket or in every bucket the caller may
 * write to.
 */
export async function abortStale(args: AbortStaleArgs, ctx: Context): Promise<AbortStaleResult> {
  const olderThanSeconds = v.ageSeconds(args.olderThanSeconds, 'olderThanSeconds');
  const prefix = v.listPrefix(args.prefix, 'prefix');
  const dryRun = args.dryRun ?? false;
  let buckets: string[];
  const listed = args.bucket === null || args.bucket === undefined;
  if (args.bucket !== null && args.bucket !== undefined) {
    const bucket = v.bucketName(args.bucket, 'bucket');
    buckets = [bucket];
  } else {
    // The field's rule let in only a key that may write to some bucket; those buckets are searched.
    buckets = (await ctx.loaders.allBuckets()).map((b) => b.name).filter((name) => ctx.caller.can(name, 'write'));
  }
  const result = await abortStaleUploads(ctx.store, {
    buckets,
    olderThanSeconds,
    prefix,
    dryRun,
    skipMissingBuckets: listed,
    onAborted: (u) => {
      if (!dryRun)
        ctx.logger.info({ bucket: u.bucket, key: u.key, uploadId: u.uploadId }, 'stale multipart upload aborted');
    },
    onFailed: (u, error) =>
      ctx.logger.warn(
        { bucket: u.bucket, key: u.key, uploadId: u.uploadId, code: error.code },
        'stale multipart upload not aborted',
      ),
  });
  return {
    cutoff: result.cutoff,
    dryRun,
    aborted: result.aborted,
    failed: result.failed.map(({ upload, error }) => ({ upload, code: error.code, message: error.message })),
  };
}
