/**
 * Where the store keeps things under its data dir, and which names may
 * become paths:
 *
 *   .lock                                   pid of the process that owns the dir
 *   .credentials.json                       the generated key pair (credentials.ts)
 *   tmp/                                    files being written; emptied at start
 *   buckets/<bucket>/bucket.json            creation date, location, CORS rules
 *   buckets/<bucket>/objects/<h2>/<h64>     one file per object
 *   buckets/<bucket>/uploads/<id>/upload.json   one dir per open multipart upload
 *   buckets/<bucket>/uploads/<id>/<nnnnn>   one file per uploaded part
 *
 * Bucket names are validated against S3's rules before they become a path, so
 * they cannot traverse. An object's file name is the sha256 of its key (h64,
 * h2 being its first two hex digits), so no key, whatever it holds (`../`,
 * absolute paths, NUL, 1024 bytes), can name a file outside the bucket.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { bucketNameProblem, hasLoneSurrogate, MAX_KEY_BYTES } from '../../core/s3-rules.js';
import { errors, S3Error } from '../errors.js';

/** Throws unless `key` can name an object: 1..1024 UTF-8 bytes of well-formed text. */
export function validateKey(key: string): void {
  if (key.length === 0) throw errors.invalidArgument('The object key must not be empty.', 'key', '');
  if (hasLoneSurrogate(key)) throw errors.invalidArgument('The object key is not valid UTF-8.', 'key', '');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
}

/** S3's bucket naming rules for general purpose buckets. */
export function isValidBucketName(name: string): boolean {
  return bucketNameProblem(name) === undefined;
}

/** Upload ids sort in creation order: time in base 36, then randomness. */
export function newUploadId(): string {
  return Date.now().toString(36).padStart(10, '0') + randomBytes(24).toString('base64url');
}

/** What newUploadId makes: only such names in uploads/ are uploads. */
export const UPLOAD_ID = /^[0-9a-z]{10}[A-Za-z0-9_-]{32}$/;
/** Part files are named by their number, zero-padded to five digits. */
export const PART_FILE = /^\d{5}$/;
/** Object files sit in shards named by the first two hex digits of their name. */
export const OBJECT_SHARD = /^[0-9a-f]{2}$/;
export const OBJECT_FILE = /^[0-9a-f]{64}$/;

export class Layout {
  constructor(readonly root: string) {}

  /** A fresh path in tmp/, on the same file system as everything else: renames from it are atomic. */
  tempPath(): string {
    return join(this.root, 'tmp', randomBytes(16).toString('hex'));
  }

  get bucketsDir(): string {
    return join(this.root, 'buckets');
  }

  bucketDir(name: string): string {
    return join(this.bucketsDir, name);
  }

  objectPath(bucketDir: string, key: string): string {
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    return join(bucketDir, 'objects', hash.slice(0, 2), hash);
  }

  uploadDir(bucketDir: string, uploadId: string): string {
    return join(bucketDir, 'uploads', uploadId);
  }

  partPath(bucketDir: string, uploadId: string, partNumber: number): string {
    return join(this.uploadDir(bucketDir, uploadId), String(partNumber).padStart(5, '0'));
  }
}
