/**
 * Request and response headers: reading them as one string, the object
 * headers a write sets, Content-MD5, the announced body length, checksum
 * headers, and the date and ETag formats S3 answers with.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { MAX_METADATA_BYTES } from '../../core/s3-rules.js';
import { isStoredChecksum } from '../auth/checksums.js';
import { errors, S3Error } from '../errors.js';
import type { ObjectHeaders } from '../storage/records.js';

/** A request header as one string (repeated headers joined with commas, as HTTP allows). */
export function headerValue(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function quoted(etag: string): string {
  return `"${etag}"`;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Header text for arbitrary strings: UTF-8 bytes as latin1 characters; control characters refused. */
export function headerText(value: string, name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\0-\x08\n-\x1f\x7f]/.test(value)) throw errors.invalidArgument(`Invalid value for ${name}`, name, '');
  return /[^\0-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** Sum of user metadata names and values in bytes, as S3 counts it against MAX_METADATA_BYTES. */
function userMetadataBytes(metadata: Record<string, string>): number {
  let total = 0;
  for (const [name, value] of Object.entries(metadata)) total += Buffer.byteLength(name) + Buffer.byteLength(value);
  return total;
}

/**
 * What a PutObject, CreateMultipartUpload or CopyObject (REPLACE) sets
 * besides the bytes, from its headers; for a POST Object, from its form
 * fields by lower-case name.
 */
export function objectHeaders(req: { headers: IncomingHttpHeaders }): ObjectHeaders {
  const headers: ObjectHeaders = {
    contentType: headerValue(req, 'content-type') || 'binary/octet-stream',
    metadata: {},
  };
  const encoding = headerValue(req, 'content-encoding')
    ?.split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked')
    .join(',');
  if (encoding) headers.contentEncoding = encoding;
  const disposition = headerValue(req, 'content-disposition');
  if (disposition !== undefined) headers.contentDisposition = disposition;
  const language = headerValue(req, 'content-language');
  if (language !== undefined) headers.contentLanguage = language;
  const cacheControl = headerValue(req, 'cache-control');
  if (cacheControl !== undefined) headers.cacheControl = cacheControl;
  const expires = headerValue(req, 'expires');
  if (expires !== undefined) headers.expires = expires;
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-amz-meta-') && name.length > 'x-amz-meta-'.length) {
      headers.metadata[name.slice('x-amz-meta-'.length)] = headerValue(req, name)!;
    }
  }
  if (userMetadataBytes(headers.metadata) > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      MaxSizeAllowed: String(MAX_METADATA_BYTES),
    });
  }
  return headers;
}

export function contentMd5(req: IncomingMessage): Buffer | undefined {
  const value = headerValue(req, 'content-md5');
  if (value === undefined) return undefined;
  const digest = Buffer.from(value.trim(), 'base64');
  if (digest.length !== 16 || digest.toString('base64') !== value.trim()) {
    throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
  }
  return digest;
}

export function hasBody(req: IncomingMessage): boolean {
  const length = headerValue(req, 'content-length');
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

/** The payload length the client announced: x-amz-decoded-content-length for aws-chunked, else Content-Length. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  const sha = headerValue(req, 'x-amz-content-sha256') ?? '';
  const raw = sha.startsWith('STREAMING-') ? decoded : headerValue(req, 'content-length');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/** Checks the declared size of an upload before its body is read. */
export function checkDeclaredSize(req: IncomingMessage, max: number): number | undefined {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > max) throw errors.entityTooLarge(max);
  return declared;
}

/** DeleteObjects and PutBucketCors need Content-MD5 or a flexible checksum (header or trailer). */
export function requireIntegrityHeader(req: IncomingMessage): void {
  const trailer = headerValue(req, 'x-amz-trailer') ?? '';
  const present =
    req.headers['content-md5'] !== undefined ||
    Object.keys(req.headers).some(isStoredChecksum) ||
    trailer.split(',').some((name) => isStoredChecksum(name.trim().toLowerCase()));
  if (!present) {
    throw errors.invalidRequest('Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
  }
}

/** The flexible checksums a verified body carried (Content-MD5 excluded: it is not returned as a checksum). */
export function pickChecksums(checksums: Record<string, string>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(checksums)) if (isStoredChecksum(name)) picked[name] = value;
  return picked;
}

export function setChecksumHeaders(res: ServerResponse, checksums: Record<string, string>): void {
  for (const [name, value] of Object.entries(checksums)) {
    if (isStoredChecksum(name)) res.setHeader(name, value);
  }
}
