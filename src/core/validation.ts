import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { AppError, badInput } from './errors.js';

/**
 * Argument rules of the GraphQL API. Each check is a pure function that
 * either returns the (normalised) value or throws BAD_USER_INPUT naming the
 * argument, so a request that breaks a rule never reaches the store.
 */

export const MAX_KEY_BYTES = 1024;
export const MAX_EXPIRES_IN = 604_800;
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
export const DEFAULT_EXPIRES_IN = 3600;
export const MAX_DELETE_KEYS = 1000;
/** S3's limit on user metadata: the UTF-8 bytes of every key and value together. */
export const MAX_METADATA_BYTES = 2048;

const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8');

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const BUCKET_CHARS = /^[a-z0-9.-]+$/;
const BUCKET_EDGES = /^[a-z0-9](?:.*[a-z0-9])?$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** Why `name` is not a valid S3 bucket name, or undefined when it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!BUCKET_CHARS.test(name)) return 'may contain only lower-case letters, digits, dots and hyphens';
  if (!BUCKET_EDGES.test(name)) return 'must start and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  // MinIO, RustFS and the embedded store refuse these (a DNS label cannot start or end with a hyphen).
  if (name.includes('.-') || name.includes('-.')) return 'must not have a hyphen next to a dot';
  if (IPV4.test(name)) return 'must not be formatted as an IP address';
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `must not start with "${prefix}"`;
  const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `must not end with "${suffix}"`;
  return undefined;
}

/** A bucket name by S3's naming rules. */
export function bucketName(name: string, argument = 'name'): string {
  const problem = bucketNameProblem(name);
  if (problem) throw badInput(argument, problem);
  return name;
}

const LONE_SURROGATE = /\p{Cs}/u;

function wellFormed(text: string, argument: string): void {
  if (LONE_SURROGATE.test(text)) throw badInput(argument, 'must be valid Unicode (no lone surrogates)');
}

/** A `.` or `..` segment between slashes (or at either end): what URL paths resolve away. */
const DOT_SEGMENT = /(?:^|\/)\.{1,2}(?:\/|$)/;

/**
 * An object key: 1 to 1024 bytes of UTF-8, with no `.` or `..` path segment
 * (`a/../b`, `./x`, `a/./b`, `..`, `a/..`). A key travels in the URL path of
 * every request to the store and of every presigned URL; a proxy, a store or a
 * browser that normalises the path would act on another key (`a/../b` is
 * `b`), so such keys are refused, as MinIO does. `...` and `.hidden` are
 * ordinary names.
 */
export function objectKey(key: string, argument = 'key'): string {
  wellFormed(key, argument);
  const bytes = utf8Length(key);
  if (bytes === 0) throw badInput(argument, 'must not be empty');
  if (bytes > MAX_KEY_BYTES) throw badInput(argument, `must be at most ${MAX_KEY_BYTES} bytes of UTF-8 (got ${bytes})`);
  if (DOT_SEGMENT.test(key)) {
    throw badInput(argument, 'must not have "." or ".." as a path segment (URL paths resolve them to another key)');
  }
  return key;
}

/**
 * A listing prefix: may be empty (then undefined), at most 1024 bytes. A
 * prefix is matched as a string, not resolved as a path, and travels in the
 * query string, where nothing normalises it: `logs/.` rightly finds
 * `logs/.hidden`, so the key rule on dot segments does not apply.
 */
export function listPrefix(prefix: string | null | undefined, argument = 'prefix'): string | undefined {
  if (prefix === null || prefix === undefined || prefix === '') return undefined;
  wellFormed(prefix, argument);
  const bytes = utf8Length(prefix);
  if (bytes > MAX_KEY_BYTES) throw badInput(argument, `must be at most ${MAX_KEY_BYTES} bytes of UTF-8 (got ${bytes})`);
  return prefix;
}

/** A listing delimiter: empty means none; at most 1024 bytes. */
export function delimiter(value: string | null | undefined, argument = 'delimiter'): string | undefined {
  return listPrefix(value, argument);
}

