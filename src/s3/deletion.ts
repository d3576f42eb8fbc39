import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  paginateListObjectsV2,
  type ObjectIdentifier,
} from '@aws-sdk/client-s3';
import { badInput } from '../core/errors.js';
import { MAX_DELETE_KEYS as MAX_DELETE_BATCH } from '../core/s3-rules.js';
import { call, s3ErrorName, toAppError } from './errors.js';
import { abortMultipartUpload, listMultipartUploads } from './multipart.js';
import { advance, type StoreContext } from './shared.js';
import type { DeleteResult } from './types.js';

/** Deleting: one object, a key list, a prefix, and a bucket (with force: everything in it first). */

export function deleteObject(s3: StoreContext, bucket: string, key: string): Promise<void> {
  return call({ bucket, key }, async () => {
    await s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });
}

export function deleteObjects(s3: StoreContext, bucket: string, keys: string[]): Promise<DeleteResult> {
  return call({ bucket }, async () => {
    const result: DeleteResult = { deleted: [], errors: [] };
    for (let i = 0; i < keys.length; i += MAX_DELETE_BATCH) {
      const batch = keys.slice(i, i + MAX_DELETE_BATCH).map((Key) => ({ Key }));
      const part = await deleteBatch(s3, bucket, batch);
      result.deleted.push(...part.deleted);
      result.errors.push(...part.errors);
    }
    return result;
  });
}

export async function deletePrefix(s3: StoreContext, bucket: string, prefix: string): Promise<DeleteResult> {
  if (prefix === '') throw badInput('prefix', 'must not be empty');
  return call({ bucket }, () => deleteAll(s3, bucket, prefix, true));
}

export function deleteBucket(s3: StoreContext, name: string, force: boolean): Promise<void> {
  const ctx = { bucket: name };
  return call(ctx, async () => {
    if (!force) {
      await s3.client.send(new DeleteBucketCommand({ Bucket: name }));
      return;
    }
    for (const upload of await listMultipartUploads(s3, name)) {
      await abortMultipartUpload(s3, name, upload.key, upload.uploadId).catch((e: unknown) => {
        if (toAppError(e).code !== 'NO_SUCH_UPLOAD') throw e;
      });
    }
    await deleteAll(s3, name, '', false);
    try {
      await s3.client.send(new DeleteBucketCommand({ Bucket: name }));
    } catch (e) {
      if (s3ErrorName(e) !== 'BucketNotEmpty') throw e;
      const notEmpty = toAppError(e, ctx);
      try {
        await deleteAllVersions(s3, name);
      } catch {
        // A store without ListObjectVersions: its first answer stands.
        throw notEmpty;
      }
      await s3.client.send(new DeleteBucketCommand({ Bucket: name }));
    }
  });
}

async function deleteBatch(s3: StoreContext, bucket: string, objects: ObjectIdentifier[]): Promise<DeleteResult> {
  if (objects.length === 0) return { deleted: [], errors: [] };
  const r = await s3.client.send(
    new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: false } }),
  );
  return {
    deleted: (r.Deleted ?? []).flatMap((d) => (d.Key !== undefined ? [d.Key] : [])),
    errors: (r.Errors ?? []).map((err) => ({
      key: err.Key ?? '',
      code: err.Code ?? 'InternalError',
      message: err.Message ?? 'the object could not be deleted',
    })),
  };
}

/**
 * Lists every object under prefix page by page and deletes each page with
 * one DeleteObjects. Keys are collected only when `collect` is set.
 */
async function deleteAll(s3: StoreContext, bucket: string, prefix: string, collect: boolean): Promise<DeleteResult> {
  const result: DeleteResult = { deleted: [], errors: [] };
  let token: string | undefined;
  const pages = paginateListObjectsV2(
    { client: s3.client, pageSize: s3.listPageSize },
    { Bucket: bucket, Prefix: prefix || undefined },
  );
  for await (const page of pages) {
    const batch = (page.Contents ?? []).flatMap((o) => (o.Key !== undefined ? [{ Key: o.Key }] : []));
    const part = await deleteBatch(s3, bucket, batch);
    if (collect) result.deleted.push(...part.deleted);
    result.errors.push(...part.errors);
    if (!page.IsTruncated) break;
    // IsTruncated ends the loop (the paginator alone goes on while a token is given); advance refuses a
    // missing or repeated token before the paginator sends it.
    token = advance(token, page.NextContinuationToken, 'object listing');
  }
  return result;
}

/**
 * Deletes every object version and delete marker. Each round lists from the
 * start again instead of following NextKeyMarker/NextVersionIdMarker: those
 * name versions this loop just deleted, which some stores (moto) answer with
 * an empty, final page. It ends when nothing is listed, or when a round
 * deletes nothing (DeleteBucket then reports the bucket not empty).
 */
async function deleteAllVersions(s3: StoreContext, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.client.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: s3.listPageSize }));
    const batch: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].flatMap((v) =>
      v.Key !== undefined ? [{ Key: v.Key, VersionId: v.VersionId }] : [],
    );
    if (batch.length === 0) return;
    let deleted = 0;
    for (let i = 0; i < batch.length; i += MAX_DELETE_BATCH) {
      deleted += (await deleteBatch(s3, bucket, batch.slice(i, i + MAX_DELETE_BATCH))).deleted.length;
    }
    if (deleted === 0) return;
  }
}
