/**
 * Objects: PutObject, GetObject and HeadObject (ranges, parts, conditions,
 * response-* overrides), DeleteObject and CopyObject; and the copy source
 * UploadPartCopy shares.
 */
import { MAX_OBJECT_SIZE, MAX_PART_NUMBER } from '../../core/s3-rules.js';
import { errors, S3Error } from '../errors.js';
import { validateKey } from '../storage/layout.js';
import type { CopySource } from '../storage/objects.js';
import { evaluateConditions, parseRange, writeConditions } from './conditional.js';
import { body, requireBucket, send, sendXml, storeWork, type Ctx } from './context.js';
import {
  checkDeclaredSize,
  contentMd5,
  headerText,
  headerValue,
  httpDate,
  isoDate,
  objectHeaders,
  pickChecksums,
  quoted,
  setChecksumHeaders,
} from './headers.js';
import { checkVersionId, parseIntParam } from './query.js';

/** GetObject's response-* parameters and the headers they override. */
const OVERRIDES = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
] as const;

export async function putObject(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const key = ctx.key!;
  validateKey(key);
  const headers = objectHeaders(ctx.req);
  const md5 = contentMd5(ctx.req);
  const conditions = writeConditions(ctx.req);
  const expectedSize = checkDeclaredSize(ctx.req, MAX_OBJECT_SIZE);
  const decoded = body(ctx);
  const meta = await ctx.store.storage.putObject(bucket, key, decoded, headers, {
    ...(md5 ? { contentMd5: md5 } : {}),
    ...(expectedSize !== undefined ? { expectedSize } : {}),
    ...(conditions ? { conditions } : {}),
    checksums: () => pickChecksums(decoded.checksums),
  });
  setChecksumHeaders(ctx.res, meta.checksums ?? {});
  send(ctx, 200, undefined, { ETag: quoted(meta.etag) });
}

