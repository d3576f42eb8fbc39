import { GetObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { badInput } from '../core/errors.js';
import { FILENAME_VARIABLE, MAX_PRESIGN_EXPIRES_SECONDS as MAX_PRESIGN_SECONDS } from '../core/s3-rules.js';
import { call } from './errors.js';
import { partNumberError } from './multipart.js';
import type { StoreContext } from './shared.js';
import type { PostPolicy, PresignedPostResult, PresignResult } from './types.js';

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

/**
 * A presigned POST form (S3 POST Object with a SigV4 policy): the URL and the
 * fields to send, in order, before the file. The policy holds `bucket`, the
 * key (eq, or starts-with the prefix, the `key` field then being
 * `<prefix>${filename}`), `content-length-range` [minBytes, maxBytes],
 * Content-Type (eq or starts-with), every x-amz-meta-* entry and
 * success_action_status (eq), and the credential, algorithm and date fields.
 * The caller validates every value first.
 */
export async function presignPost(s3: StoreContext, policy: PostPolicy): Promise<PresignedPostResult> {
  checkExpiresIn(policy.expiresIn);
  const { bucket } = policy;
  const Key = 'key' in policy ? policy.key : `${policy.keyPrefix}${FILENAME_VARIABLE}`;
  const Fields: Record<string, string> = {};
  const Conditions: Parameters<typeof createPresignedPost>[1]['Conditions'] = [
    ['content-length-range', policy.minBytes, policy.maxBytes],
  ];
  if (policy.contentType !== undefined) Fields['Content-Type'] = policy.contentType;
  if (policy.contentTypePrefix !== undefined)
    Conditions.push(['starts-with', '$Content-Type', policy.contentTypePrefix]);
  for (const [name, value] of Object.entries(policy.metadata ?? {})) Fields[`x-amz-meta-${name}`] = value;
  Fields.success_action_status = String(policy.successStatus);
  // Every field becomes an eq condition of the policy (the SDK adds them).
  return call({ bucket }, async () => {
    const post = await createPresignedPost(s3.presignClient, {
      Bucket: bucket,
      Key,
      Conditions,
      Fields,
      Expires: policy.expiresIn,
    });
    const fields = Object.entries(post.fields).map(([key, value]) => ({ key, value }));
    return { url: post.url, fields, expiresAt: policyExpiration(post.fields.Policy) };
  });
}

/** The policy's own expiration: the SDK takes the time itself, and S3 holds the form to it. */
function policyExpiration(policy: string | undefined): Date {
  const { expiration } = JSON.parse(Buffer.from(policy ?? '', 'base64').toString('utf8')) as { expiration: string };
  return new Date(expiration);
}
