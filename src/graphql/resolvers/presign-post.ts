import type { Context } from '../context.js';
import { badInput } from '../../core/errors.js';
import { FILENAME_VARIABLE, MAX_KEY_BYTES, MAX_OBJECT_SIZE } from '../../core/s3-rules.js';
import * as v from '../../core/validation.js';
import { checkContentType, checkContentTypePrefix, checkSize, type UploadRule } from '../../core/upload-rules.js';
import type { PostPolicy, PresignedPostResult } from '../../s3/store.js';
import type { MetadataEntry } from './object.js';

export interface PresignPostArgs {
  bucket: string;
  key?: string | null | undefined;
  keyPrefix?: string | null | undefined;
  maxBytes: number;
  contentType?: string | null | undefined;
  contentTypePrefix?: string | null | undefined;
  metadata?: readonly MetadataEntry[] | null | undefined;
  expiresIn?: number | null | undefined;
}

export interface PresignedPost extends PresignedPostResult {
  maxBytes: number;
}

/**
 * The smallest file a form may store: an empty file part is what a browser
 * form sends when no file was chosen, so it is refused (EntityTooSmall)
 * rather than stored as an empty object.
 */
export const POST_MIN_BYTES = 1;

/**
 * What the form answers once the file is stored: 201 with S3's PostResponse
 * XML (Location, Bucket, Key, ETag), so that a page learns the key a prefix
 * upload got without reading a header that CORS must expose.
 */
export const POST_SUCCESS_STATUS = 201;

/**
 * The largest `maxBytes` a form may allow: MAX_UPLOAD_BYTES, never more
 * than one PUT may store (5 GiB, S3's limit for POST Object too), and never
 * more than the bucket's upload rule (PAYLOAD_TOO_LARGE with
 * `extensions.rule`). Every bound on the size of a presigned POST goes here.
 */
function postMaxBytes(value: number, rule: UploadRule | undefined, ctx: Context): number {
  const limit = Math.min(ctx.config.maxUploadBytes, MAX_OBJECT_SIZE);
  if (!Number.isSafeInteger(value) || value < POST_MIN_BYTES || value > limit) {
    throw badInput('maxBytes', `must be a whole number of bytes from ${POST_MIN_BYTES} to ${limit} (got ${value})`);
  }
  checkSize(rule, value, 'maxBytes');
  return value;
}

function noFilename(value: string, argument: string): string {
  if (value.includes(FILENAME_VARIABLE)) {
    throw badInput(argument, `must not contain ${FILENAME_VARIABLE} (the store replaces it with the file's name)`);
  }
  return value;
}

/** The key, or the key prefix: exactly one of them. */
function keyOf(args: PresignPostArgs): { key: string } | { keyPrefix: string } {
  const hasKey = args.key !== null && args.key !== undefined;
  const hasPrefix = args.keyPrefix !== null && args.keyPrefix !== undefined;
  if (hasKey === hasPrefix) throw badInput('key', 'give exactly one of key and keyPrefix');
  if (hasKey) return { key: noFilename(v.objectKey(args.key!, 'key'), 'key') };
  const prefix = v.listPrefix(args.keyPrefix, 'keyPrefix');
  if (prefix === undefined) {
    throw badInput(
      'keyPrefix',
      'must not be empty (a form that may overwrite any key of the bucket); give key instead',
    );
  }
  if (Buffer.byteLength(prefix, 'utf8') >= MAX_KEY_BYTES) {
    throw badInput('keyPrefix', `must leave room for a file name in a key of at most ${MAX_KEY_BYTES} bytes`);
  }
  return { keyPrefix: noFilename(prefix, 'keyPrefix') };
}

// A media type's start: `image/`, `image`, `text/plain`, `application/vnd.`.
const TYPE_PREFIX = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\/[!#$%&'*+\-.^_`|~0-9A-Za-z]*)?$/;

/** The type condition, within what the bucket's upload rule allows. */
function contentTypeOf(
  args: PresignPostArgs,
  rule: UploadRule | undefined,
): Pick<PostPolicy, 'contentType' | 'contentTypePrefix'> {
  const exact = v.contentType(args.contentType, 'contentType');
  const prefix = args.contentTypePrefix ?? undefined;
  if (prefix === undefined) {
    checkContentType(rule, exact, 'contentType');
    return { contentType: exact };
  }
  if (exact !== undefined) throw badInput('contentType', 'give at most one of contentType and contentTypePrefix');
  if (prefix.includes('*'))
    throw badInput('contentTypePrefix', 'is a prefix, not a pattern: "image/" allows any image type');
  if (prefix.length > 255 || !TYPE_PREFIX.test(prefix)) {
    throw badInput('contentTypePrefix', 'must be the start of a media type, such as "image/"');
  }
  checkContentTypePrefix(rule, prefix, 'contentTypePrefix');
  return { contentTypePrefix: prefix };
}

/**
 * Mutation.presignPost: validates every argument, then signs a POST policy
 * (nothing is sent to the store). The policy holds the file to
 * [POST_MIN_BYTES, maxBytes] bytes.
 */
export async function presignPost(args: PresignPostArgs, ctx: Context): Promise<PresignedPost> {
  const bucket = v.bucketName(args.bucket, 'bucket');
  const target = keyOf(args);
  const rule = ctx.config.uploadRules.ruleFor(bucket);
  const maxBytes = postMaxBytes(args.maxBytes, rule, ctx);
  const types = contentTypeOf(args, rule);
  const metadata = v.metadata(args.metadata, 'metadata');
  const expiresIn = v.expiresIn(args.expiresIn, 'expiresIn');
  const signed = await ctx.store.presignPost({
    ...target,
    bucket,
    minBytes: POST_MIN_BYTES,
    maxBytes,
    ...types,
    metadata,
    successStatus: POST_SUCCESS_STATUS,
    expiresIn,
  });
  return { ...signed, maxBytes };
}
