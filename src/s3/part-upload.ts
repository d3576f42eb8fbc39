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
import { bodyBytesDone } from '../core/young-garbage.js';
import type { StoreContext } from './shared.js';

/**
 * uploadStream's writer: a body of unknown length into one object, with a
 * memory bound that does not depend on the body's size.
 *
 * A body of at most `partSize` bytes is one PutObject; a longer one is a
 * multipart upload. Past its first MiB, a body is copied into a pool of at
 * most `queueSize + 1` buffers of `partSize` bytes, allocated as needed and
 * only for this upload: `queueSize` parts in flight and the one filling.
 * A buffer is filled again only once the UploadPart that carried it has
 * settled (the SDK retries inside `send`, so until then it may still be
 * read). While every slot is busy, the body is not read, which slows the
 * client down instead of buffering more.
 *
 * So one upload holds at most partSize × (queueSize + 1) bytes of parts
 * (40 MiB with the defaults, 24 MiB on the embedded store), whatever the
 * body's size. lib-storage's Upload, used before, `Buffer.concat`s a new
 * buffer for every part: those outlive the young generation's collections
 * while their part uploads, and piled up as garbage until a full
 * collection, so the peak grew with the file's size.
 *
 * A pool per upload rather than one per process: a shared pool would keep
 * its memory while the server is idle, or make an upload wait for another's
 * buffers without reading its client, which the slow-client guard
 * (MIN_UPLOAD_BYTES_PER_SECOND) would then cut. How many uploads run at once
 * is bounded by the connection limits (MAX_CONNECTIONS and
 * MAX_CONNECTIONS_PER_CLIENT), as it was with lib-storage.
 */

export interface UploadTarget {
  bucket: string;
  key: string;
  contentType?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

/**
 * A body up to this size is kept as the chunks it came in, so a small file
 * costs its own size; a larger one is copied into the pool from here on, so
 * its first part does not linger as chunks outliving the young generation.
 */
const SMALL_BODY_BYTES = 1024 * 1024;

/** Writes `chunks` to the target; on any failure a multipart upload it opened is aborted before this rejects. */
export async function writeObject(
  s3: StoreContext,
  target: UploadTarget,
  chunks: AsyncIterable<Buffer>,
): Promise<void> {
  let small: Buffer[] | undefined = [];
  let smallBytes = 0;
  let parts: PartWriter | undefined;
  try {
    for await (const chunk of chunks) {
      if (small === undefined) {
        await parts!.add(chunk);
        continue;
      }
      small.push(chunk);
      smallBytes += chunk.length;
      if (smallBytes <= SMALL_BODY_BYTES) continue;
      parts = new PartWriter(s3, target);
      for (const c of small) await parts.add(c);
      small = undefined;
    }
    if (small !== undefined) {
      await putObject(s3, target, small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes));
    } else {
      await parts!.finish();
    }
  } catch (e) {
    await parts?.abort();
    throw e;
  }
}

function putObject(s3: StoreContext, target: UploadTarget, body: Buffer) {
  return s3.client.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: body,
      ContentType: target.contentType,
      Metadata: target.metadata,
    }),
  );
}

/**
 * A body fed chunk by chunk into a bounded pool of part buffers: one
 * PutObject when it ends within the first part, else a multipart upload (a
 * full part is sent once the next byte shows that another part follows).
 */
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

  /** Copies chunk into the pool, sending each full part; waits while every slot is in flight. */
  async add(chunk: Buffer): Promise<void> {
    const { partSize } = this.s3;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.filled === partSize) await this.sendFilling();
      this.filling ??= this.take();
      const n = Math.min(partSize - this.filled, chunk.length - offset);
      chunk.copy(this.filling, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
    }
    bodyBytesDone(chunk.length);
  }

  /** The whole body is in: one PutObject if it fits in one part, else the last part and the completion. */
  async finish(): Promise<void> {
    if (this.partNumber === 0) {
      await putObject(this.s3, this.target, this.filling!.subarray(0, this.filled));
      return;
    }
    await this.sendFilling();
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
