import { createHash, randomBytes, type Hash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';

/**
 * The embedded store's data on disk. Nothing here knows about HTTP.
 *
 * Layout under the data dir:
 *
 *   .lock                                   pid of the process that owns the dir
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
 *
 * An object file (and a part file) is the object's bytes followed by a
 * trailer: its metadata as JSON (including the real key), the JSON's length
 * (u32 BE) and an 8-byte magic. Data and metadata therefore live in one inode:
 * every write goes to a new file in tmp/ (same file system), is fsynced and
 * then renamed over the old one, so a reader sees either the whole old object
 * or the whole new one, metadata included; a reader that already opened the
 * old file keeps reading it after an overwrite; and a crash mid-write leaves
 * the old object plus a stale temp file, which the next start removes.
 *
 * Listing uses a per-bucket index held in memory: every key with its size,
 * ETag and modification time, sorted in UTF-8 byte (code point) order. It is
 * built from the trailers the first time a bucket is listed (or deleted) and
 * kept up to date by every write and delete afterwards, which is why one
 * process owns a data dir (the lock file). Memory bound: roughly 160 bytes
 * plus the key's length (twice that for keys outside Latin-1) per object,
 * so about 200 MB for a million objects with 40-byte keys.
 *
 * Bytes always stream. Per request: a write holds at most 1 MiB (the file
 * sink's high-water mark) plus what its source buffers (the HTTP request's
 * 1 MiB high-water mark and the body decoder's); a GET holds two 1 MiB
 * buffers it reuses (OpenedObject.writeTo); a copy or multipart assembly
 * reads 1 MiB chunks into the same file sink.
 */

export const MAX_KEY_BYTES = 1024;
export const MAX_OBJECT_SIZE = 5 * 1024 ** 3;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MIN_PART_SIZE = 5 * 1024 ** 2;
export const MAX_PART_NUMBER = 10_000;
export const MAX_USER_METADATA_BYTES = 2048;
const IO_CHUNK = 1024 * 1024;
const SYNC_EVERY = 16 * 1024 * 1024;
const INDEX_CHUNK = 512;
const SCAN_CONCURRENCY = 32;
const TRAILER_MAGIC = Buffer.from('S3EMBTR1', 'latin1');
const TRAILER_FIXED = 4 + TRAILER_MAGIC.length;
const TRAILER_PROBE = 4096;
const held = new Set<string>();

/** An error answered to S3 clients with this code and status. */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Extra elements of the error document (BucketName, Key, UploadId, ...). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export const errors = {
  noSuchBucket: (bucket: string) =>
    new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      404,
      { UploadId: uploadId },
    ),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Error(
      'InvalidArgument',
      message,
      400,
      name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
    ),
  invalidRequest: (message: string) => new S3Error('InvalidRequest', message, 400),
  malformedXml: () =>
    new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
      400,
    ),
  preconditionFailed: (condition: string) =>
    new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
      Condition: condition,
    }),
  entityTooLarge: (max: number) =>
    new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.', 400, {
      MaxSizeAllowed: String(max),
    }),
  internal: () => new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500),
};

/* ------------------------------------------------------------------ keys -- */

/**
 * Compares two keys in UTF-8 byte order, which is code point order. JavaScript's
 * `<` compares UTF-16 code units, which puts U+E000..U+FFFF after astral
 * characters; this fixes that up at the first difference.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws unless `key` can name an object: 1..1024 UTF-8 bytes of well-formed text. */
export function validateKey(key: string): void {
  if (key.length === 0) throw errors.invalidArgument('The object key must not be empty.', 'key', '');
  if (LONE_SURROGATE.test(key)) throw errors.invalidArgument('The object key is not valid UTF-8.', 'key', '');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', 400, {
      MaxSizeAllowed: String(MAX_KEY_BYTES),
    });
  }
}

/** S3's bucket naming rules for general purpose buckets. */
export function isValidBucketName(name: string): boolean {
  if (name.length < 3 || name.length > 63) return false;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return false;
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return false;
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return false;
  return !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name);
}

/* -------------------------------------------------------------- metadata -- */

/** What a client sets on an object besides its bytes. */
export interface ObjectHeaders {
  contentType: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** User metadata: names lower-cased, without the `x-amz-meta-` prefix. */
  metadata: Record<string, string>;
}

export interface ObjectMeta extends ObjectHeaders {
  key: string;
  size: number;
  /** Hex MD5, or `<hex>-<parts>` for a multipart object; without quotes. */
  etag: string;
  /** Milliseconds since the epoch. */
  lastModified: number;
  /** Full-object checksums the client sent and the store verified: header name (x-amz-checksum-*) to base64. */
  checksums?: Record<string, string>;
  /** Multipart objects: the size of each part, in order (GetObject ?partNumber). */
  partSizes?: number[];
}

/** One key in the listing index. */
export interface IndexEntry {
  key: string;
  size: number;
  etag: string;
  lastModified: number;
}

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface BucketInfo {
  name: string;
  creationDate: Date;
  locationConstraint?: string;
}

export interface UploadInfo {
  uploadId: string;
  key: string;
  initiated: number;
  headers: ObjectHeaders;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: number;
}

interface BucketFile {
  creationDate: number;
  locationConstraint?: string;
  cors?: CorsRule[];
}

/*
 * Shape checks for what the store reads back from its own files (trailers,
 * bucket.json, upload.json): a file that fails one is reported and skipped.
 */
type Json = Record<string, unknown>;

function invalid(what: string): never {
  throw new Error(`invalid ${what}`);
}

function asObject(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(what);
  return value as Json;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isString);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function checkHeaders(o: Json, what: string): ObjectHeaders {
  if (!isString(o.contentType) || !isStringRecord(o.metadata)) invalid(what);
  for (const name of ['contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires']) {
    if (o[name] !== undefined && !isString(o[name])) invalid(what);
  }
  return o as unknown as ObjectHeaders;
}

function checkObjectTrailer(value: unknown): ObjectMeta {
  const o = asObject(value, 'object trailer');
  checkHeaders(o, 'object trailer');
  const ok =
    isString(o.key) &&
    isCount(o.size) &&
    isString(o.etag) &&
    typeof o.lastModified === 'number' &&
    (o.checksums === undefined || isStringRecord(o.checksums)) &&
    (o.partSizes === undefined || (Array.isArray(o.partSizes) && o.partSizes.every(isCount)));
  if (!ok) invalid('object trailer');
  return o as unknown as ObjectMeta;
}

