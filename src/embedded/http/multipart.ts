/**
 * Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
 * ListParts, ListMultipartUploads, CompleteMultipartUpload and
 * AbortMultipartUpload.
 */
import { MAX_LIST_KEYS, MAX_PART_NUMBER, MAX_PART_SIZE } from '../../core/s3-rules.js';
import { errors } from '../errors.js';
import { writeConditions } from './conditional.js';
import { body, readDocument, requireBucket, send, sendXml, storeWork, type Ctx } from './context.js';
import {
  checkDeclaredSize,
  contentMd5,
  headerValue,
  isoDate,
  objectHeaders,
  quoted,
  setChecksumHeaders,
} from './headers.js';
import { copySource } from './objects.js';
import { encodingType, parseIntParam } from './query.js';
import { parseCompleteMultipartUpload, urlEncodeKey } from './xml.js';

/** A CompleteMultipartUpload document may list 10000 parts. */
const COMPLETE_DOC_LIMIT = 8 * 1024 * 1024;

export async function createMultipartUpload(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const upload = await ctx.store.storage.createMultipartUpload(bucket, ctx.key!, objectHeaders(ctx.req));
  sendXml(ctx, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: upload.key, UploadId: upload.uploadId });
}

function partTarget(ctx: Ctx): { bucket: string; uploadId: string; partNumber: number } {
  const bucket = requireBucket(ctx);
  const uploadId = ctx.query.get('uploadId');
  const part = ctx.query.get('partNumber');
  if (uploadId === null || part === null) {
    throw errors.invalidRequest('UploadPart needs both the uploadId and the partNumber query parameters');
  }
  if (!/^\d{1,5}$/.test(part) || Number(part) < 1 || Number(part) > MAX_PART_NUMBER) {
    throw errors.invalidArgument(
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      'partNumber',
      part,
    );
  }
  ctx.store.storage.assertUpload(bucket, ctx.key!, uploadId);
  return { bucket, uploadId, partNumber: Number(part) };
}

export async function uploadPart(ctx: Ctx): Promise<void> {
  const { bucket, uploadId, partNumber } = partTarget(ctx);
  const md5 = contentMd5(ctx.req);
  const expectedSize = checkDeclaredSize(ctx.req, MAX_PART_SIZE);
  const decoded = body(ctx);
  const part = await ctx.store.storage.uploadPart(bucket, ctx.key!, uploadId, partNumber, decoded, {
    ...(md5 ? { contentMd5: md5 } : {}),
    ...(expectedSize !== undefined ? { expectedSize } : {}),
  });
  setChecksumHeaders(ctx.res, decoded.checksums);
  send(ctx, 200, undefined, { ETag: quoted(part.etag) });
}

export async function uploadPartCopy(ctx: Ctx): Promise<void> {
  const { bucket, uploadId, partNumber } = partTarget(ctx);
  const source = copySource(ctx, true);
  const part = await storeWork(ctx, () =>
    ctx.store.storage.uploadPartCopy(bucket, ctx.key!, uploadId, partNumber, source),
  );
  sendXml(ctx, 'CopyPartResult', { LastModified: isoDate(part.lastModified), ETag: quoted(part.etag) });
}

export async function listParts(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const { owner } = ctx.store;
  const uploadId = ctx.query.get('uploadId')!;
  const maxParts = parseIntParam(ctx.query, 'max-parts', MAX_LIST_KEYS, 0, MAX_LIST_KEYS);
  const marker = parseIntParam(ctx.query, 'part-number-marker', 0, 0, MAX_PART_NUMBER);
  const page = await ctx.store.storage.listParts(bucket, ctx.key!, uploadId, { partNumberMarker: marker, maxParts });
  sendXml(ctx, 'ListPartsResult', {
    Bucket: bucket,
    Key: ctx.key!,
    UploadId: uploadId,
    Initiator: owner,
    Owner: owner,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: page.nextPartNumberMarker,
    MaxParts: maxParts,
    IsTruncated: page.truncated,
    Part: page.parts.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: isoDate(p.lastModified),
      ETag: quoted(p.etag),
      Size: p.size,
    })),
  });
}

export async function listMultipartUploads(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const { owner } = ctx.store;
  const encoded = encodingType(ctx.query);
  const encode = encoded ? urlEncodeKey : (s: string) => s;
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') ?? '';
  const keyMarker = ctx.query.get('key-marker') ?? '';
  const uploadIdMarker = ctx.query.get('upload-id-marker') ?? '';
  const maxUploads = parseIntParam(ctx.query, 'max-uploads', MAX_LIST_KEYS, 0, MAX_LIST_KEYS);
  const page = ctx.store.storage.listMultipartUploads(bucket, {
    prefix,
    delimiter,
    maxUploads,
    ...(keyMarker !== '' ? { keyMarker } : {}),
    ...(keyMarker !== '' && uploadIdMarker !== '' ? { uploadIdMarker } : {}),
  });
  sendXml(ctx, 'ListMultipartUploadsResult', {
    Bucket: bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: page.nextKeyMarker === undefined ? undefined : encode(page.nextKeyMarker),
    NextUploadIdMarker: page.nextUploadIdMarker,
    Delimiter: delimiter === '' ? undefined : encode(delimiter),
    Prefix: encode(prefix),
    EncodingType: encoded ? 'url' : undefined,
    MaxUploads: maxUploads,
    IsTruncated: page.truncated,
    Upload: page.uploads.map((u) => ({
      Key: encode(u.key),
      UploadId: u.uploadId,
      Initiator: owner,
      Owner: owner,
      StorageClass: 'STANDARD',
      Initiated: isoDate(u.initiated),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  });
}

export async function completeMultipartUpload(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const key = ctx.key!;
  const uploadId = ctx.query.get('uploadId')!;
  ctx.store.storage.assertUpload(bucket, key, uploadId);
  const conditions = writeConditions(ctx.req);
  const parts = parseCompleteMultipartUpload(await readDocument(ctx, COMPLETE_DOC_LIMIT));
  const meta = await storeWork(ctx, () =>
    ctx.store.storage.completeMultipartUpload(bucket, key, uploadId, parts, conditions),
  );
  const host = headerValue(ctx.req, 'host') ?? 'localhost';
  const location = `http://${host}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  sendXml(ctx, 'CompleteMultipartUploadResult', {
    Location: location,
    Bucket: bucket,
    Key: key,
    ETag: quoted(meta.etag),
  });
}

export async function abortMultipartUpload(ctx: Ctx): Promise<void> {
  await ctx.store.storage.abortMultipartUpload(requireBucket(ctx), ctx.key!, ctx.query.get('uploadId')!);
  send(ctx, 204);
}