/** The prefix of deletePrefix: a listing prefix that is never empty, so it cannot empty a bucket by accident. */
export function deletionPrefix(prefix: string, argument = 'prefix'): string {
  const value = listPrefix(prefix, argument);
  if (value === undefined) throw badInput(argument, 'must not be empty (use deleteBucket with force to empty a bucket)');
  return value;
}

/** Presigned-URL lifetime in seconds: 1..604800 (seven days, S3's maximum). */
export function expiresIn(value: number | null | undefined, argument = 'expiresIn'): number {
  const seconds = value ?? DEFAULT_EXPIRES_IN;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_EXPIRES_IN) {
    throw badInput(argument, `must be between 1 and ${MAX_EXPIRES_IN} seconds (got ${seconds})`);
  }
  return seconds;
}

/** Page size: 1..1000 (S3's MaxKeys limit). */
export function pageSize(value: number | null | undefined, argument = 'first'): number {
  const first = value ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(argument, `must be between 1 and ${MAX_PAGE_SIZE} (got ${first})`);
  }
  return first;
}

/** Keys for deleteObjects: 1..1000 of them (S3's DeleteObjects limit), each a valid key. */
export function deletionKeys(keys: readonly string[], argument = 'keys'): string[] {
  if (keys.length === 0) throw badInput(argument, 'must name at least one key');
  if (keys.length > MAX_DELETE_KEYS) {
    throw badInput(argument, `must name at most ${MAX_DELETE_KEYS} keys (got ${keys.length})`);
  }
  keys.forEach((key, i) => objectKey(key, `${argument}[${i}]`));
  return [...keys];
}

// RFC 9110 token characters: the only ones allowed in a header name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible US-ASCII, space and tab: what S3 stores in a header value unchanged.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * User metadata (x-amz-meta-*): keys are HTTP token characters and stored
 * lower-case; values are US-ASCII header text; keys and values together take
 * at most 2 KiB. Returns a plain record, or undefined when none was given.
 */
export function metadata(
  entries: readonly { key: string; value: string }[] | null | undefined,
  argument = 'metadata',
): Record<string, string> | undefined {
  if (entries === null || entries === undefined) return undefined;
  const result: Record<string, string> = {};
  let bytes = 0;
  entries.forEach(({ key, value }, i) => {
    if (!TOKEN.test(key)) {
      throw badInput(`${argument}[${i}].key`, 'must be a non-empty HTTP header token (letters, digits and !#$%&\'*+-.^_`|~)');
    }
    if (!HEADER_VALUE.test(value)) {
      throw badInput(`${argument}[${i}].value`, 'must be printable US-ASCII text (S3 stores metadata as HTTP headers)');
    }
    const name = key.toLowerCase();
    if (Object.hasOwn(result, name)) throw badInput(`${argument}[${i}].key`, `"${name}" is given twice (keys are case-insensitive)`);
    result[name] = value;
    bytes += utf8Length(name) + utf8Length(value);
  });
  if (bytes > MAX_METADATA_BYTES) {
    throw badInput(argument, `keys and values must total at most ${MAX_METADATA_BYTES} bytes (got ${bytes})`);
  }
  return result;
}

const MEDIA_TYPE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\s*;[\t\x20-\x7e]*)?$/;

/** A Content-Type header value such as `text/plain; charset=utf-8`, at most 1024 characters. */
export function contentType(value: string | null | undefined, argument = 'contentType'): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.length > 1024 || !MEDIA_TYPE.test(value)) {
    throw badInput(argument, 'must be a media type such as "text/plain; charset=utf-8"');
  }
  return value;
}

/** True when `value` would pass `contentType` (used for the type a client's file part claims). */
export const isContentType = (value: string) => value.length <= 1024 && MEDIA_TYPE.test(value);

// ---- cursors ----

/** Where a page starts: after a key (StartAfter) or at a continuation token. */
export type PageStart = { startAfter: string } | { continuationToken: string };

