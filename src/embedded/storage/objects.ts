/**
 * Objects: reading (OpenedObject), writing, copying and deleting. Data and
 * metadata live in one inode (records.ts): every write goes to a new file in
 * tmp/, is fsynced and then renamed over the old one under the bucket's
 * mutex, so a reader sees either the whole old object or the whole new one,
 * metadata included; a reader that already opened the old file keeps reading
 * it after an overwrite; and a crash mid-write leaves the old object plus a
 * stale temp file, which the next start removes.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { MAX_OBJECT_SIZE } from '../../core/s3-rules.js';
import { errors, S3Error } from '../errors.js';
import type { Bucket, Buckets } from './buckets.js';
import { IO_CHUNK, isErrno, streamToFile, writeFully } from './files.js';
import { validateKey, type Layout } from './layout.js';
import {
  encodeTrailer,
  headersOf,
  readObjectTrailer,
  type ObjectHeaders,
  type ObjectMeta,
  type PartInfo,
} from './records.js';

/** A request body, or the bytes of another object. */
export type Source = AsyncIterable<Buffer | string> | Readable;

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

type Written = { size: number; md5?: Buffer };

export class Objects {
  constructor(
    private readonly layout: Layout,
    private readonly buckets: Buckets,
  ) {}

  /** Opens the current version of an object; the caller must stream or close it. */
  async open(bucketName: string, key: string): Promise<OpenedObject> {
    const bucket = this.buckets.get(bucketName);
    validateKey(key);
    let fh: FileHandle;
    try {
      fh = await open(this.layout.objectPath(bucket.dir, key), fsConstants.O_RDONLY);
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

  async head(bucketName: string, key: string): Promise<ObjectMeta> {
    const object = await this.open(bucketName, key);
    await object.close();
    return object.meta;
  }

  /** Throws unless the conditions hold for the current object; call under the bucket mutex. */
  async checkWriteConditions(bucket: Bucket, key: string, conditions: WriteConditions): Promise<void> {
    if (conditions.ifMatch === undefined && conditions.ifNoneMatch === undefined) return;
    const current = await this.head(bucket.name, key).catch((err: unknown) => {
      if (err instanceof S3Error && err.code === 'NoSuchKey') return undefined;
      throw err;
    });
    if (conditions.ifMatch !== undefined) {
      if (!current) throw errors.noSuchKey(key);
      if (!etagMatches(conditions.ifMatch, current.etag)) throw errors.preconditionFailed('If-Match');
    }
    if (conditions.ifNoneMatch !== undefined && current && etagMatches(conditions.ifNoneMatch, current.etag)) {
      throw errors.preconditionFailed('If-None-Match');
    }
  }

  /** Renames a finished temp file over the object and updates the index; call under the bucket mutex. */
  async placeLocked(bucket: Bucket, tmp: string, meta: ObjectMeta): Promise<void> {
    const target = this.layout.objectPath(bucket.dir, meta.key);
    try {
      await rename(tmp, target);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      await mkdir(join(target, '..'), { recursive: true });
      await rename(tmp, target);
    }
    bucket.index?.set({ key: meta.key, size: meta.size, etag: meta.etag, lastModified: meta.lastModified });
  }

  /** Places a temp file under the bucket mutex, once the conditions hold; on failure the temp file is removed. */
  private async commit(bucket: Bucket, tmp: string, meta: ObjectMeta, conditions?: WriteConditions): Promise<void> {
    await commitOrDiscard(tmp, () =>
      bucket.mutex.run(async () => {
        if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
        if (conditions) await this.checkWriteConditions(bucket, meta.key, conditions);
        await this.placeLocked(bucket, tmp, meta);
      }),
    );
  }

  /**
   * Writes a new file in tmp/: `fill` streams the data into it, then the
   * trailer built from the data's size (and MD5) is appended and the file is
   * fsynced. Returns the temp path; on failure nothing is left behind.
   */
  async writeTemp(
    fill: (fh: FileHandle) => Promise<Written>,
    trailer: (result: Written) => ObjectMeta | PartInfo,
  ): Promise<string> {
    const tmp = this.layout.tempPath();
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

  async put(
    bucketName: string,
    key: string,
    body: Source,
    headers: ObjectHeaders,
    options: WriteOptions = {},
  ): Promise<ObjectMeta> {
    const bucket = this.buckets.get(bucketName);
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
    await this.commit(bucket, tmp, meta!, options.conditions);
    return meta!;
  }

  /** Deletes several keys under one hold of the bucket mutex; a missing key counts as deleted. */
  async deleteMany(bucketName: string, keys: string[]): Promise<Array<{ key: string; error?: S3Error }>> {
    const bucket = this.buckets.get(bucketName);
    return bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucketName);
      const results: Array<{ key: string; error?: S3Error }> = [];
      for (const key of keys) {
        try {
          validateKey(key);
          await this.unlinkLocked(bucket, key);
          results.push({ key });
        } catch (err) {
          if (!(err instanceof S3Error)) throw err;
          results.push({ key, error: err });
        }
      }
      return results;
    });
  }

  async delete(bucketName: string, key: string): Promise<void> {
    const bucket = this.buckets.get(bucketName);
    validateKey(key);
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(bucketName);
      await this.unlinkLocked(bucket, key);
    });
  }

  private async unlinkLocked(bucket: Bucket, key: string): Promise<void> {
    try {
      await unlink(this.layout.objectPath(bucket.dir, key));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    bucket.index?.delete(key);
  }

  /** Opens a copy source and checks its conditions and range. */
  async openSource(source: CopySource): Promise<{ object: OpenedObject; start: number; end: number }> {
    const object = await this.open(source.bucket, source.key);
    try {
      source.check?.(object.meta);
      const start = source.range?.start ?? 0;
      const end = source.range?.end ?? object.meta.size - 1;
      if (source.range && (start > end || end >= object.meta.size))
        throw errors.invalidRange(`bytes=${start}-${end}`, object.meta.size);
      return { object, start, end };
    } catch (err) {
      await object.close();
      throw err;
    }
  }

  /** CopyObject: `headers` replaces the source's (REPLACE), otherwise they are kept (COPY). */
  async copy(source: CopySource, bucketName: string, key: string, headers?: ObjectHeaders): Promise<ObjectMeta> {
    const bucket = this.buckets.get(bucketName);
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
    await this.commit(bucket, tmp, meta!);
    return meta!;
  }
}

/** Runs `commit`; when it fails, removes the temp file it would have placed. */
export async function commitOrDiscard(tmp: string, commit: () => Promise<void>): Promise<void> {
  try {
    await commit();
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** True when an If-Match / If-None-Match value (`*`, a list, quoted or not, W/ or not) names `etag`. */
export function etagMatches(condition: string, etag: string): boolean {
  return condition.split(',').some((raw) => {
    const tag = raw
      .trim()
      .replace(/^W\//, '')
      .replace(/^"(.*)"$/, '$1');
    return tag === '*' || tag === etag;
  });
}

/** The size and Content-MD5 checks of a written body. */
export function checkBody(result: Written, options: WriteOptions): void {
  if (options.expectedSize !== undefined && result.size !== options.expectedSize) {
    throw new S3Error(
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header',
    );
  }
  if (options.contentMd5 && result.md5 && !options.contentMd5.equals(result.md5)) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      ExpectedDigest: options.contentMd5.toString('base64'),
      CalculatedDigest: result.md5.toString('base64'),
    });
  }
}
