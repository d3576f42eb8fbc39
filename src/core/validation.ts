import { badInput } from './errors.js';
import {
  CORS_METHODS,
  hasOneWildcardAtMost,
  MAX_CORS_CONFIG_BYTES,
  MAX_CORS_RULES,
  MAX_DELETE_KEYS,
  MAX_KEY_BYTES,
  MAX_LIST_KEYS as MAX_PAGE_SIZE,
  MAX_METADATA_BYTES,
  MAX_PART_NUMBER,
  MAX_PRESIGN_EXPIRES_SECONDS as MAX_EXPIRES_IN,
  bucketNameProblem,
  hasLoneSurrogate,
} from './s3-rules.js';

/**
 * Argument rules of the GraphQL API. Each check is a pure function that
 * either returns the (normalised) value or throws BAD_USER_INPUT naming the
 * argument, so a request that breaks a rule never reaches the store.
 */

/** A page of a listing when `first` is not given. */
export const DEFAULT_PAGE_SIZE = 100;
/** A presigned URL's life when `expiresIn` is not given, in seconds. */
export const DEFAULT_EXPIRES_IN = 3600;

const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8');

/** A bucket name by S3's naming rules. */
export function bucketName(name: string, argument = 'name'): string {
  const problem = bucketNameProblem(name);
  if (problem) throw badInput(argument, problem);
  return name;
}

function wellFormed(text: string, argument: string): void {
  if (hasLoneSurrogate(text)) throw badInput(argument, 'must be valid Unicode (no lone surrogates)');
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
  if (value === undefined)
    throw badInput(argument, 'must not be empty (use deleteBucket with force to empty a bucket)');
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
  for (const [i, key] of keys.entries()) objectKey(key, `${argument}[${i}]`);
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
      throw badInput(
        `${argument}[${i}].key`,
        "must be a non-empty HTTP header token (letters, digits and !#$%&'*+-.^_`|~)",
      );
    }
    if (!HEADER_VALUE.test(value)) {
      throw badInput(`${argument}[${i}].value`, 'must be printable US-ASCII text (S3 stores metadata as HTTP headers)');
    }
    const name = key.toLowerCase();
    if (Object.hasOwn(result, name))
      throw badInput(`${argument}[${i}].key`, `"${name}" is given twice (keys are case-insensitive)`);
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

// ---- ids ----

/** A stable id of an object, unique across buckets: base64url of bucket, NUL, key. */
export const objectId = (bucket: string, key: string) =>
  Buffer.from(`${bucket}\u0000${key}`, 'utf8').toString('base64url');

/** A stable id of a multipart upload: base64url of bucket, NUL, key, NUL, upload id. */
export const multipartUploadId = (bucket: string, key: string, uploadId: string) =>
  Buffer.from(`${bucket}\u0000${key}\u0000${uploadId}`, 'utf8').toString('base64url');

// ---- multipart ----

const MAX_UPLOAD_ID_LENGTH = 1024;
const MAX_ETAG_LENGTH = 1024;
/** The longest age abortStale accepts, in seconds: the largest GraphQL Int (about 68 years). */
const MAX_AGE_SECONDS = 2 ** 31 - 1;

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
    throw badInput(
      argument,
      `must be the upload id the store gave: at most ${MAX_UPLOAD_ID_LENGTH} visible US-ASCII characters`,
    );
  }
  return value;
}