/** GetObject, and HeadObject (the same answer without the body). */
export async function getObject(ctx: Ctx): Promise<void> {
  const { req, res, query } = ctx;
  const bucket = requireBucket(ctx);
  checkVersionId(query);
  const partParam = query.get('partNumber');
  const rangeHeader = headerValue(req, 'range');
  if (partParam !== null && rangeHeader !== undefined) {
    throw errors.invalidRequest('Cannot specify both Range header and partNumber query parameter');
  }
  const overrides: Array<[string, string]> = [];
  for (const [param, name] of OVERRIDES) {
    const value = query.get(param);
    if (value !== null) overrides.push([name, headerText(value, param)]);
  }
  const object = await ctx.store.storage.openObject(bucket, ctx.key!);
  let streaming = false;
  try {
    const { meta } = object;
    if (evaluateConditions((name) => headerValue(req, name), meta) === 'not-modified') {
      send(ctx, 304, undefined, { ETag: quoted(meta.etag), 'Last-Modified': httpDate(meta.lastModified) });
      return;
    }
    let range: { start: number; end: number } | undefined;
    let partsCount: number | undefined;
    if (partParam !== null) {
      const partNumber = parseIntParam(query, 'partNumber', 1, 1, MAX_PART_NUMBER);
      const sizes = meta.partSizes ?? [meta.size];
      if (partNumber > sizes.length) {
        throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', {
          PartNumberRequested: String(partNumber),
          ActualPartCount: String(sizes.length),
        });
      }
      const start = sizes.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
      range = { start, end: start + sizes[partNumber - 1]! - 1 };
      if (meta.partSizes) partsCount = meta.partSizes.length;
    } else {
      const parsed = parseRange(rangeHeader, meta.size);
      if (parsed === 'unsatisfiable') throw errors.invalidRange(rangeHeader ?? '', meta.size);
      range = parsed;
    }
    res.statusCode = range ? 206 : 200;
    res.setHeader('Content-Type', meta.contentType);
    if (meta.contentEncoding !== undefined) res.setHeader('Content-Encoding', meta.contentEncoding);
    if (meta.contentDisposition !== undefined) res.setHeader('Content-Disposition', meta.contentDisposition);
    if (meta.contentLanguage !== undefined) res.setHeader('Content-Language', meta.contentLanguage);
    if (meta.cacheControl !== undefined) res.setHeader('Cache-Control', meta.cacheControl);
    if (meta.expires !== undefined) res.setHeader('Expires', meta.expires);
    for (const [name, value] of Object.entries(meta.metadata)) res.setHeader(`x-amz-meta-${name}`, value);
    for (const [name, value] of overrides) res.setHeader(name, value);
    res.setHeader('ETag', quoted(meta.etag));
    res.setHeader('Last-Modified', httpDate(meta.lastModified));
    res.setHeader('Accept-Ranges', 'bytes');
    if (partsCount !== undefined) res.setHeader('x-amz-mp-parts-count', String(partsCount));
    if (!range && headerValue(req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && meta.checksums) {
      setChecksumHeaders(res, meta.checksums);
      res.setHeader('x-amz-checksum-type', 'FULL_OBJECT');
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? meta.size - 1;
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${meta.size}`);
    res.setHeader('Content-Length', String(end - start + 1));
    if (ctx.method === 'HEAD') {
      res.end();
      return;
    }
    streaming = true;
    await object.writeTo(res, start, end);
  } finally {
    if (!streaming) await object.close();
  }
}

export async function deleteObject(ctx: Ctx): Promise<void> {
  checkVersionId(ctx.query);
  await ctx.store.storage.deleteObject(requireBucket(ctx), ctx.key!);
  send(ctx, 204);
}

/** x-amz-copy-source: `[/]bucket/key[?versionId=...]`, URL-encoded; with `range`, x-amz-copy-source-range too. */
export function copySource(ctx: Ctx, range: boolean): CopySource {
  const raw = headerValue(ctx.req, 'x-amz-copy-source')!;
  const q = raw.indexOf('?');
  const path = (q === -1 ? raw : raw.slice(0, q)).replace(/^\//, '');
  if (q !== -1) {
    const versionId = new URLSearchParams(raw.slice(q + 1)).get('versionId');
    if (versionId !== null && versionId !== 'null') {
      throw errors.invalidArgument('Invalid version id specified', 'x-amz-copy-source', raw);
    }
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw errors.invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw errors.invalidArgument('Invalid copy source object key', 'x-amz-copy-source', raw);
  }
  const source: CopySource = {
    bucket: decoded.slice(0, slash),
    key: decoded.slice(slash + 1),
    check: (meta) => {
      if (evaluateConditions((name) => headerValue(ctx.req, name), meta, 'x-amz-copy-source-') === 'not-modified') {
        throw errors.preconditionFailed('x-amz-copy-source-If-None-Match');
      }
    },
  };
  if (!ctx.store.storage.hasBucket(source.bucket)) throw errors.noSuchBucket(source.bucket);
  if (range) {
    const value = headerValue(ctx.req, 'x-amz-copy-source-range');
    if (value !== undefined) {
      const match = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
      if (!match || Number(match[2]) < Number(match[1])) {
        throw errors.invalidArgument(
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
          'x-amz-copy-source-range',
          value,
        );
      }
      source.range = { start: Number(match[1]), end: Number(match[2]) };
    }
  }
  return source;
}

export async function copyObject(ctx: Ctx): Promise<void> {
  const bucket = requireBucket(ctx);
  const key = ctx.key!;
  validateKey(key);
  const source = copySource(ctx, false);
  const directive = (headerValue(ctx.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  if (source.bucket === bucket && source.key === key && directive !== 'REPLACE') {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const headers = directive === 'REPLACE' ? objectHeaders(ctx.req) : undefined;
  const meta = await storeWork(ctx, () => ctx.store.storage.copyObject(source, bucket, key, headers));
  sendXml(ctx, 'CopyObjectResult', { LastModified: isoDate(meta.lastModified), ETag: quoted(meta.etag) });
}