function checkPartTrailer(value: unknown): PartInfo {
  const o = asObject(value, 'part trailer');
  const ok =
    isCount(o.partNumber) && (o.partNumber as number) > 0 && isCount(o.size) && isString(o.etag) && typeof o.lastModified === 'number';
  if (!ok) invalid('part trailer');
  return o as unknown as PartInfo;
}

function checkCorsRule(value: unknown): CorsRule {
  const o = asObject(value, 'CORS rule');
  const ok =
    isStringArray(o.allowedOrigins) &&
    isStringArray(o.allowedMethods) &&
    isStringArray(o.allowedHeaders) &&
    isStringArray(o.exposeHeaders) &&
    (o.id === undefined || isString(o.id)) &&
    (o.maxAgeSeconds === undefined || isCount(o.maxAgeSeconds));
  if (!ok) invalid('CORS rule');
  return o as unknown as CorsRule;
}

function checkBucketFile(value: unknown): BucketFile {
  const o = asObject(value, 'bucket.json');
  const ok =
    typeof o.creationDate === 'number' &&
    (o.locationConstraint === undefined || isString(o.locationConstraint)) &&
    (o.cors === undefined || Array.isArray(o.cors));
  if (!ok) invalid('bucket.json');
  if (Array.isArray(o.cors)) o.cors.forEach(checkCorsRule);
  return o as unknown as BucketFile;
}

function checkUploadFile(value: unknown): UploadInfo {
  const o = asObject(value, 'upload.json');
  if (!isString(o.uploadId) || !isString(o.key) || typeof o.initiated !== 'number') invalid('upload.json');
  checkHeaders(asObject(o.headers, 'upload.json'), 'upload.json');
  return o as unknown as UploadInfo;
}

/** Sum of user metadata names and values in bytes, as S3 counts it against its 2 KB limit. */
export function userMetadataBytes(metadata: Record<string, string>): number {
  let total = 0;
  for (const [name, value] of Object.entries(metadata)) total += Buffer.byteLength(name) + Buffer.byteLength(value);
  return total;
}

/* ----------------------------------------------------------------- index -- */

interface Cursor {
  c: number;
  i: number;
}

/**
 * The keys of one bucket in code point order: a list of sorted chunks of at
 * most 2 × 512 entries, so an insert or delete moves at most a chunk plus the
 * chunk list, and a lookup is two binary searches.
 */
export class KeyIndex {
  private chunks: IndexEntry[][] = [];
  private count = 0;

  constructor(entries: IndexEntry[] = []) {
    const sorted = [...entries].sort((a, b) => compareKeys(a.key, b.key));
    for (let i = 0; i < sorted.length; i += INDEX_CHUNK) this.chunks.push(sorted.slice(i, i + INDEX_CHUNK));
    this.count = sorted.length;
  }

  get size(): number {
    return this.count;
  }

  at(cursor: Cursor): IndexEntry | undefined {
    return this.chunks[cursor.c]?.[cursor.i];
  }

  next(cursor: Cursor): Cursor {
    const chunk = this.chunks[cursor.c];
    if (chunk && cursor.i + 1 < chunk.length) return { c: cursor.c, i: cursor.i + 1 };
    return { c: cursor.c + 1, i: 0 };
  }

  /** The first entry whose key makes `before` false; `before` must be monotone (true, ..., true, false, ...). */
  partitionPoint(before: (key: string) => boolean): Cursor {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (before(chunk[chunk.length - 1]!.key)) lo = mid + 1;
      else hi = mid;
    }
    const chunk = this.chunks[lo];
    if (!chunk) return { c: lo, i: 0 };
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (before(chunk[mid]!.key)) a = mid + 1;
      else b = mid;
    }
    return { c: lo, i: a };
  }

  /** First entry with key >= `key`. */
  lowerBound(key: string): Cursor {
    return this.partitionPoint((k) => compareKeys(k, key) < 0);
  }

  /** First entry with key > `key`. */
  upperBound(key: string): Cursor {
    return this.partitionPoint((k) => compareKeys(k, key) <= 0);
  }

  /** First entry that neither sorts before `prefix` nor starts with it. */
  pastPrefix(prefix: string): Cursor {
    return this.partitionPoint((k) => k.startsWith(prefix) || compareKeys(k, prefix) < 0);
  }

  get(key: string): IndexEntry | undefined {
    const entry = this.at(this.lowerBound(key));
    return entry?.key === key ? entry : undefined;
  }

  set(entry: IndexEntry): void {
    const cursor = this.lowerBound(entry.key);
    const chunk = this.chunks[cursor.c];
    if (!chunk) {
      const last = this.chunks[this.chunks.length - 1];
      if (last) last.push(entry);
      else this.chunks.push([entry]);
      this.count++;
      this.splitIfFull(Math.max(0, this.chunks.length - 1));
      return;
    }
    if (chunk[cursor.i]?.key === entry.key) {
      chunk[cursor.i] = entry;
      return;
    }
    chunk.splice(cursor.i, 0, entry);
    this.count++;
    this.splitIfFull(cursor.c);
  }

  delete(key: string): boolean {
    const cursor = this.lowerBound(key);
    const chunk = this.chunks[cursor.c];
    if (chunk?.[cursor.i]?.key !== key) return false;
    chunk.splice(cursor.i, 1);
    if (chunk.length === 0) this.chunks.splice(cursor.c, 1);
    this.count--;
    return true;
  }

  private splitIfFull(c: number): void {
    const chunk = this.chunks[c]!;
    if (chunk.length >= 2 * INDEX_CHUNK) this.chunks.splice(c, 1, chunk.slice(0, INDEX_CHUNK), chunk.slice(INDEX_CHUNK));
  }
}

export interface ListQuery {
  prefix: string;
  delimiter: string;
  /** List what sorts after this (a marker, start-after or decoded continuation token). */
  after?: string;
  maxKeys: number;
}

export type ListItem = { type: 'object'; entry: IndexEntry } | { type: 'prefix'; prefix: string };

export interface ListPage {
  items: ListItem[];
  truncated: boolean;
}

/**
 * One page of a listing, as S3 computes it: keys under `prefix`, those with
 * `delimiter` after the prefix rolled up into common prefixes, each common
 * prefix counting as one item. When `after` is itself a common prefix (the
 * last item of the previous page), everything under it is skipped.
 */
