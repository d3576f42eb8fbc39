/**
 * Buckets: the registry of the data dir's buckets (loaded at start with their
 * open uploads), creation and deletion, CORS rules, and each bucket's listing
 * index (key-index.ts), built from the object trailers on first use.
 */
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errors, S3Error } from '../errors.js';
import { isErrno, removeDir, writeFileAtomic } from './files.js';
import { compareKeys, KeyIndex, listIndex, type ListPage, type ListQuery } from './key-index.js';
import { isValidBucketName, OBJECT_FILE, OBJECT_SHARD, UPLOAD_ID, type Layout } from './layout.js';
import { Mutex } from './lock.js';
import {
  parseBucketFile,
  parseUploadFile,
  readObjectTrailer,
  type BucketFile,
  type BucketInfo,
  type CorsRule,
  type IndexEntry,
  type UploadInfo,
} from './records.js';

/** Object files read at once while an index is built. */
const SCAN_CONCURRENCY = 32;

export interface Bucket {
  name: string;
  dir: string;
  file: BucketFile;
  /** Serialises the bucket's writes: commits, deletes, upload changes. */
  mutex: Mutex;
  /** Built lazily, under the mutex; afterwards updated by every commit. */
  index?: KeyIndex;
  uploads: Map<string, Upload>;
  deleted: boolean;
}

export interface Upload extends UploadInfo {
  /** Set while a CompleteMultipartUpload runs. */
  completion?: Promise<unknown>;
}

export class Buckets {
  private readonly buckets = new Map<string, Bucket>();
  /** Serialises bucket creation and deletion. */
  private readonly registry = new Mutex();

  constructor(
    private readonly layout: Layout,
    private readonly logger: Logger | undefined,
  ) {}

  /** Reads every bucket dir with a valid bucket.json, and its open uploads; others are reported and skipped. */
  async load(): Promise<void> {
    for (const name of await readdir(this.layout.bucketsDir)) {
      if (!isValidBucketName(name)) continue;
      const dir = this.layout.bucketDir(name);
      let file: BucketFile;
      try {
        file = parseBucketFile(await readFile(join(dir, 'bucket.json'), 'utf8'));
      } catch (err) {
        this.logger?.warn(
          { bucket: name, err: String(err) },
          'embedded store: skipping a bucket dir without a valid bucket.json',
        );
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
        const upload = parseUploadFile(await readFile(join(dir, id, 'upload.json'), 'utf8'));
        if (upload.uploadId === id) bucket.uploads.set(id, upload);
      } catch (err) {
        this.logger?.warn(
          { bucket: bucket.name, uploadId: id, err: String(err) },
          'embedded store: skipping an unreadable upload',
        );
      }
    }
  }

  /** The bucket, or NoSuchBucket. */
  get(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket || bucket.deleted) throw errors.noSuchBucket(name);
    return bucket;
  }

  has(name: string): boolean {
    const bucket = this.buckets.get(name);
    return bucket !== undefined && !bucket.deleted;
  }

  list(): BucketInfo[] {
    return [...this.buckets.values()]
      .filter((b) => !b.deleted)
      .map((b) => this.info(b))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  head(name: string): BucketInfo {
    return this.info(this.get(name));
  }

  private info(bucket: Bucket): BucketInfo {
    return {
      name: bucket.name,
      creationDate: new Date(bucket.file.creationDate),
      ...(bucket.file.locationConstraint ? { locationConstraint: bucket.file.locationConstraint } : {}),
    };
  }

  async create(name: string, locationConstraint?: string): Promise<void> {
    if (!isValidBucketName(name)) {
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
    }
    await this.registry.run(async () => {
      if (this.has(name)) {
        throw new S3Error(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          { BucketName: name },
        );
      }
      const file: BucketFile = {
        creationDate: Date.now(),
        ...(locationConstraint ? { locationConstraint } : {}),
      };
      const staging = this.layout.tempPath();
      await mkdir(join(staging, 'objects'), { recursive: true });
      await mkdir(join(staging, 'uploads'));
      await writeFile(join(staging, 'bucket.json'), JSON.stringify(file));
      const dir = this.layout.bucketDir(name);
      try {
        await rename(staging, dir);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
      this.buckets.set(name, {
        name,
        dir,
        file,
        mutex: new Mutex(),
        index: new KeyIndex(),
        uploads: new Map(),
        deleted: false,
      });
    });
  }

  /** Deletes an empty bucket (open multipart uploads do not count, and go with it). */
  async delete(name: string): Promise<void> {
    await this.registry.run(async () => {
      const bucket = this.get(name);
      await bucket.mutex.run(async () => {
        const index = await this.loadIndexLocked(bucket);
        if (index.size > 0) {
          throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
        }
        bucket.deleted = true;
        this.buckets.delete(name);
        await removeDir(bucket.dir, this.layout.tempPath());
      });
    });
  }

  getCors(name: string): CorsRule[] | undefined {
    return this.get(name).file.cors;
  }

  async putCors(name: string, rules: CorsRule[] | undefined): Promise<void> {
    const bucket = this.get(name);
    await bucket.mutex.run(async () => {
      if (bucket.deleted) throw errors.noSuchBucket(name);
      const file: BucketFile = { ...bucket.file };
      if (rules) file.cors = rules;
      else delete file.cors;
      await writeFileAtomic(this.layout.tempPath(), join(bucket.dir, 'bucket.json'), JSON.stringify(file), 0o644);
      bucket.file = file;
    });
  }

  /** One page of ListObjects / ListObjectsV2. */
  async listObjects(name: string, query: ListQuery): Promise<ListPage> {
    const bucket = this.get(name);
    const index = bucket.index ?? (await bucket.mutex.run(() => this.loadIndexLocked(bucket)));
    return listIndex(index, query);
  }

  /** The bucket's index, built from the object trailers if need be; call under the bucket's mutex. */
  private async loadIndexLocked(bucket: Bucket): Promise<KeyIndex> {
    if (bucket.index) return bucket.index;
    const entries: IndexEntry[] = [];
    const root = join(bucket.dir, 'objects');
    const files: string[] = [];
    for (const shard of await readdir(root)) {
      if (!OBJECT_SHARD.test(shard)) continue;
      for (const name of await readdir(join(root, shard))) {
        if (OBJECT_FILE.test(name)) files.push(join(root, shard, name));
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
            this.logger?.warn(
              { bucket: bucket.name, file: path, err: String(err) },
              'embedded store: skipping an unreadable object file',
            );
          }
        }
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    bucket.index = new KeyIndex(entries);
    return bucket.index;
  }
}
