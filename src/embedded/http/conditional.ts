/**
 * Conditional requests: If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since on reads and copy sources, If-Match and
 * If-None-Match: * on writes; and Range.
 */
import type { IncomingMessage } from 'node:http';
import { errors } from '../errors.js';
import { etagMatches, type WriteConditions } from '../storage/objects.js';
import type { ObjectMeta } from '../storage/records.js';
import { headerValue } from './headers.js';

/** bytes=a-b, bytes=a-, bytes=-n as an inclusive range; undefined to ignore the header (absent or not one valid range). */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1) };
}

/**
 * RFC 7232 / S3 conditional request evaluation. If-Match wins over
 * If-Unmodified-Since, If-None-Match over If-Modified-Since. Returns
 * 'not-modified' (304 for reads), throws PreconditionFailed.
 */
export function evaluateConditions(
  get: (name: string) => string | undefined,
  meta: ObjectMeta,
  prefix = '',
): 'ok' | 'not-modified' {
  const lastModified = Math.floor(meta.lastModified / 1000) * 1000;
  const ifMatch = get(`${prefix}if-match`);
  const ifNoneMatch = get(`${prefix}if-none-match`);
  const ifModifiedSince = get(`${prefix}if-modified-since`);
  const ifUnmodifiedSince = get(`${prefix}if-unmodified-since`);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) throw errors.preconditionFailed(`${prefix}If-Match`);
  } else if (ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(since) && lastModified > since) throw errors.preconditionFailed(`${prefix}If-Unmodified-Since`);
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) return 'not-modified';
  } else if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (!Number.isNaN(since) && lastModified <= since) return 'not-modified';
  }
  return 'ok';
}

/** A write's conditions: If-Match, and If-None-Match, which S3 supports only as `*`. */
export function writeConditions(req: IncomingMessage): WriteConditions | undefined {
  const ifMatch = headerValue(req, 'if-match');
  const ifNoneMatch = headerValue(req, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw errors.notImplemented({ Header: 'If-None-Match' });
  return {
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch: '*' } : {}),
  };
}
