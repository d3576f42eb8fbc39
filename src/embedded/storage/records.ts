/**
 * What the store writes about its data, and reads back: object and part
 * trailers, bucket.json and upload.json. Each record has a zod schema; a file
 * that fails its schema is reported and skipped by the caller.
 *
 * An object file (and a part file) is the object's bytes followed by a
 * trailer: its record as JSON (including the real key), the JSON's length
 * (u32 BE) and an 8-byte magic.
 */
import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { readFully } from './files.js';

const TRAILER_MAGIC = Buffer.from('S3EMBTR1', 'latin1');
const TRAILER_FIXED = 4 + TRAILER_MAGIC.length;
const TRAILER_PROBE = 4096;

const count = z.number().int().nonnegative();
const stringRecord = z.record(z.string(), z.string());

/** What a client sets on an object besides its bytes. */
const objectHeadersSchema = z.object({
  contentType: z.string(),
  contentEncoding: z.string().optional(),
  contentDisposition: z.string().optional(),
  contentLanguage: z.string().optional(),
  cacheControl: z.string().optional(),
  expires: z.string().optional(),
  /** User metadata: names lower-cased, without the `x-amz-meta-` prefix. */
  metadata: stringRecord,
});
export type ObjectHeaders = z.infer<typeof objectHeadersSchema>;

const objectMetaSchema = objectHeadersSchema.extend({
  key: z.string(),
  size: count,
  /** Hex MD5, or `<hex>-<parts>` for a multipart object; without quotes. */
  etag: z.string(),
  /** Milliseconds since the epoch. */
  lastModified: z.number(),
  /** Full-object checksums the client sent and the store verified: header name (x-amz-checksum-*) to base64. */
  checksums: stringRecord.optional(),
  /** Multipart objects: the size of each part, in order (GetObject ?partNumber). */
  partSizes: z.array(count).optional(),
});
/** An object's record, kept in its file's trailer. */
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

const partSchema = z.object({
  partNumber: z.number().int().positive(),
  size: count,
  etag: z.string(),
  lastModified: z.number(),
});
/** A part's record, kept in its file's trailer. */
export type PartInfo = z.infer<typeof partSchema>;

const corsRuleSchema = z.object({
  id: z.string().optional(),
  allowedOrigins: z.array(z.string()),
  allowedMethods: z.array(z.string()),
  allowedHeaders: z.array(z.string()),
  exposeHeaders: z.array(z.string()),
  maxAgeSeconds: count.optional(),
});
export type CorsRule = z.infer<typeof corsRuleSchema>;

const bucketFileSchema = z.object({
  creationDate: z.number(),
  locationConstraint: z.string().optional(),
  cors: z.array(corsRuleSchema).optional(),
});
/** buckets/<bucket>/bucket.json */
export type BucketFile = z.infer<typeof bucketFileSchema>;

const uploadFileSchema = z.object({
  uploadId: z.string(),
  key: z.string(),
  initiated: z.number(),
  headers: objectHeadersSchema,
});
/** buckets/<bucket>/uploads/<id>/upload.json */
export type UploadInfo = z.infer<typeof uploadFileSchema>;

/** One key in the listing index. */
export interface IndexEntry {
  key: string;
  size: number;
  etag: string;
  lastModified: number;
}

export interface BucketInfo {
  name: string;
  creationDate: Date;
  locationConstraint?: string;
}

/** bucket.json's record from its text; throws when it is not one. */
export function parseBucketFile(text: string): BucketFile {
  return bucketFileSchema.parse(JSON.parse(text));
}

/** upload.json's record from its text; throws when it is not one. */
export function parseUploadFile(text: string): UploadInfo {
  return uploadFileSchema.parse(JSON.parse(text));
}

/** The settable part of an object's metadata. */
export function headersOf(meta: ObjectMeta): ObjectHeaders {
  const headers: ObjectHeaders = { contentType: meta.contentType, metadata: { ...meta.metadata } };
  if (meta.contentEncoding !== undefined) headers.contentEncoding = meta.contentEncoding;
  if (meta.contentDisposition !== undefined) headers.contentDisposition = meta.contentDisposition;
  if (meta.contentLanguage !== undefined) headers.contentLanguage = meta.contentLanguage;
  if (meta.cacheControl !== undefined) headers.cacheControl = meta.cacheControl;
  if (meta.expires !== undefined) headers.expires = meta.expires;
  return headers;
}

export function encodeTrailer(record: ObjectMeta | PartInfo): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([json, length, TRAILER_MAGIC]);
}

/** Reads the trailer of an object or part file: its JSON and the size of the data before it. */
async function readTrailer(fh: FileHandle): Promise<{ json: unknown; dataSize: number }> {
  const { size } = await fh.stat();
  if (size < TRAILER_FIXED) throw new Error('file too short for a trailer');
  const probe = Buffer.allocUnsafe(Math.min(size, TRAILER_PROBE));
  await readFully(fh, probe, size - probe.length);
  if (!probe.subarray(probe.length - TRAILER_MAGIC.length).equals(TRAILER_MAGIC)) throw new Error('bad trailer magic');
  const jsonLength = probe.readUInt32BE(probe.length - TRAILER_FIXED);
  const dataSize = size - TRAILER_FIXED - jsonLength;
  if (dataSize < 0) throw new Error('bad trailer length');
  let json: Buffer;
  if (jsonLength + TRAILER_FIXED <= probe.length) {
    json = probe.subarray(probe.length - TRAILER_FIXED - jsonLength, probe.length - TRAILER_FIXED);
  } else {
    json = Buffer.allocUnsafe(jsonLength);
    await readFully(fh, json, dataSize);
  }
  return { json: JSON.parse(json.toString('utf8')), dataSize };
}

export async function readObjectTrailer(fh: FileHandle): Promise<ObjectMeta> {
  const { json, dataSize } = await readTrailer(fh);
  const meta = objectMetaSchema.parse(json);
  if (meta.size !== dataSize) throw new Error('trailer size does not match the data');
  return meta;
}

export async function readPartTrailer(fh: FileHandle): Promise<PartInfo> {
  const { json, dataSize } = await readTrailer(fh);
  const part = partSchema.parse(json);
  if (part.size !== dataSize) throw new Error('trailer size does not match the data');
  return part;
}