export function listIndex(index: KeyIndex, query: ListQuery): ListPage {
  const { prefix, delimiter, after, maxKeys } = query;
  if (maxKeys <= 0) return { items: [], truncated: false };
  let cursor = index.lowerBound(prefix);
  if (after !== undefined && compareKeys(after, prefix) >= 0) {
    const isGroup =
      delimiter !== '' &&
      after.startsWith(prefix) &&
      after.endsWith(delimiter) &&
      after.indexOf(delimiter, prefix.length) === after.length - delimiter.length;
    cursor = isGroup ? index.pastPrefix(after) : index.upperBound(after);
  }
  const items: ListItem[] = [];
  for (let entry = index.at(cursor); entry?.key.startsWith(prefix); entry = index.at(cursor)) {
    if (items.length === maxKeys) return { items, truncated: true };
    const at = delimiter === '' ? -1 : entry.key.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const common = entry.key.slice(0, at + delimiter.length);
      items.push({ type: 'prefix', prefix: common });
      cursor = index.pastPrefix(common);
    } else {
      items.push({ type: 'object', entry });
      cursor = index.next(cursor);
    }
  }
  return { items, truncated: false };
}

/* ------------------------------------------------------------ primitives -- */

/** Runs tasks one after another. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

async function readFully(fh: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await fh.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error('unexpected end of file');
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending, at);
    if (bytesWritten === 0) throw new Error('write made no progress');
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buf of pending) {
      if (skip >= buf.length) {
        skip -= buf.length;
      } else {
        rest.push(skip > 0 ? buf.subarray(skip) : buf);
        skip = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Writes a stream into an open file from offset 0, counting and (optionally)
 * MD5-hashing on the way. Chunks that arrive while a write is in flight are
 * written together (writev), up to the 1 MiB high-water mark. Every
 * SYNC_EVERY bytes it starts an fdatasync in the background, so dirty pages
 * reach the disk while the body is still arriving and the final fsync only
 * has the tail left to flush.
 */