/** The listing a cursor belongs to: it is valid for these arguments only. */
export interface CursorScope {
  bucket: string;
  prefix: string | undefined;
  delimiter: string | undefined;
}

/** Bytes of the MAC a cursor carries: HMAC-SHA256 truncated to 128 bits (RFC 2104, section 5). */
const CURSOR_MAC_BYTES = 16;
/** The longest key or continuation token a cursor carries (S3 keys are at most 1024 bytes). */
export const MAX_CURSOR_VALUE_BYTES = 2048;
/** The longest cursor this API returns: base64url of a tag byte, the MAC and the longest value. */
export const MAX_CURSOR_LENGTH = Math.ceil(((1 + CURSOR_MAC_BYTES + MAX_CURSOR_VALUE_BYTES) * 4) / 3);

const KEY_TAG = 0x6b; // 'k': StartAfter
const TOKEN_TAG = 0x74; // 't': ContinuationToken
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Listing cursors: opaque, signed and bound to their listing. A cursor is
 * base64url of a tag byte (`k`: start after a key, `t`: a continuation token
 * of the store), a MAC and the key or token; the MAC covers the bucket,
 * prefix and delimiter too. Signed with a key derived from a secret every
 * replica shares (CURSOR_SECRET, else the store's secret access key) by
 * HKDF-SHA256 with a label of its own, so any replica takes any replica's
 * cursors and the secret itself never keys a MAC a client sees.
 */
export class ListingCursors {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, '', 's3-graphql listing cursor v1', 32));
  }

  /** The cursor of a listed key: a page `after` it starts with the next key. */
  ofKey(scope: CursorScope, key: string): string {
    return this.sign(scope, KEY_TAG, key);
  }

  /** The cursor of a continuation token the store returned for a listing. */
  ofToken(scope: CursorScope, token: string): string {
    return this.sign(scope, TOKEN_TAG, token);
  }

  /**
   * Decodes an `after` cursor. Only a cursor this server (or a replica with
   * the same secret) returned for the same bucket, prefix and delimiter is
   * taken; anything else is BAD_USER_INPUT, so it never reaches the store.
   */
  pageStart(after: string | null | undefined, scope: CursorScope, argument = 'after'): PageStart | undefined {
    if (after === null || after === undefined) return undefined;
    if (after.length > MAX_CURSOR_LENGTH) {
      throw badInput(argument, `is longer than any cursor this API returns (at most ${MAX_CURSOR_LENGTH} characters)`);
    }
    const malformed = () => badInput(argument, 'is not a cursor returned by this API');
    if (!BASE64URL.test(after)) throw malformed();
    const bytes = Buffer.from(after, 'base64url');
    if (bytes.length <= 1 + CURSOR_MAC_BYTES || bytes.toString('base64url') !== after) throw malformed();
    const tag = bytes[0]!;
    const value = bytes.subarray(1 + CURSOR_MAC_BYTES);
    const mac = bytes.subarray(1, 1 + CURSOR_MAC_BYTES);
    if ((tag !== KEY_TAG && tag !== TOKEN_TAG) || !timingSafeEqual(mac, this.mac(scope, tag, value))) {
      throw badInput(argument, 'is not a cursor this API returned for this bucket, prefix and delimiter');
    }
    const text = value.toString('utf8');
    return tag === KEY_TAG ? { startAfter: text } : { continuationToken: text };
  }

  private mac(scope: CursorScope, tag: number, value: Buffer): Buffer {
    return (
      createHmac('sha256', this.key)
        // JSON never holds a raw NUL byte, so the scope cannot run into the tag and value.
        .update(JSON.stringify([scope.bucket, scope.prefix ?? '', scope.delimiter ?? '']))
        .update(Buffer.from([0, tag]))
        .update(value)
        .digest()
        .subarray(0, CURSOR_MAC_BYTES)
    );
  }

  private sign(scope: CursorScope, tag: number, text: string): string {
    const value = Buffer.from(text, 'utf8');
    if (value.length > MAX_CURSOR_VALUE_BYTES) {
      throw new AppError(
        'INTERNAL_SERVER_ERROR',
        `the object store returned a key or continuation token longer than the ${MAX_CURSOR_VALUE_BYTES} bytes a cursor holds`,
      );
    }
    return Buffer.concat([Buffer.from([tag]), this.mac(scope, tag, value), value]).toString('base64url');
  }
}

