import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { AppError } from '../core/errors.js';
import { MAX_PART_NUMBER as MAX_PARTS } from '../core/s3-rules.js';
import type { StoreContext } from './shared.js';

/**
 * uploadStream's writer: a body of unknown length into one object, with a
 * memory bound that does not depend on the body's size.
 *
 * A body of at most `partSize` bytes is one PutObject of its own chunks. A
 * longer one is a multipart upload whose parts are copied into a pool of at
 * most `queueSize + 1` buffers of `partSize` bytes, allocated as needed and
 * only for this upload: `queueSize` parts in flight and the one filling.
 * A buffer is filled again only once the UploadPart that carried it has
 * settled (the SDK retries inside `send`, so until then it may still be
 * read). While every slot is busy, the body is not read, which slows the
 * client down instead of buffering more.
 *
 * So one upload holds at most partSize × (queueSize + 1) bytes of parts, plus
 * the first part's chunks while they are copied into the pool. lib-storage's
 * Upload, used before, `Buffer.concat`s a new buffer for every part: those
 * outlive the young generation's collections while their part uploads, and
 * piled up as garbage until a full collection, so the peak grew with the
 * file's size.
 *
 * A pool per upload rather than per process: a shared pool would either keep
 * its buffers (and their memory) while the server is idle or make uploads
 * wait for one another; how many uploads run at once is bounded where
 * requests are admitted.
 */

export interface UploadTarget {
  bucket: string;
  key: string;
  contentType?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

/** Writes `chunks` to the target; on any failure a multipart upload it opened is aborted before this rejects. */
export async function writeObject(
  s3: StoreContext,
  target: UploadTarget,
  chunks: AsyncIterable<Buffer>,
): Promise<void> {
  const { partSize } = s3;
  let first: Buffer[] | undefined = [];
  let firstBytes = 0;
  let parts: PartWriter | undefined;
  try {
    for await (const chunk of chunks) {
      if (first === undefined) {
        await parts!.add(chunk);
        continue;
      }
      first.push(chunk);
      firstBytes += chunk.length;
      if (firstBytes <= partSize) continue;
      // More than one part: from here on the chunks go through the pool.
      const kept = first;
      first = undefined;
      parts = new PartWriter(s3, target);
      for (const c of kept) await parts.add(c);
    }
    if (first !== undefined) {
      const body = first.length === 1 ? first[0]! : Buffer.concat(first, firstBytes);
      await s3.client.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          Body: body,
          ContentType: target.contentType,
          Metadata: target.metadata,
        }),
      );
      return;
    }
    await parts!.complete();
  } catch (e) {
    await parts?.abort();
    throw e;
  }
}

/** One multipart upload fed chunk by chunk, its parts sent from a bounded pool of buffers. */
class PartWriter {
  private readonly free: Buffer[] = [];
  private filling: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly done: CompletedPart[] = [];
  /** The parts being sent; each promise settles without rejecting (a failure is kept in `failure`). */
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private uploadId: Promise<string> | undefined;

  constructor(
    private readonly s3: StoreContext,
    private readonly target: UploadTarget,
  ) {}

  /** Copies chunk into the pool, sending each part as it fills; waits while every slot is in flight. */
  async add(chunk: Buffer): Promise<void> {
    const { partSize } = this.s3;
    let offset = 0;
    while (offset < chunk.length) {
      this.filling ??= this.take();
      const n = Math.min(partSize - this.filled, chunk.length - offset);
      chunk.copy(this.filling, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === partSize) await this.sendFilling();
    }
  }

  /** Sends the last part, waits for every part and completes the upload. */
  async complete(): Promise<void> {
    if (this.filled > 0) await this.sendFilling();
    await this.settled();
    if (this.failure) throw this.failure.error;
    const parts = this.done.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.target.bucket,
        Key: this.target.key,
        UploadId: await this.uploadId!,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  /** After a failure: waits for the parts in flight, then aborts the upload, so no part is left in the store. */
  async abort(): Promise<void> {
    await this.settled();
    const uploadId = await this.uploadId?.catch(() => undefined);
    if (uploadId === undefined) return;
    try {
      await this.s3.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: uploadId }),
      );
    } catch {
      // The failure that led here is the one to report; `npm run abort-stale` removes what an unreachable store keeps.
    }
  }

  /** A free buffer: the caller has made sure that fewer than queueSize parts are in flight. */
  private take(): Buffer {
    const buffer = this.free.pop();
    if (buffer !== undefined) return buffer;
    // At most queueSize + 1 are ever made: queueSize in flight hold theirs, and a settled part gives its back.
    // Never read beyond what was copied in (each part is sent as a subarray of its filled bytes).
    return Buffer.allocUnsafeSlow(this.s3.partSize);
  }

  private async sendFilling(): Promise<void> {
    const buffer = this.filling!;
    const length = this.filled;
    this.filling = undefined;
    this.filled = 0;
    this.partNumber += 1;
    if (this.partNumber > MAX_PARTS) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `the upload needs more than ${MAX_PARTS} parts of ${this.s3.partSize} bytes (UPLOAD_PART_SIZE)`,
      );
    }
    this.uploadId ??= this.create();
    const uploadId = await this.uploadId;
    while (this.inFlight.size >= this.s3.queueSize && !this.failure) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure.error;
    const partNumber = this.partNumber;
    const sent: Promise<void> = this.s3.client
      .send(
        new UploadPartCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: buffer.subarray(0, length),
        }),
      )
      .then((r) => {
        if (!r.ETag) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no ETag for a part');
        this.done.push({
          PartNumber: partNumber,
          ETag: r.ETag,
          ...(r.ChecksumCRC32 && { ChecksumCRC32: r.ChecksumCRC32 }),
          ...(r.ChecksumCRC32C && { ChecksumCRC32C: r.ChecksumCRC32C }),
          ...(r.ChecksumCRC64NVME && { ChecksumCRC64NVME: r.ChecksumCRC64NVME }),
          ...(r.ChecksumSHA1 && { ChecksumSHA1: r.ChecksumSHA1 }),
          ...(r.ChecksumSHA256 && { ChecksumSHA256: r.ChecksumSHA256 }),
        });
        this.free.push(buffer);
      })
      .catch((error: unknown) => {
        // The buffer is not reused: the upload stops.
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  private async create(): Promise<string> {
    // As lib-storage did: with S3_CHECKSUM=when_supported the parts carry CRC32s, which the upload must announce.
    const checksum = (await this.s3.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
    const r = await this.s3.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.target.bucket,
        Key: this.target.key,
        ContentType: this.target.contentType,
        Metadata: this.target.metadata,
        ...(checksum && { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 }),
      }),
    );
    if (!r.UploadId) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no upload id');
    return r.UploadId;
  }

  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }
}
