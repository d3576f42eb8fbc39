/**
 * S3's own limits and naming rules, in one place: the API's argument checks
 * (`validation.ts`), the store layer, the embedded store and the schema's
 * descriptions all read them from here, so a value accepted by the API is
 * one every store accepts.
 */

/** Longest object key, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
/** Largest object one PutObject (or copy) may write: 5 GiB. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 3;
/** Largest part of a multipart upload: 5 GiB. */
export const MAX_PART_SIZE = 5 * 1024 ** 3;
/** Smallest part of a multipart upload, the last one excepted: 5 MiB. */
export const MIN_PART_SIZE = 5 * 1024 ** 2;
/** Part numbers run 1..10000, so an upload has at most 10000 parts. */
export const MAX_PART_NUMBER = 10_000;
/** User metadata: the UTF-8 bytes of every key and value together. */
export const MAX_METADATA_BYTES = 2048;
/** Longest life of a SigV4 presigned URL: one week, in seconds. */
export const MAX_PRESIGN_EXPIRES_SECONDS = 604_800;
/** Most entries one listing page (objects, uploads, parts) holds. */
export const MAX_LIST_KEYS = 1000;
/** In a POST form's `key` field, the store puts the uploaded file's name in its place. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's own variable, not a template
export const FILENAME_VARIABLE = '${filename}';
/** Most keys one DeleteObjects request names. */
export const MAX_DELETE_KEYS = 1000;

const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `text` holds a lone UTF-16 surrogate, which no UTF-8 key or value can carry. */
export const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text);

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

/** Most buckets one ListBuckets page holds (max-buckets). */
export const MAX_LIST_BUCKETS = 10_000;
/** Most rules one bucket CORS configuration holds. */
export const MAX_CORS_RULES = 100;
/** Largest bucket CORS configuration document (PutBucketCors), in bytes. */
export const MAX_CORS_CONFIG_BYTES = 64 * 1024;
/** The methods a bucket CORS rule may allow. */
export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;

/** Whether a CORS origin or header pattern is acceptable to S3: at most one `*` wildcard. */
export const hasOneWildcardAtMost = (pattern: string): boolean => pattern.split('*').length <= 2;