/** A part's ETag, with or without its surrounding quotes; returned without them. */
function etag(value: string, argument = 'etag'): string {
  const bare = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (bare.length === 0 || bare.length > MAX_ETAG_LENGTH || !ETAG_CHARS.test(bare)) {
    throw badInput(
      argument,
      "must be the part's ETag as the store returned it (e.g. from the ETag header of the part's PUT)",
    );
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
  if (parts.length === 0)
    throw badInput(argument, 'must name at least one part (or leave parts out to complete with every uploaded part)');
  if (parts.length > MAX_PART_NUMBER)
    throw badInput(argument, `must name at most ${MAX_PART_NUMBER} parts (got ${parts.length})`);
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

// ---- bucket CORS ----

/** Most entries in one list of a CORS rule (origins, methods, headers). */
const MAX_CORS_ENTRIES = 100;
/** Longest origin or header name in a CORS rule. */
const MAX_CORS_ENTRY_LENGTH = 256;
/** Longest MaxAgeSeconds: a day (browsers cap it lower still: Chromium at 2 hours). */
const MAX_CORS_MAX_AGE = 86_400;
/** The XML around one entry at most (`<AllowedOrigin></AllowedOrigin>`) and around one rule, for the document's size. */
const CORS_ENTRY_MARKUP = 31;
const CORS_RULE_MARKUP = 80;

/** `*`, or an origin as browsers send it (scheme://host[:port], no path), where `*` may stand for part of the host. */
const CORS_ORIGIN = /^(?:\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9._~%*[\]:-]+)$/;

/** A rule of setBucketCors, as given. */
interface CorsRuleArg {
  allowedOrigins: readonly string[];
  allowedMethods: readonly string[];
  allowedHeaders?: readonly string[] | null | undefined;
  exposeHeaders?: readonly string[] | null | undefined;
  maxAgeSeconds?: number | null | undefined;
}

/** A checked CORS rule, in the shape the store layer sends. */
export interface CorsRuleValue {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

function corsEntries(
  values: readonly string[],
  argument: string,
  check: (value: string) => boolean,
  what: string,
  required: boolean,
): string[] {
  if (required && values.length === 0) throw badInput(argument, 'must name at least one');
  if (values.length > MAX_CORS_ENTRIES) {
    throw badInput(argument, `must name at most ${MAX_CORS_ENTRIES} (got ${values.length})`);
  }
  values.forEach((value, i) => {
    if (value.length === 0 || value.length > MAX_CORS_ENTRY_LENGTH || !check(value)) {
      throw badInput(`${argument}[${i}]`, `must be ${what}, at most ${MAX_CORS_ENTRY_LENGTH} characters`);
    }
  });
  return [...values];
}

/** The bytes an entry takes in the XML document, escapes included (`&` and `'` are the only token characters escaped). */
const xmlBytes = (value: string) => value.length + 5 * (value.match(/[&']/g)?.length ?? 0) + CORS_ENTRY_MARKUP;

/**
 * The rules of setBucketCors, as S3 takes them: 1..100 rules; each with 1..100
 * origins (`*`, or scheme://host[:port] with at most one `*`), 1..100 methods among
 * GET PUT POST HEAD DELETE, up to 100 allowed headers (header names, at most
 * one `*` each) and exposed headers (header names), and a max age of
 * 0..86400 s; the whole configuration within S3's 64 KiB document.
 */
export function corsRules(rules: readonly CorsRuleArg[], argument = 'rules'): CorsRuleValue[] {
  if (rules.length === 0) {
    throw badInput(argument, 'must hold at least one rule (deleteBucketCors removes them all)');
  }
  if (rules.length > MAX_CORS_RULES) {
    throw badInput(argument, `must hold at most ${MAX_CORS_RULES} rules (got ${rules.length})`);
  }
  let bytes = 0;
  const checked = rules.map((rule, i) => {
    const at = `${argument}[${i}]`;
    const value: CorsRuleValue = {
      allowedOrigins: corsEntries(
        rule.allowedOrigins,
        `${at}.allowedOrigins`,
        (o) => CORS_ORIGIN.test(o) && hasOneWildcardAtMost(o),
        '"*" or an origin as browsers send it (scheme://host[:port], no path), with at most one "*"',
        true,
      ),
      allowedMethods: corsEntries(
        rule.allowedMethods,
        `${at}.allowedMethods`,
        (m) => (CORS_METHODS as readonly string[]).includes(m),
        `one of ${CORS_METHODS.join(', ')}`,
        true,
      ),
      allowedHeaders: corsEntries(
        rule.allowedHeaders ?? [],
        `${at}.allowedHeaders`,
        (h) => TOKEN.test(h) && hasOneWildcardAtMost(h),
        'a header name (or a pattern with one "*", "*" alone for every header)',
        false,
      ),
      exposeHeaders: corsEntries(
        rule.exposeHeaders ?? [],
        `${at}.exposeHeaders`,
        (h) => TOKEN.test(h) && !h.includes('*'),
        'a header name',
        false,
      ),
    };
    const maxAge = rule.maxAgeSeconds;
    if (maxAge !== null && maxAge !== undefined) {
      if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > MAX_CORS_MAX_AGE) {
        throw badInput(`${at}.maxAgeSeconds`, `must be between 0 and ${MAX_CORS_MAX_AGE} seconds (got ${maxAge})`);
      }
      value.maxAgeSeconds = maxAge;
    }
    bytes += CORS_RULE_MARKUP;
    for (const list of [value.allowedOrigins, value.allowedMethods, value.allowedHeaders, value.exposeHeaders]) {
      for (const entry of list) bytes += xmlBytes(entry);
    }
    return value;
  });
  if (bytes > MAX_CORS_CONFIG_BYTES) {
    throw badInput(
      argument,
      `must fit in S3's ${MAX_CORS_CONFIG_BYTES / 1024} KiB CORS configuration (about ${bytes} bytes)`,
    );
  }
  return checked;
}