// ---- ids ----

/** A stable id of an object, unique across buckets: base64url of bucket, NUL, key. */
export const objectId = (bucket: string, key: string) => Buffer.from(`${bucket}\u0000${key}`, 'utf8').toString('base64url');

/** A stable id of a multipart upload: base64url of bucket, NUL, key, NUL, upload id. */
export const multipartUploadId = (bucket: string, key: string, uploadId: string) =>
  Buffer.from(`${bucket}\u0000${key}\u0000${uploadId}`, 'utf8').toString('base64url');

// ---- multipart ----

/** S3's limits: part numbers 1..10000, so at most 10000 parts. */
export const MAX_PART_NUMBER = 10_000;
export const MAX_UPLOAD_ID_LENGTH = 1024;
export const MAX_ETAG_LENGTH = 1024;
/** The longest age abortStale accepts, in seconds: the largest GraphQL Int (about 68 years). */
export const MAX_AGE_SECONDS = 2 ** 31 - 1;

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const ETAG_CHARS = /^[\x21\x23-\x7e]+$/;

/** A part number: 1..10000. */
export function partNumber(value: number, argument = 'partNumber'): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_PART_NUMBER) {
    throw badInput(argument, `must be between 1 and ${MAX_PART_NUMBER} (got ${value})`);
  }
  return value;
}

/** An upload id as the store gave it: 1..1024 visible US-ASCII characters. */
export function uploadId(value: string, argument = 'uploadId'): string {
  if (value.length === 0) throw badInput(argument, 'must not be empty');
  if (value.length > MAX_UPLOAD_ID_LENGTH || !VISIBLE_ASCII.test(value)) {
    throw badInput(argument, `must be the upload id the store gave: at most ${MAX_UPLOAD_ID_LENGTH} visible US-ASCII characters`);
  }
  return value;
}

/** A part's ETag, with or without its surrounding quotes; returned without them. */
export function etag(value: string, argument = 'etag'): string {
  const bare = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (bare.length === 0 || bare.length > MAX_ETAG_LENGTH || !ETAG_CHARS.test(bare)) {
    throw badInput(argument, "must be the part's ETag as the store returned it (e.g. from the ETag header of the part's PUT)");
  }
  return bare;
}

/**
 * The parts a completion names: undefined when none were given (the server
 * lists them), else 1..10000 parts, each part number once, in ascending order.
 */
export function completedParts(
  parts: readonly { partNumber: number; etag: string }[] | null | undefined,
  argument = 'parts',
): { partNumber: number; etag: string }[] | undefined {
  if (parts === null || parts === undefined) return undefined;
  if (parts.length === 0) throw badInput(argument, 'must name at least one part (or leave parts out to complete with every uploaded part)');
  if (parts.length > MAX_PART_NUMBER) throw badInput(argument, `must name at most ${MAX_PART_NUMBER} parts (got ${parts.length})`);
  const seen = new Set<number>();
  const result = parts.map((p, i) => {
    const n = partNumber(p.partNumber, `${argument}[${i}].partNumber`);
    if (seen.has(n)) throw badInput(`${argument}[${i}].partNumber`, `part ${n} is named twice`);
    seen.add(n);
    return { partNumber: n, etag: etag(p.etag, `${argument}[${i}].etag`) };
  });
  return result.sort((a, b) => a.partNumber - b.partNumber);
}

/** An age in whole seconds: 0..MAX_AGE_SECONDS. */
export function ageSeconds(value: number, argument = 'olderThanSeconds'): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_AGE_SECONDS) {
    throw badInput(argument, `must be a whole number of seconds between 0 and ${MAX_AGE_SECONDS} (got ${value})`);
  }
  return value;
}
