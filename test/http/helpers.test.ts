/** The pure parts of the HTTP layer: CSRF rule, object paths, ranges, conditionals, dispositions, caching headers, upload errors. */
import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/core/errors.js';
import { isCsrfSuspect, mediaType } from '../../src/security/csrf.js';
import {
  attachmentDisposition,
  cacheHeaders,
  parseObjectPath,
  preconditionStatus,
  singleRange,
} from '../../src/http/routes/objects.js';
import { uploadError } from '../../src/http/upload.js';

describe('isCsrfSuspect', () => {
  it.each([
    ['POST', { 'content-type': 'text/plain' }, true],
    ['POST', { 'content-type': 'Multipart/Form-Data; boundary=x' }, true],
    ['POST', { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, true],
    ['POST', { 'content-type': 'text/plain, application/json' }, true],
    ['POST', {}, true],
    ['POST', { 'content-type': 'text/plain', 'x-graphql-csrf': 'yes' }, false],
    ['POST', { 'content-type': 'text/plain', 'apollo-require-preflight': 'true' }, false],
    ['POST', { 'content-type': 'text/plain', 'x-graphql-csrf': '' }, true],
    ['POST', { 'content-type': 'application/json' }, false],
    ['POST', { 'content-type': 'application/graphql-response+json; charset=utf-8' }, false],
    ['GET', {}, false],
    ['OPTIONS', {}, false],
    ['GET', { 'content-type': 'text/plain' }, true],
  ] as const)('%s %j → %s', (method, headers, suspect) => {
    expect(isCsrfSuspect(method, headers)).toBe(suspect);
  });

  it('reads the media type of a Content-Type value', () => {
    expect(mediaType(' Text/Plain ; charset=utf-8')).toBe('text/plain');
    expect(mediaType('nonsense')).toBeUndefined();
    expect(mediaType('a/b/c')).toBeUndefined();
  });
});

describe('parseObjectPath', () => {
  it('decodes each segment on its own', () => {
    expect(parseObjectPath('/objects/photos/a/b%2Fc/d%20e+f%25%C3%BC')).toEqual({
      bucket: 'photos',
      key: 'a/b/c/d e+f%ü',
    });
    expect(parseObjectPath('/objects/photos/a//b/')).toEqual({ bucket: 'photos', key: 'a//b/' });
  });

  it.each([
    '/objects/Photos/k',
    '/objects/photos/',
    '/objects/photos',
    '/objects/photos/%ZZ',
    `/objects/photos/${'k'.repeat(1025)}`,
  ])('refuses %s with BAD_USER_INPUT', (path) => {
    let caught: unknown;
    try {
      parseObjectPath(path);
    } catch (err) {
      caught = err;
    }
    expect((caught as AppError).code).toBe('BAD_USER_INPUT');
  });
});

describe('singleRange', () => {
  it.each([
    ['bytes=0-99', 'bytes=0-99'],
    ['bytes=100-', 'bytes=100-'],
    ['bytes=-5', 'bytes=-5'],
    [' Bytes = 1 - 2 ', 'bytes=1-2'],
    ['bytes=5-2', undefined],
    ['bytes=-', undefined],
    ['bytes=0-1,3-4', undefined],
    ['items=0-1', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, range) => {
    expect(singleRange(header)).toBe(range);
  });
});

describe('preconditionStatus', () => {
  const modified = new Date('2026-01-01T00:00:00Z');
  it.each([
    [{ 'if-none-match': '"abc"' }, 304],
    [{ 'if-none-match': 'W/"abc"' }, 304],
    [{ 'if-none-match': '"x", "abc"' }, 304],
    [{ 'if-none-match': '*' }, 304],
    [{ 'if-none-match': '"x"' }, undefined],
    [{ 'if-none-match': '"x"', 'if-modified-since': 'Fri, 01 Jan 2027 00:00:00 GMT' }, undefined],
    [{ 'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' }, 304],
    [{ 'if-modified-since': 'Wed, 31 Dec 2025 23:59:59 GMT' }, undefined],
    [{ 'if-modified-since': 'not a date' }, undefined],
    [{ 'if-match': '"abc"' }, undefined],
    [{ 'if-match': '"x"' }, 412],
    [{ 'if-unmodified-since': 'Wed, 31 Dec 2025 00:00:00 GMT' }, 412],
  ] as const)('%j → %s', (headers, status) => {
    expect(preconditionStatus(headers, 'abc', modified)).toBe(status);
  });
});

describe('attachmentDisposition', () => {
  it('names the last key segment, with an ASCII fallback and the UTF-8 name', () => {
    expect(attachmentDisposition('a/b/report "final".pdf')).toBe(
      `attachment; filename="report _final_.pdf"; filename*=UTF-8''report%20%22final%22.pdf`,
    );
    expect(attachmentDisposition('x/naïve (1)*.txt')).toBe(
      `attachment; filename="na_ve (1)*.txt"; filename*=UTF-8''na%C3%AFve%20%281%29%2A.txt`,
    );
    expect(attachmentDisposition('folder/')).toBe(`attachment; filename="download"; filename*=UTF-8''download`);
  });
});

describe('cacheHeaders', () => {
  it.each([
    ['public, max-age=31536000', 'private, max-age=31536000'],
    ['Public, S-MAXAGE=600, proxy-revalidate, no-cache', 'private, no-cache'],
    ['private="set-cookie", max-age=60', 'private, max-age=60'],
    ['no-cache="a, public", public', 'private, no-cache="a, public"'],
    [undefined, 'private'],
  ])('with keys, %j → %j and Vary: Authorization', (stored, sent) => {
    expect(cacheHeaders(stored, true)).toEqual({ 'cache-control': sent, vary: 'Authorization' });
  });

  it('sends the stored value as it is without keys', () => {
    expect(cacheHeaders('public, max-age=60', false)).toEqual({ 'cache-control': 'public, max-age=60' });
    expect(cacheHeaders(undefined, false)).toEqual({});
  });
});

describe('uploadError', () => {
  const options = { maxFileSize: 100, maxFiles: 3 };
  const httpError = (status: number, message: string) => Object.assign(new Error(message), { status });
  it.each([
    [httpError(413, '3 max file uploads exceeded.'), 'BAD_USER_INPUT', 400, /at most 3 files/],
    [httpError(413, 'File truncated as it exceeds the 101 byte size limit.'), 'PAYLOAD_TOO_LARGE', 413, /100 bytes/],
    [
      httpError(413, "The 'operations' multipart field value exceeds the 1000000 byte size limit."),
      'PAYLOAD_TOO_LARGE',
      413,
      /operations/,
    ],
    [httpError(499, 'Request disconnected during file upload stream parsing.'), 'BAD_USER_INPUT', 400, /disconnected/],
    [
      httpError(500, "graphql-upload-minimal couldn't find any files or JSON. Looks like…"),
      'BAD_USER_INPUT',
      400,
      /no 'operations'/,
    ],
    [
      httpError(400, "Missing multipart field 'map' (https://github.com/jaydenseric/graphql-multipart-request-spec)."),
      'BAD_USER_INPUT',
      400,
      /^Missing multipart field 'map'\.$/,
    ],
    [
      new Error('Unexpected end of form'),
      'BAD_USER_INPUT',
      400,
      /^Malformed multipart request: Unexpected end of form\.$/,
    ],
  ])('%s → %s %s', (err, code, status, message) => {
    const mapped = uploadError(err, options) as AppError & { status: number };
    expect(mapped.code).toBe(code);
    expect(mapped.status).toBe(status);
    expect(mapped.extensions.http).toEqual({ status });
    expect(mapped.message).toMatch(message);
  });
});
