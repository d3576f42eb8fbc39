/**
 * Multipart uploads: one dir per open upload (upload.json and a file per
 * part, each part file with its own trailer), listed from memory (the
 * bucket's upload map) and assembled into one object file on completion.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_PART_NUMBER, MAX_PART_SIZE, MIN_PART_SIZE } from '../../core/s3-rules.js';
import { errors, S3Error } from '../errors.js';
import type { Bucket, Buckets, Upload } from './buckets.js';
import { IO_CHUNK, isErrno, removeDir, streamToFile } from './files.js';
import { compareKeys } from './key-index.js';
import { newUploadId, PART_FILE, validateKey, type Layout } from './layout.js';
import {
  checkBody,
  commitOrDiscard,
  etagMatches,
  type CopySource,
  type Objects,
  type Source,
  type WriteConditions,
  type WriteOptions,
} from './objects.js';
import { readPartTrailer, type ObjectHeaders, type ObjectMeta, type PartInfo, type UploadInfo } from './records.js';

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

export class Multipart {
  constructor(
    private readonly layout: Layout,
    private readonly buckets: Buckets,
    private readonly objects: Objects,
  ) {}

  /** Throws NoSuchBucket / NoSuchUpload unless the upload is open for this key. */
  assert(bucketName: string, key: string, uploadId: string): void {
    this.upload(this.buckets.get(bucketName), key, uploadId);
  }

  private upload(bucket: Bucket, key: string, uploadId: string): Upload {
    const upload = bucket.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw errors.noSuchUpload(uploadId);
    return upload;
  }

  async create(bucketName: string, key: string, headers: ObjectHeaders): Promise<UploadInfo> {
    const bucket = this.buckets.get(bucketName);
    validateKey(key);
    const upload: Upload = { uploadId: newUploadId(), key, initiated: Date.now(), headers };
    const staging = this.layout.tempPath();
    await mkdir(staging);
    await writeFile(join(staging, 'upload.json'), JSON.stringify(upload));
    await bucket.mutex
      .run(async () => {
        if (bucket.deleted) throw errors.noSuchBucket(bucketName);
        await mkdir(join(bucket.dir, 'uploads'), { recursive: true });
        await rename(staging, this.layout.uploadDir(bucket.dir, upload.uploadId));
        bucket.uploads.set(upload.uploadId, upload);
      })
      .catch(async (err: unknown) => {
        await rm(staging, { recursive: true, force: true });
        throw err;
      });
    return { uploadId: upload.uploadId, key, initiated: upload.initiated, headers };
  }

  private checkPartNumber(partNumber: number): void {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw errors.invalidArgument(
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
        'partNumber',
        String(partNumber),
      );
    }
  }

  async uploadPart(
    bucketName: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Source,
    options: WriteOptions = {},
  ): Promise<PartInfo> {
    const bucket = this.buckets.get(bucketName);
    this.checkPartNumber(partNumber);
    this.upload(bucket, key, uploadId);
    let part: PartInfo | undefined;
    const tmp = await this.objects.writeTemp(
      async (fh) => {
        const result = await streamToFile(fh, { source: body, maxSize: MAX_PART_SIZE, md5: true });
        checkBody(result, options);
        return result;
      },
      ({ size, md5 }) => (part = { partNumber, size, etag: md5!.toString('hex'), lastModified: Date.now() }),
    );
    await commitOrDiscard(tmp, () =>
      bucket.mutex.run(async () => {
        if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
        this.upload(bucket, key, uploadId);
        await rename(tmp, this.layout.partPath(bucket.dir, uploadId, partNumber));
      }),
    );
    return part!;
  }

  async uploadPartCopy(
    bucketName: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: CopySource,
  ): Promise<PartInfo> {
    const bucket = this.buckets.get(bucketName);
    this.checkPartNumber(partNumber);
    this.upload(bucket, key, uploadId);
    const { object, start, end } = await this.objects.openSource(source);
    return this.uploadPart(bucketName, key, uploadId, partNumber, object.stream(start, end)).finally(() =>
      object.close(),
    );
  }

  private async readPart(bucket: Bucket, uploadId: string, partNumber: number): Promise<PartInfo | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(this.layout.partPath(bucket.dir, uploadId, partNumber), 'r');
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
    const bucket = this.buckets.get(bucketName);
    const upload = this.upload(bucket, key, uploadId);
    let names: string[];
    try {
      names = await readdir(this.layout.uploadDir(bucket.dir, uploadId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw err;
    }
    const numbers = names
      .filter((n) => PART_FILE.test(n))
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

  listUploads(bucketName: string, query: ListUploadsQuery): ListUploadsPage {
    const bucket = this.buckets.get(bucketName);
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
  async complete(
    bucketName: string,
    key: string,
    uploadId: string,
    requested: Array<{ partNumber: number; etag: string }>,
    conditions?: WriteConditions,
  ): Promise<ObjectMeta> {
    const bucket = this.buckets.get(bucketName);
    validateKey(key);
    if (requested.length === 0) throw errors.malformedXml();
    for (let i = 0; i < requested.length; i++) {
      this.checkPartNumber(requested[i]!.partNumber);
      if (i > 0 && requested[i]!.partNumber <= requested[i - 1]!.partNumber) {
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts list must be specified in order by part number.',
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
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
          ProposedSize: String(parts[i]!.size),
          MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(parts[i]!.partNumber),
          ETag: `"${parts[i]!.etag}"`,
        });
      }
    }
    const layout = this.layout;
    async function* concatenate(): AsyncGenerator<Buffer> {
      for (const part of parts) {
        const fh = await open(layout.partPath(bucket.dir, upload.uploadId, part.partNumber), 'r').catch(
          (err: unknown) => {
            throw isErrno(err, 'ENOENT') ? invalidPart(part.partNumber) : err;
          },
        );
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
    const tmp = await this.objects.writeTemp(
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
    const dir = this.layout.uploadDir(bucket.dir, upload.uploadId);
    let trash: string | undefined;
    await commitOrDiscard(tmp, () =>
      bucket.mutex.run(async () => {
        if (bucket.deleted) throw errors.noSuchBucket(bucket.name);
        if (bucket.uploads.get(upload.uploadId) !== upload) throw errors.noSuchUpload(upload.uploadId);
        if (conditions) await this.objects.checkWriteConditions(bucket, upload.key, conditions);
        await this.objects.placeLocked(bucket, tmp, meta!);
        bucket.uploads.delete(upload.uploadId);
        trash = this.layout.tempPath();
        await rename(dir, trash).catch(() => (trash = undefined));
      }),
    );
    if (trash) await rm(trash, { recursive: true, force: true });
    return meta!;
  }

  async abort(bucketName: string, key: string, uploadId: string): Promise<void> {
    const bucket = this.buckets.get(bucketName);
    for (;;) {
      const pending = this.upload(bucket, key, uploadId).completion;
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    await bucket.mutex.run(async () => {
      this.upload(bucket, key, uploadId);
      bucket.uploads.delete(uploadId);
    });
    await removeDir(this.layout.uploadDir(bucket.dir, uploadId), this.layout.tempPath());
  }
}
