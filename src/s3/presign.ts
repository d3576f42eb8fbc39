import { GetObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { badInput } from '../core/errors.js';
import { MAX_PRESIGN_EXPIRES_SECONDS as MAX_PRESIGN_SECONDS } from '../core/s3-rules.js';
import { call } from './errors.js';
import { partNumberError } from './multipart.js';
import type { StoreContext } from './shared.js';
import type { PresignResult } from './types.js';

/** Presigned URLs, signed by the presign client for the public endpoint; nothing is sent to the store. */

function checkExpiresIn(expiresIn: number): void {
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
    throw badInput('expiresIn', `must be a whole number of seconds from 1 to ${MAX_PRESIGN_SECONDS}`);
  }
}

const expiresAt = (expiresIn: number) => new Date(Date.now() + expiresIn * 1000);

export async function presignGet(
  s3: StoreContext,
  bucket: string,
  key: string,
  expiresIn: number,
  opts: { responseContentDisposition?: string },
): Promise<PresignResult> {
  checkExpiresIn(expiresIn);
  return call({ bucket, key }, async () => {
    const command = new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ResponseContentDisposition: opts.responseContentDisposition,
    });
    const url = await getSignedUrl(s3.presignClient, command, { expiresIn });
    return { url, expiresAt: expiresAt(expiresIn), headers: [] };
  });
}

export async function presignPut(
  s3: StoreContext,
  bucket: string,
  key: string,
  expiresIn: number,
  opts: { contentType?: string },
): Promise<PresignResult> {
  checkExpiresIn(expiresIn);
  return call({ bucket, key }, async () => {
    const command = new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: opts.contentType });
    const url = await getSignedUrl(s3.presignClient, command, {
      expiresIn,
      signableHeaders: opts.contentType !== undefined ? new Set(['content-type']) : undefined,
    });
    const headers = opts.contentType !== undefined ? [{ key: 'content-type', value: opts.contentType }] : [];
    return { url, expiresAt: expiresAt(expiresIn), headers };
  });
}

export async function presignUploadPart(
  s3: StoreContext,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  expiresIn: number,
): Promise<PresignResult> {
  checkExpiresIn(expiresIn);
  const badPart = partNumberError(partNumber);
  if (badPart) throw badPart;
  return call({ bucket, key, uploadId }, async () => {
    const command = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber });
    const url = await getSignedUrl(s3.presignClient, command, { expiresIn });
    return { url, expiresAt: expiresAt(expiresIn), headers: [] };
  });
}
