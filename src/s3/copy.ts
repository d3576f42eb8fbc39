import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { forEachLimited } from '../core/concurrency.js';
import { AppError, badInput } from '../core/errors.js';
import { MAX_PART_NUMBER as MAX_PARTS } from '../core/s3-rules.js';
import { call, s3ErrorName, toAppError } from './errors.js';
import { headObject, headStored } from './objects.js';
import { quoteEtag, type StoreContext } from './shared.js';
import type { ObjectHead } from './types.js';

/** Server-side copy: one CopyObject, or UploadPartCopy part by part above the CopyObject limit. */

/** `bucket/key` for x-amz-copy-source, each key segment percent-encoded ('/' kept as the separator). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

type Location = { bucket: string; key: string };

export async function copyObject(
  s3: StoreContext,
  src: Location,
  dst: Location,
  beforeCopy?: (source: ObjectHead) => void,
): Promise<ObjectHead> {
  if (src.bucket === dst.bucket && src.key === dst.key) {
    throw badInput('key', 'the source and the destination are the same object');
  }
  const source = await headObject(s3, src.bucket, src.key);
  if (source === null) {
    throw new AppError('NO_SUCH_KEY', `object "${src.key}" in bucket "${src.bucket}" does not exist`);
  }
  beforeCopy?.(source);
  // Every copy call sends CopySourceIfMatch with the HEAD's ETag, so what is
  // copied is the source `beforeCopy` approved: one replaced since then fails
  // with PreconditionFailed, which names the race. A missing source (deleted
  // since the HEAD) names the source, anything else the destination.
  await call(
    (e) => {
      const name = s3ErrorName(e);
      if (name === 'PreconditionFailed') return sourceChanged(src, e);
      return toAppError(e, name === 'NoSuchKey' ? src : dst);
    },
    async () => {
      if (source.size > s3.copyMultipartThreshold) {
        await copyMultipart(s3, source, dst);
      } else {
        await s3.client.send(
          new CopyObjectCommand({
            Bucket: dst.bucket,
            Key: dst.key,
            CopySource: copySource(src.bucket, src.key),
            CopySourceIfMatch: quoteEtag(source.etag),
          }),
        );
      }
    },
  );
  return headStored(s3, dst.bucket, dst.key);
}

/**
 * The source was replaced between its HEAD and the copy: a conflict the
 * caller can retry (BAD_USER_INPUT is the contract's code for a refused
 * request; 409 on the HTTP routes), with nothing stored.
 */
function sourceChanged(src: Location, cause: unknown): AppError {
  const err = new AppError(
    'BAD_USER_INPUT',
    `sourceKey: object ${JSON.stringify(src.key)} in bucket ${JSON.stringify(src.bucket)} changed while it was being copied; nothing was stored, try again`,
    { argument: 'sourceKey', httpStatus: 409 },
  );
  err.cause = cause;
  return err;
}

/** Copies an object above the CopyObject limit with UploadPartCopy, queueSize parts at a time. */
async function copyMultipart(s3: StoreContext, source: ObjectHead, dst: Location): Promise<void> {
  const partSize = Math.max(s3.copyPartSize, Math.ceil(source.size / MAX_PARTS));
  const partCount = Math.ceil(source.size / partSize);
  const created = await s3.client.send(
    new CreateMultipartUploadCommand({
      Bucket: dst.bucket,
      Key: dst.key,
      ContentType: source.contentType,
      Metadata: source.metadata,
      CacheControl: source.cacheControl,
      ContentDisposition: source.contentDisposition,
      ContentEncoding: source.contentEncoding,
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new AppError('INTERNAL_SERVER_ERROR', 'the object store returned no upload id');
  const from = copySource(source.bucket, source.key);
  const parts: { PartNumber: number; ETag: string }[] = [];
  const copyPart = async (partNumber: number) => {
    const start = (partNumber - 1) * partSize;
    const end = Math.min(start + partSize, source.size) - 1;
    const r = await s3.client.send(
      new UploadPartCopyCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: from,
        CopySourceRange: `bytes=${start}-${end}`,
        CopySourceIfMatch: quoteEtag(source.etag),
      }),
    );
    parts.push({ PartNumber: partNumber, ETag: r.CopyPartResult?.ETag ?? '' });
  };
  try {
    const partNumbers = Array.from({ length: partCount }, (_, i) => i + 1);
    await forEachLimited(partNumbers, s3.queueSize, copyPart);
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (e) {
    // Leave no parts behind; the copy's own failure is the error to report.
    await s3.client
      .send(new AbortMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId: uploadId }))
      .catch(() => undefined);
    throw e;
  }
}
