/**
 * The embedded store's data on disk, behind one facade. Nothing here knows
 * about HTTP.
 *
 *   layout.ts     where things live under the data dir; which names may become paths
 *   records.ts    the records kept on disk (trailers, bucket.json, upload.json), zod schemas
 *   files.ts      atomic writes, fsync, streaming a body into a file
 *   lock.ts       the data dir's lock file (holder.ts: who holds it); per-bucket mutexes
 *   key-index.ts  the in-memory listing index of a bucket
 *   buckets.ts, objects.ts, multipart.ts   the operations
 *
 * Bytes always stream. Per request: a write holds at most 1 MiB (the file
 * sink's high-water mark) plus what its source buffers (the HTTP request's
 * 1 MiB high-water mark and the body decoder's); a GET holds two 1 MiB
 * buffers it reuses (OpenedObject.writeTo); a copy or multipart assembly
 * reads 1 MiB chunks into the same file sink.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { StartupError } from '../errors.js';
import { Buckets } from './buckets.js';
import { isErrno } from './files.js';
import type { ListPage, ListQuery } from './key-index.js';
import { Layout } from './layout.js';
import { DataDirLock } from './lock.js';
import { Multipart, type ListPartsPage, type ListUploadsPage, type ListUploadsQuery } from './multipart.js';
import {
  Objects,
  type CopySource,
  type OpenedObject,
  type Source,
  type WriteConditions,
  type WriteOptions,
} from './objects.js';
import type { BucketInfo, CorsRule, ObjectHeaders, ObjectMeta, PartInfo, UploadInfo } from './records.js';

export interface StorageOptions {
  /** How the data dir is shown in error messages (as the operator wrote it). */
  displayDir?: string;
  logger?: Logger;
}

export class Storage {
  private readonly buckets: Buckets;
  private readonly objects: Objects;
  private readonly multipart: Multipart;
  private closed = false;

  private constructor(
    readonly dataDir: string,
    private readonly lock: DataDirLock,
    logger: Logger | undefined,
  ) {
    const layout = new Layout(dataDir);
    this.buckets = new Buckets(layout, logger);
    this.objects = new Objects(layout, this.buckets);
    this.multipart = new Multipart(layout, this.buckets, this.objects);
  }

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
      if (isErrno(err, 'ENOTDIR'))
        throw new StartupError(`DATA_DIR ${shown} cannot be created: a parent is not a directory`, 'ENOTDIR');
      throw notWritable(err);
    }
    let lock: DataDirLock;
    try {
      lock = await DataDirLock.acquire(dir, shown);
    } catch (err) {
      if (err instanceof StartupError) throw err;
      throw notWritable(err);
    }
    const storage = new Storage(dir, lock, options.logger);
    try {
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      await mkdir(join(dir, 'tmp'));
      await mkdir(join(dir, 'buckets'), { recursive: true });
      await storage.buckets.load();
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
    this.lock.release();
  }

  /* -------------------------------------------------------------- buckets -- */

  listBuckets(): BucketInfo[] {
    return this.buckets.list();
  }

  headBucket(name: string): BucketInfo {
    return this.buckets.head(name);
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  createBucket(name: string, locationConstraint?: string): Promise<void> {
    return this.buckets.create(name, locationConstraint);
  }

  /** Deletes an empty bucket (open multipart uploads do not count, and go with it). */
  deleteBucket(name: string): Promise<void> {
    return this.buckets.delete(name);
  }

  getBucketCors(name: string): CorsRule[] | undefined {
    return this.buckets.getCors(name);
  }

  putBucketCors(name: string, rules: CorsRule[] | undefined): Promise<void> {
    return this.buckets.putCors(name, rules);
  }

  /** One page of ListObjects / ListObjectsV2. */
  listObjects(bucket: string, query: ListQuery): Promise<ListPage> {
    return this.buckets.listObjects(bucket, query);
  }

  /* -------------------------------------------------------------- objects -- */

  /** Opens the current version of an object; the caller must stream or close it. */
  openObject(bucket: string, key: string): Promise<OpenedObject> {
    return this.objects.open(bucket, key);
  }

  headObject(bucket: string, key: string): Promise<ObjectMeta> {
    return this.objects.head(bucket, key);
  }

  putObject(
    bucket: string,
    key: string,
    body: Source,
    headers: ObjectHeaders,
    options?: WriteOptions,
  ): Promise<ObjectMeta> {
    return this.objects.put(bucket, key, body, headers, options);
  }

  /** Deletes several keys under one hold of the bucket mutex; a missing key counts as deleted. */
  deleteObjects(bucket: string, keys: string[]): ReturnType<Objects['deleteMany']> {
    return this.objects.deleteMany(bucket, keys);
  }

  deleteObject(bucket: string, key: string): Promise<void> {
    return this.objects.delete(bucket, key);
  }

  /** CopyObject: `headers` replaces the source's (REPLACE), otherwise they are kept (COPY). */
  copyObject(source: CopySource, bucket: string, key: string, headers?: ObjectHeaders): Promise<ObjectMeta> {
    return this.objects.copy(source, bucket, key, headers);
  }

  /* ------------------------------------------------------------ multipart -- */

  /** Throws NoSuchBucket / NoSuchUpload unless the upload is open for this key. */
  assertUpload(bucket: string, key: string, uploadId: string): void {
    this.multipart.assert(bucket, key, uploadId);
  }

  createMultipartUpload(bucket: string, key: string, headers: ObjectHeaders): Promise<UploadInfo> {
    return this.multipart.create(bucket, key, headers);
  }

  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Source,
    options?: WriteOptions,
  ): Promise<PartInfo> {
    return this.multipart.uploadPart(bucket, key, uploadId, partNumber, body, options);
  }

  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: CopySource,
  ): Promise<PartInfo> {
    return this.multipart.uploadPartCopy(bucket, key, uploadId, partNumber, source);
  }

  listParts(
    bucket: string,
    key: string,
    uploadId: string,
    options: { partNumberMarker: number; maxParts: number },
  ): Promise<ListPartsPage> {
    return this.multipart.listParts(bucket, key, uploadId, options);
  }

  listMultipartUploads(bucket: string, query: ListUploadsQuery): ListUploadsPage {
    return this.multipart.listUploads(bucket, query);
  }

  /** Checks the part list, assembles the parts into the object and removes the upload. */
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
    conditions?: WriteConditions,
  ): Promise<ObjectMeta> {
    return this.multipart.complete(bucket, key, uploadId, parts, conditions);
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.multipart.abort(bucket, key, uploadId);
  }
}