class FileSink extends Writable {
  size = 0;
  private readonly hash: Hash | undefined;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: Error | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly maxSize: number,
    md5: boolean,
  ) {
    super({ highWaterMark: IO_CHUNK });
    this.hash = md5 ? createHash('md5') : undefined;
  }

  digest(): Buffer | undefined {
    return this.hash?.digest();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer | string }>, callback: (error?: Error | null) => void): void {
    const buffers: Buffer[] = [];
    let length = 0;
    for (const { chunk } of chunks) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      length += buffer.length;
      this.hash?.update(buffer);
      buffers.push(buffer);
    }
    if (this.size + length > this.maxSize) {
      callback(errors.entityTooLarge(this.maxSize));
      return;
    }
    if (this.syncError) {
      callback(this.syncError);
      return;
    }
    writeFully(this.fh, buffers, this.size).then(() => {
      this.size += length;
      this.unsynced += length;
      if (this.unsynced >= SYNC_EVERY && !this.syncing) {
        this.unsynced = 0;
        this.syncing = this.fh.datasync().then(
          () => {
            this.syncing = undefined;
          },
          (err: Error) => {
            this.syncError = err;
            this.syncing = undefined;
          },
        );
      }
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.resolve(this.syncing).then(() => callback(this.syncError), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    Promise.resolve(this.syncing).then(() => callback(error), () => callback(error));
  }
}

interface Sources {
  source: AsyncIterable<Buffer | string> | Readable;
  maxSize: number;
  md5: boolean;
}

/** Streams `source` into `fh` from offset 0; resolves with the size (and MD5) once all of it is written. */
async function streamToFile(fh: FileHandle, { source, maxSize, md5 }: Sources): Promise<{ size: number; md5?: Buffer }> {
  const sink = new FileSink(fh, maxSize, md5);
  await pipeline(source, sink);
  const digest = sink.digest();
  return digest ? { size: sink.size, md5: digest } : { size: sink.size };
}

function encodeTrailer(meta: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([json, length, TRAILER_MAGIC]);
}

/** Reads the trailer of an object or part file: its JSON and the size of the data before it. */
async function readTrailer(fh: FileHandle): Promise<{ json: unknown; dataSize: number }> {
  const { size } = await fh.stat();
  if (size < TRAILER_FIXED) throw new Error('file too short for a trailer');
  const probe = Buffer.allocUnsafe(Math.min(size, TRAILER_PROBE));
  await readFully(fh, probe, size - probe.length);
  if (!probe.subarray(probe.length - TRAILER_MAGIC.length).equals(TRAILER_MAGIC)) throw new Error('bad trailer magic');
  const jsonLength = probe.readUInt32BE(probe.length - TRAILER_FIXED);
  const dataSize = size - TRAILER_FIXED - jsonLength;
  if (dataSize < 0) throw new Error('bad trailer length');
  let json: Buffer;
  if (jsonLength + TRAILER_FIXED <= probe.length) {
    json = probe.subarray(probe.length - TRAILER_FIXED - jsonLength, probe.length - TRAILER_FIXED);
  } else {
    json = Buffer.allocUnsafe(jsonLength);
    await readFully(fh, json, dataSize);
  }
  return { json: JSON.parse(json.toString('utf8')), dataSize };
}

async function readObjectTrailer(fh: FileHandle): Promise<ObjectMeta> {
  const { json, dataSize } = await readTrailer(fh);
  const meta = checkObjectTrailer(json);
  if (meta.size !== dataSize) throw new Error('trailer size does not match the data');
  return meta;
}

async function readPartTrailer(fh: FileHandle): Promise<PartInfo> {
  const { json, dataSize } = await readTrailer(fh);
  const part = checkPartTrailer(json);
  if (part.size !== dataSize) throw new Error('trailer size does not match the data');
  return part;
}

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function partFileName(partNumber: number): string {
  return String(partNumber).padStart(5, '0');
}

/** Upload ids sort in creation order: time in base 36, then randomness. */
function newUploadId(): string {
  return Date.now().toString(36).padStart(10, '0') + randomBytes(24).toString('base64url');
}

const UPLOAD_ID = /^[0-9a-z]{10}[A-Za-z0-9_-]{32}$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/* ----------------------------------------------------------------- store -- */

interface Bucket {
  name: string;
  dir: string;
  file: BucketFile;
  mutex: Mutex;
  /** Built lazily, under the mutex; afterwards updated by every commit. */
  index?: KeyIndex;
  uploads: Map<string, Upload>;
  deleted: boolean;
}

interface Upload extends UploadInfo {
  /** Set while a CompleteMultipartUpload runs. */
  completion?: Promise<unknown>;
}

export interface WriteConditions {
  /** `*` or an ETag: the write only succeeds if no object / an object with another ETag exists. */
  ifNoneMatch?: string;
  /** The write only succeeds if the current object has this ETag. */
  ifMatch?: string;
}

export interface WriteOptions {
  /** Expected MD5 from Content-MD5; a mismatch is BadDigest. */
  contentMd5?: Buffer;
  /** Declared length: a body that ends short is IncompleteBody. */
  expectedSize?: number;
  conditions?: WriteConditions;
  /** Verified checksums of the body, read once it has ended (kept and returned on GET). */
  checksums?: () => Record<string, string>;
}

export interface CopySource {
  bucket: string;
  key: string;
  /** Inclusive byte range of the source (UploadPartCopy). */
  range?: { start: number; end: number };
  /** Called with the source's metadata before any byte is copied; throws to refuse. */
  check?: (meta: ObjectMeta) => void;
}

/**
 * Writes `text` to the new file `tmp` (created with `mode`), fsyncs it and
 * renames it to `path`: a reader sees the old file or the whole new one, and
 * `tmp` is gone either way.
 */
export async function writeFileAtomic(tmp: string, path: string, text: string, mode: number): Promise<void> {
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** An object opened for reading: the metadata and bytes of the version that was current at open. */
export class OpenedObject {
  private owned = true;

  constructor(
    private readonly fh: FileHandle,
    readonly meta: ObjectMeta,
  ) {}

  /** Streams the inclusive range (empty when end < start); the stream owns the file from now on. */
  stream(start: number, end: number): Readable {
    if (end < start) {
      const empty = Readable.from([]);
      empty.once('close', () => void this.close());
      return empty;
    }
    this.owned = false;
    return this.fh.createReadStream({ start, end, highWaterMark: IO_CHUNK, autoClose: true });
  }

  /**
   * Writes the inclusive range to `out` and ends it, reading into two reused
   * 1 MiB buffers: a buffer is refilled only once `out` has handed its
   * previous contents to the OS (the write callback), so a reader holds 2 MiB
   * whatever the object's size and allocates nothing per chunk. `out` must
   * be done with a chunk when it calls back, as sockets and HTTP responses
   * are (they call back once the OS has the bytes). Closes the file. Rejects
   * with ERR_STREAM_PREMATURE_CLOSE when `out` closes early.
   */
  async writeTo(out: Writable, start: number, end: number): Promise<void> {
    this.owned = false;
    let onClose: (() => void) | undefined;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(Object.assign(new Error('the reader went away'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      out.once('close', onClose);
    });
    closed.catch(() => undefined);
    try {
      const buffers = [Buffer.allocUnsafeSlow(IO_CHUNK), Buffer.allocUnsafeSlow(IO_CHUNK)];
      const writing: Array<Promise<void> | undefined> = [undefined, undefined];
      let position = start;
      for (let turn = 0; position <= end; turn++) {
        const slot = turn & 1;
        if (writing[slot]) await Promise.race([writing[slot], closed]);
        const buffer = buffers[slot]!;
        const { bytesRead } = await this.fh.read(buffer, 0, Math.min(buffer.length, end - position + 1), position);
        if (bytesRead === 0) throw new Error('object file is shorter than its trailer says');
        position += bytesRead;
        const written = new Promise<void>((resolve, reject) => {
          out.write(buffer.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve()));
        });
        // When the reader goes away, both pending writes fail but only one is awaited: the other must not go unhandled.
        written.catch(() => undefined);
        writing[slot] = written;
      }
      await Promise.race([Promise.all(writing), closed]);
      await Promise.race([new Promise<void>((resolve) => out.end(resolve)), closed]);
    } finally {
      out.off('close', onClose!);
      await this.fh.close();
    }
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    this.owned = false;
    await this.fh.close();
  }
}

export interface ListUploadsQuery {
  prefix: string;
  delimiter: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  truncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface ListPartsPage {
  upload: UploadInfo;
  parts: PartInfo[];
  truncated: boolean;
  nextPartNumberMarker?: number;
}

export interface StorageOptions {
  /** How the data dir is shown in error messages (as the operator wrote it). */
  displayDir?: string;
  logger?: Logger;
}

/** A start-up failure, with one line of explanation and a code. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export class Storage {
  private readonly buckets = new Map<string, Bucket>();
  private readonly registry = new Mutex();
  private closed = false;

  private constructor(
    readonly dataDir: string,
    private readonly lockPath: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Opens (creating if needed) the data dir, takes its lock, clears stale temp files, loads the buckets. */
  static async open(dataDir: string, options: StorageOptions = {}): Promise<Storage> {
    const dir = resolve(dataDir);
    const shown = options.displayDir ?? dataDir;
    const notWritable = (err: unknown) =>
      new StartupError(
        `DATA_DIR ${shown} is not writable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        (err as NodeJS.ErrnoException).code ?? 'EIO',
      );
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      if (isErrno(err, 'EEXIST')) throw new StartupError(`DATA_DIR ${shown} is not a directory`, 'ENOTDIR');
      if (isErrno(err, 'ENOTDIR')) throw new StartupError(`DATA_DIR ${shown} cannot be created: a parent is not a directory`, 'ENOTDIR');
      throw notWritable(err);
    }
    const lockPath = join(dir, '.lock');
    try {
      await acquireLock(dir, lockPath, shown);
    } catch (err) {
      if (err instanceof StartupError) throw err;
      throw notWritable(err);
    }
    const storage = new Storage(dir, lockPath, options.logger);
    try {
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      await mkdir(join(dir, 'tmp'));
      await mkdir(join(dir, 'buckets'), { recursive: true });
      await storage.loadBuckets();
    } catch (err) {
      await storage.close();
      throw notWritable(err);
    }
    return storage;
  }

  /** Releases the lock. Pending operations should have finished. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    held.delete(this.dataDir);
    await rm(this.lockPath, { force: true });
  }

  private async loadBuckets(): Promise<void> {
    const root = join(this.dataDir, 'buckets');
    for (const name of await readdir(root)) {
      if (!isValidBucketName(name)) continue;
      const dir = join(root, name);
      let file: BucketFile;
      try {
        file = checkBucketFile(JSON.parse(await readFile(join(dir, 'bucket.json'), 'utf8')));
      } catch (err) {
        this.logger?.warn({ bucket: name, err: String(err) }, 'embedded store: skipping a bucket dir without a valid bucket.json');
        continue;
      }
      const bucket: Bucket = { name, dir, file, mutex: new Mutex(), uploads: new Map(), deleted: false };
      await this.loadUploads(bucket);
      this.buckets.set(name, bucket);
    }
  }

  private async loadUploads(bucket: Bucket): Promise<void> {
    const dir = join(bucket.dir, 'uploads');
    let ids: string[];
    try {
      ids = await readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const id of ids) {
      if (!UPLOAD_ID.test(id)) continue;
      try {
        const upload = checkUploadFile(JSON.parse(await readFile(join(dir, id, 'upload.json'), 'utf8')));
        if (upload.uploadId === id) bucket.uploads.set(id, upload);
      } catch (err) {
        this.logger?.warn({ bucket: bucket.name, uploadId: id, err: String(err) }, 'embedded store: skipping an unreadable upload');
      }
    }
  }

  private tempPath(): string {
    return join(this.dataDir, 'tmp', randomBytes(16).toString('hex'));
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket || bucket.deleted) throw errors.noSuchBucket(name);
    return bucket;
  }

  private objectPath(bucket: Bucket, key: string): string {
    const hash = keyHash(key);
    return join(bucket.dir, 'objects', hash.slice(0, 2), hash);
  }

  private uploadDir(bucket: Bucket, uploadId: string): string {
    return join(bucket.dir, 'uploads', uploadId);
  }

  /** Writes JSON to a temp file, fsyncs it and renames it to `path`. */
  private async writeJsonAtomic(path: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.tempPath(), path, JSON.stringify(value), 0o644);
  }

  /** Moves a directory into tmp/ (atomic) and removes it from there. */
  private async removeDir(dir: string): Promise<void> {
    const trash = this.tempPath();
    try {
      await rename(dir, trash);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /* -------------------------------------------------------------- buckets -- */

  listBuckets(): BucketInfo[] {
    return [...this.buckets.values()]
      .filter((b) => !b.deleted)
      .map((b) => this.bucketInfo(b))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  headBucket(name: string): BucketInfo {
    return this.bucketInfo(this.bucket(name));
  }

  hasBucket(name: string): boolean {
    const bucket = this.buckets.get(name);
    return bucket !== undefined && !bucket.deleted;
  }

  private bucketInfo(bucket: Bucket): BucketInfo {
    return {
      name: bucket.name,
      creationDate: new Date(bucket.file.creationDate),
      ...(bucket.file.locationConstraint ? { locationConstraint: bucket.file.locationConstraint } : {}),
    };
  }

  async createBucket(name: string, locationConstraint?: string): Promise<void> {
    if (!isValidBucketName(name)) {
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
    }
    await this.registry.run(async () => {
      if (this.hasBucket(name)) {
        throw new S3Error(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          409,
          { BucketName: name },
        );
      }
      const file: BucketFile = {
        creationDate: Date.now(),
        ...(locationConstraint ? { locationConstraint } : {}),
      };
      const staging = this.tempPath();
      await mkdir(join(staging, 'objects'), { recursive: true });
      await mkdir(join(staging, 'uploads'));
      await writeFile(join(staging, 'bucket.json'), JSON.stringify(file));
      const dir = join(this.dataDir, 'buckets', name);
      try {
        await rename(staging, dir);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
      this.buckets.set(name, { name, dir, file, mutex: new Mutex(), index: new KeyIndex(), uploads: new Map(), deleted: false });
    });
  }

  /** Deletes an empty bucket (open multipart uploads do not count, and go with it). */
  async deleteBucket(name: string): Promise<void> {
    await this.registry.run(async () => {
      const bucket = this.bucket(name);
      await bucket.mutex.run(async () => {
        const index = await this.loadIndexLocked(bucket);
        if (index.size > 0) {
          throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: name });
        }
        bucket.deleted = true;
        this.buckets.delete(name);
        await this.removeDir(bucket.dir);
      });
    });
  }

  getBucketCors(name: string): CorsRule[] | undefined {
    return this.bucket(name).file.cors;
  }

  async putBucketCors(name: string, rules: CorsRule[] | undefined): Promise<void> {
    const bucket = this.bucket(name);
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(name);
      const file: BucketFile = { ...bucket.file };
      if (rules) file.cors = rules;
      else delete file.cors;
      await this.writeJsonAtomic(join(bucket.dir, 'bucket.json'), file);
      bucket.file = file;
    });
  }

  /* ---------------------------------------------------------------- index -- */

  private async loadIndexLocked(bucket: Bucket): Promise<KeyIndex> {
    if (bucket.index) return bucket.index;
    const entries: IndexEntry[] = [];
    const root = join(bucket.dir, 'objects');
    const files: string[] = [];
    for (const shard of await readdir(root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdir(join(root, shard))) {
        if (/^[0-9a-f]{64}$/.test(name)) files.push(join(root, shard, name));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const path = files[next++]!;
        try {
          const fh = await open(path, 'r');
          try {
            const meta = await readObjectTrailer(fh);
            entries.push({ key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified });
          } finally {
            await fh.close();
          }
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) {
            this.logger?.warn({ bucket: bucket.name, file: path, err: String(err) }, 'embedded store: skipping an unreadable object file');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    bucket.index = new KeyIndex(entries);
    return bucket.index;
  }

  private async index(bucket: Bucket): Promise<KeyIndex> {
    return bucket.index ?? bucket.mutex.run(() => this.loadIndexLocked(bucket));
  }

  /** One page of ListObjects / ListObjectsV2. */
  async listObjects(bucketName: string, query: ListQuery): Promise<ListPage> {
    const index = await this.index(this.bucket(bucketName));
    return listIndex(index, query);
  }

  /* -------------------------------------------------------------- objects -- */

  /** Opens the current version of an object; the caller must stream or close it. */
  async openObject(bucketName: string, key: string): Promise<OpenedObject> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    let fh: FileHandle;
    try {
      fh = await open(this.objectPath(bucket, key), fsConstants.O_RDONLY);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw errors.noSuchKey(key);
      throw err;
    }
    try {
      const meta = await readObjectTrailer(fh);
      if (meta.key !== key) throw errors.noSuchKey(key);
      return new OpenedObject(fh, meta);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async headObject(bucketName: string, key: string): Promise<ObjectMeta> {
    const object = await this.openObject(bucketName, key);
    await object.close();
    return object.meta;
  }

  /** Current metadata or undefined; for write conditions (called under the bucket mutex). */
  private async currentMeta(bucket: Bucket, key: string): Promise<ObjectMeta | undefined> {
    try {
      return await this.headObject(bucket.name, key);
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  private async checkWriteConditions(bucket: Bucket, key: string, conditions: WriteConditions): Promise<void> {
    if (conditions.ifMatch === undefined && conditions.ifNoneMatch === undefined) return;
    const current = await this.currentMeta(bucket, key);
    if (conditions.ifMatch !== undefined) {
      if (!current) throw errors.noSuchKey(key);
      if (!etagMatches(conditions.ifMatch, current.etag)) throw errors.preconditionFailed('If-Match');
    }
    if (conditions.ifNoneMatch !== undefined && current && etagMatches(conditions.ifNoneMatch, current.etag)) {
      throw errors.preconditionFailed('If-None-Match');
    }
  }

  /** Renames a finished temp file over the object, under the bucket mutex, and updates the index. */
  private async commitObject(bucket: Bucket, tmp: string, meta: ObjectMeta, conditions?: WriteConditions): Promise<void> {
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
      if (conditions) await this.checkWriteConditions(bucket, meta.key, conditions);
      const target = this.objectPath(bucket, meta.key);
      try {
        await rename(tmp, target);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        await mkdir(join(target, '..'), { recursive: true });
        await rename(tmp, target);
      }
      bucket.index?.set({ key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified });
    });
  }

  /**
   * Writes a new file in tmp/: `fill` streams the data into it, then the
   * trailer built from the data's size (and MD5) is appended and the file is
   * fsynced. Returns the temp path; on failure nothing is left behind.
   */
  private async writeTemp(
    fill: (fh: FileHandle) => Promise<{ size: number; md5?: Buffer }>,
    trailer: (result: { size: number; md5?: Buffer }) => unknown,
  ): Promise<string> {
    const tmp = this.tempPath();
    const fh = await open(tmp, 'wx', 0o600);
    try {
      const result = await fill(fh);
      await writeFully(fh, [encodeTrailer(trailer(result))], result.size);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    return tmp;
  }

  private async commitOrDiscard(tmp: string, commit: () => Promise<void>): Promise<void> {
    try {
      await commit();
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async putObject(
    bucketName: string,
    key: string,
    body: AsyncIterable<Buffer | string> | Readable,
    headers: ObjectHeaders,
    options: WriteOptions = {},
  ): Promise<ObjectMeta> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    let meta: ObjectMeta | undefined;
    const tmp = await this.writeTemp(
      async (fh) => {
        const result = await streamToFile(fh, { source: body, maxSize: MAX_OBJECT_SIZE, md5: true });
        checkBody(result, options);
        return result;
      },
      ({ size, md5 }) => {
        meta = { ...headers, key, size, etag: md5!.toString('hex'), lastModified: Date.now() };
        const checksums = options.checksums?.();
        if (checksums && Object.keys(checksums).length > 0) meta.checksums = checksums;
        return meta;
      },
    );
    await this.commitOrDiscard(tmp, () => this.commitObject(bucket, tmp, meta!, options.conditions));
    return meta!;
  }

  /** Deletes several keys under one hold of the bucket mutex; a missing key counts as deleted. */
  async deleteObjects(bucketName: string, keys: string[]): Promise<Array<{ key: string; error?: S3Error }>> {
    const bucket = this.bucket(bucketName);
    return bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucketName);
      const results: Array<{ key: string; error?: S3Error }> = [];
      for (const key of keys) {
        try {
          validateKey(key);
          await unlink(this.objectPath(bucket, key)).catch((err: unknown) => {
            if (!isErrno(err, 'ENOENT')) throw err;
          });
          bucket.index?.delete(key);
          results.push({ key });
        } catch (err) {
          if (!(err instanceof S3Error)) throw err;
          results.push({ key, error: err });
        }
      }
      return results;
    });
  }

  async deleteObject(bucketName: string, key: string): Promise<void> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucketName);
      try {
        await unlink(this.objectPath(bucket, key));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      bucket.index?.delete(key);
    });
  }

  /** Opens a copy source and checks its conditions. */
  private async openSource(source: CopySource): Promise<{ object: OpenedObject; start: number; end: number }> {
    const object = await this.openObject(source.bucket, source.key);
    try {
      source.check?.(object.meta);
      const start = source.range?.start ?? 0;
      const end = source.range?.end ?? object.meta.size - 1;
      if (source.range && (start > end || end >= object.meta.size)) {
        throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, {
          RangeRequested: `bytes=${start}-${end}`,
          ActualObjectSize: String(object.meta.size),
        });
      }
      return { object, start, end };
    } catch (err) {
      await object.close();
      throw err;
    }
  }

  /** CopyObject: `headers` replaces the source's (REPLACE), otherwise they are kept (COPY). */
  async copyObject(source: CopySource, bucketName: string, key: string, headers?: ObjectHeaders): Promise<ObjectMeta> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    const { object, start, end } = await this.openSource(source);
    let meta: ObjectMeta | undefined;
    const sourceHeaders = headersOf(object.meta);
    const tmp = await this.writeTemp(
      (fh) => streamToFile(fh, { source: object.stream(start, end), maxSize: MAX_OBJECT_SIZE, md5: true }),
      ({ size, md5 }) => {
        meta = { ...(headers ?? sourceHeaders), key, size, etag: md5!.toString('hex'), lastModified: Date.now() };
        if (object.meta.checksums && size === object.meta.size) meta.checksums = object.meta.checksums;
        return meta;
      },
    ).finally(() => object.close());
    await this.commitOrDiscard(tmp, () => this.commitObject(bucket, tmp, meta!));
    return meta!;
  }

  /* ------------------------------------------------------------ multipart -- */

  /** Throws NoSuchBucket / NoSuchUpload unless the upload is open for this key. */
  assertUpload(bucketName: string, key: string, uploadId: string): void {
    this.upload(this.bucket(bucketName), key, uploadId);
  }

  private upload(bucket: Bucket, key: string, uploadId: string): Upload {
    const upload = bucket.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw errors.noSuchUpload(uploadId);
    return upload;
  }

  async createMultipartUpload(bucketName: string, key: string, headers: ObjectHeaders): Promise<UploadInfo> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    const upload: Upload = { uploadId: newUploadId(), key, initiated: Date.now(), headers };
    const staging = this.tempPath();
    await mkdir(staging);
    await writeFile(join(staging, 'upload.json'), JSON.stringify(upload));
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucketName);
      await mkdir(join(bucket.dir, 'uploads'), { recursive: true });
      await rename(staging, this.uploadDir(bucket, upload.uploadId));
      bucket.uploads.set(upload.uploadId, upload);
    }).catch(async (err: unknown) => {
      await rm(staging, { recursive: true, force: true });
      throw err;
    });
    return { uploadId: upload.uploadId, key, initiated: upload.initiated, headers };
  }

  private checkPartNumber(partNumber: number): void {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw errors.invalidArgument(
        'Part number must be an integer between 1 and 10000, inclusive',
        'partNumber',
        String(partNumber),
      );
    }
  }

  private async commitPart(bucket: Bucket, key: string, uploadId: string, partNumber: number, tmp: string): Promise<void> {
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
      this.upload(bucket, key, uploadId);
      await rename(tmp, join(this.uploadDir(bucket, uploadId), partFileName(partNumber)));
    });
  }

  async uploadPart(
    bucketName: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer | string> | Readable,
    options: WriteOptions = {},
  ): Promise<PartInfo> {
    const bucket = this.bucket(bucketName);
    this.checkPartNumber(partNumber);
    this.upload(bucket, key, uploadId);
    let part: PartInfo | undefined;
    const tmp = await this.writeTemp(
      async (fh) => {
        const result = await streamToFile(fh, { source: body, maxSize: MAX_PART_SIZE, md5: true });
        checkBody(result, options);
        return result;
      },
      ({ size, md5 }) => (part = { partNumber, size, etag: md5!.toString('hex'), lastModified: Date.now() }),
    );
    await this.commitOrDiscard(tmp, () => this.commitPart(bucket, key, uploadId, partNumber, tmp));
    return part!;
  }

  async uploadPartCopy(
    bucketName: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: CopySource,
  ): Promise<PartInfo> {
    const bucket = this.bucket(bucketName);
    this.checkPartNumber(partNumber);
    this.upload(bucket, key, uploadId);
    const { object, start, end } = await this.openSource(source);
    return this.uploadPart(bucketName, key, uploadId, partNumber, object.stream(start, end)).finally(() => object.close());
  }

  private async readPart(bucket: Bucket, uploadId: string, partNumber: number): Promise<PartInfo | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(join(this.uploadDir(bucket, uploadId), partFileName(partNumber)), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    try {
      return await readPartTrailer(fh);
    } finally {
      await fh.close();
    }
  }

  async listParts(
    bucketName: string,
    key: string,
    uploadId: string,
    options: { partNumberMarker: number; maxParts: number },
  ): Promise<ListPartsPage> {
    const bucket = this.bucket(bucketName);
    const upload = this.upload(bucket, key, uploadId);
    let names: string[];
    try {
      names = await readdir(this.uploadDir(bucket, uploadId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw err;
    }
    const numbers = names
      .filter((n) => /^\d{5}$/.test(n))
      .map(Number)
      .filter((n) => n > options.partNumberMarker)
      .sort((a, b) => a - b);
    const page = numbers.slice(0, options.maxParts);
    const parts: PartInfo[] = [];
    for (const n of page) {
      const part = await this.readPart(bucket, uploadId, n);
      if (part) parts.push(part);
    }
    const truncated = numbers.length > page.length;
    return {
      upload: { uploadId, key, initiated: upload.initiated, headers: upload.headers },
      parts,
      truncated,
      ...(truncated && page.length > 0 ? { nextPartNumberMarker: page[page.length - 1]! } : {}),
    };
  }

  listMultipartUploads(bucketName: string, query: ListUploadsQuery): ListUploadsPage {
    const bucket = this.bucket(bucketName);
    const { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads } = query;
    const all = [...bucket.uploads.values()]
      .filter((u) => u.key.startsWith(prefix))
      .filter((u) => {
        if (keyMarker === undefined) return true;
        const order = compareKeys(u.key, keyMarker);
        if (order !== 0) return order > 0;
        return uploadIdMarker !== undefined && u.uploadId > uploadIdMarker;
      })
      .sort((a, b) => compareKeys(a.key, b.key) || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0));
    const uploads: UploadInfo[] = [];
    const commonPrefixes: string[] = [];
    let count = 0;
    let truncated = false;
    let last: { key: string; uploadId?: string } | undefined;
    for (const u of all) {
      const at = delimiter === '' ? -1 : u.key.indexOf(delimiter, prefix.length);
      const common = at >= 0 ? u.key.slice(0, at + delimiter.length) : undefined;
      if (common !== undefined && commonPrefixes[commonPrefixes.length - 1] === common) continue;
      if (common !== undefined && keyMarker !== undefined && compareKeys(common, keyMarker) <= 0) continue;
      if (count === maxUploads) {
        truncated = true;
        break;
      }
      count++;
      if (common !== undefined) {
        commonPrefixes.push(common);
        last = { key: common };
      } else {
        uploads.push({ uploadId: u.uploadId, key: u.key, initiated: u.initiated, headers: u.headers });
        last = { key: u.key, uploadId: u.uploadId };
      }
    }
    return {
      uploads,
      commonPrefixes,
      truncated,
      ...(truncated && last ? { nextKeyMarker: last.key } : {}),
      ...(truncated && last?.uploadId ? { nextUploadIdMarker: last.uploadId } : {}),
    };
  }

  /**
   * Completes an upload: checks the list (ascending, known parts with matching
   * ETags, all but the last at least 5 MiB), streams the parts into one temp
   * file, renames it over the object and removes the upload.
   */
  async completeMultipartUpload(
    bucketName: string,
    key: string,
    uploadId: string,
    requested: Array<{ partNumber: number; etag: string }>,
    conditions?: WriteConditions,
  ): Promise<ObjectMeta> {
    const bucket = this.bucket(bucketName);
    validateKey(key);
    if (requested.length === 0) throw errors.malformedXml();
    for (let i = 0; i < requested.length; i++) {
      this.checkPartNumber(requested[i]!.partNumber);
      if (i > 0 && requested[i]!.partNumber <= requested[i - 1]!.partNumber) {
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts list must be specified in order by part number.',
          400,
          { UploadId: uploadId },
        );
      }
    }
    const { upload, work } = await bucket.mutex.run(async () => {
      const found = this.upload(bucket, key, uploadId);
      if (found.completion) throw errors.noSuchUpload(uploadId);
      const assembling = this.assemble(bucket, found, requested, conditions);
      found.completion = assembling.catch(() => undefined);
      return { upload: found, work: assembling };
    });
    try {
      return await work;
    } finally {
      upload.completion = undefined;
    }
  }

  private async assemble(
    bucket: Bucket,
    upload: Upload,
    requested: Array<{ partNumber: number; etag: string }>,
    conditions?: WriteConditions,
  ): Promise<ObjectMeta> {
    const invalidPart = (partNumber: number) =>
      new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
        400,
        { UploadId: upload.uploadId, PartNumber: String(partNumber) },
      );
    const parts: PartInfo[] = [];
    for (const want of requested) {
      const part = await this.readPart(bucket, upload.uploadId, want.partNumber);
      if (!part || !etagMatches(want.etag, part.etag)) throw invalidPart(want.partNumber);
      parts.push(part);
    }
    for (let i = 0; i < parts.length - 1; i++) {
      if (parts[i]!.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400, {
          ProposedSize: String(parts[i]!.size),
          MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(parts[i]!.partNumber),
          ETag: `"${parts[i]!.etag}"`,
        });
      }
    }
    const dir = this.uploadDir(bucket, upload.uploadId);
    async function* concatenate(): AsyncGenerator<Buffer> {
      for (const part of parts) {
        const fh = await open(join(dir, partFileName(part.partNumber)), 'r').catch((err: unknown) => {
          throw isErrno(err, 'ENOENT') ? invalidPart(part.partNumber) : err;
        });
        let current: PartInfo;
        try {
          current = await readPartTrailer(fh);
        } catch (err) {
          await fh.close();
          throw err;
        }
        if (current.etag !== part.etag) {
          await fh.close();
          throw invalidPart(part.partNumber);
        }
        if (current.size === 0) {
          await fh.close();
          continue;
        }
        yield* fh.createReadStream({ start: 0, end: current.size - 1, highWaterMark: IO_CHUNK, autoClose: true });
      }
    }
    const combined = createHash('md5');
    for (const part of parts) combined.update(Buffer.from(part.etag, 'hex'));
    let meta: ObjectMeta | undefined;
    const tmp = await this.writeTemp(
      (fh) => streamToFile(fh, { source: concatenate(), maxSize: Number.MAX_SAFE_INTEGER, md5: false }),
      ({ size }) =>
        (meta = {
          ...upload.headers,
          key: upload.key,
          size,
          etag: `${combined.digest('hex')}-${parts.length}`,
          lastModified: Date.now(),
          partSizes: parts.map((p) => p.size),
        }),
    );
    let trash: string | undefined;
    await this.commitOrDiscard(tmp, () =>
      bucket.mutex.run(async () => {
        if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
        if (bucket.uploads.get(upload.uploadId) !== upload) throw errors.noSuchUpload(upload.uploadId);
        if (conditions) await this.checkWriteConditions(bucket, upload.key, conditions);
        const target = this.objectPath(bucket, upload.key);
        await mkdir(join(target, '..'), { recursive: true });
        await rename(tmp, target);
        bucket.index?.set({ key: meta!.key, size: meta!.size, etag: meta!.etag, lastModified: meta!.lastModified });
        bucket.uploads.delete(upload.uploadId);
        trash = this.tempPath();
        await rename(dir, trash).catch(() => (trash = undefined));
      }),
    );
    if (trash) await rm(trash, { recursive: true, force: true });
    return meta!;
  }

  async abortMultipartUpload(bucketName: string, key: string, uploadId: string): Promise<void> {
    const bucket = this.bucket(bucketName);
    for (;;) {
      const pending = this.upload(bucket, key, uploadId).completion;
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    await bucket.mutex.run(async () => {
      this.upload(bucket, key, uploadId);
      bucket.uploads.delete(uploadId);
    });
    await this.removeDir(this.uploadDir(bucket, uploadId));
  }
}

/** The settable part of an object's metadata. */
export function headersOf(meta: ObjectMeta): ObjectHeaders {
  const headers: ObjectHeaders = { contentType: meta.contentType, metadata: { ...meta.metadata } };
  if (meta.contentEncoding !== undefined) headers.contentEncoding = meta.contentEncoding;
  if (meta.contentDisposition !== undefined) headers.contentDisposition = meta.contentDisposition;
  if (meta.contentLanguage !== undefined) headers.contentLanguage = meta.contentLanguage;
  if (meta.cacheControl !== undefined) headers.cacheControl = meta.cacheControl;
  if (meta.expires !== undefined) headers.expires = meta.expires;
  return headers;
}

/** True when an If-Match / If-None-Match value (`*`, a list, quoted or not, W/ or not) names `etag`. */
export function etagMatches(condition: string, etag: string): boolean {
  return condition.split(',').some((raw) => {
    const tag = raw.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    return tag === '*' || tag === etag;
  });
}

function checkBody(result: { size: number; md5?: Buffer }, options: WriteOptions): void {
  if (options.expectedSize !== undefined && result.size !== options.expectedSize) {
    throw new S3Error(
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header',
      400,
    );
  }
  if (options.contentMd5 && result.md5 && !options.contentMd5.equals(result.md5)) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, {
      ExpectedDigest: options.contentMd5.toString('base64'),
      CalculatedDigest: result.md5.toString('base64'),
    });
  }
}

async function acquireLock(dir: string, lockPath: string, shown: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      held.add(dir);
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const pid = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    const ours = pid === process.pid && held.has(dir);
    if (ours || (pid > 0 && pid !== process.pid && isAlive(pid))) {
      throw new StartupError(
        `DATA_DIR ${shown} is in use by another embedded store (pid ${pid}); stop it, or remove ${join(shown, '.lock')} if none runs`,
        'ELOCKED',
      );
    }
    await rm(lockPath, { force: true });
  }
  throw new StartupError(`DATA_DIR ${shown}: could not take the lock ${join(shown, '.lock')}`, 'ELOCKED');
}
