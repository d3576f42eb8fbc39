/**
 * Unit tests of the pure parts: argument rules (src/core/validation.ts), the
 * DateTime and SafeInt scalars, and error masking.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AppError, badInput } from '../../src/core/errors.js';
import { parseDateTime, parseSafeInt, serializeDateTime } from '../../src/graphql/schema/scalars.js';
import { ListingCursors, MAX_CURSOR_LENGTH, MAX_CURSOR_VALUE_BYTES } from '../../src/core/cursors.js';
import { bucketNameProblem } from '../../src/core/s3-rules.js';
import * as v from '../../src/core/validation.js';
import { maskError } from '../../src/graphql/errors.js';

/** The BAD_USER_INPUT argument a call is refused with, or 'ok'. */
function refusal(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('BAD_USER_INPUT');
    return String((err as AppError).extensions.argument);
  }
}

describe('bucket names', () => {
  it.each(['abc', 'my-bucket', 'my.bucket.name', 'a1b2c3', '123', 'a'.repeat(63), 'bucket-s3alias-not', 'xn-a'])(
    'accepts %s',
    (name) => {
      expect(bucketNameProblem(name)).toBeUndefined();
      expect(v.bucketName(name)).toBe(name);
    },
  );

  it.each([
    ['ab', /3 to 63/],
    ['a'.repeat(64), /3 to 63/],
    ['My-Bucket', /lower-case/],
    ['my_bucket', /lower-case/],
    ['my bucket', /lower-case/],
    ['-bucket', /start and end/],
    ['bucket-', /start and end/],
    ['.bucket', /start and end/],
    ['a..b', /adjacent dots/],
    ['a.-b', /hyphen next to a dot/],
    ['a-.b', /hyphen next to a dot/],
    ['192.168.5.4', /IP address/],
    ['xn--bucket', /xn--/],
    ['sthree-bucket', /sthree-/],
    ['sthree-configurator', /sthree-/],
    ['amzn-s3-demo-bucket', /amzn-s3-demo-/],
    ['bucket-s3alias', /-s3alias/],
    ['bucket--ol-s3', /--ol-s3/],
    ['bucket.mrap', /\.mrap/],
    ['bucket--x-s3', /--x-s3/],
    ['bucket--table-s3', /--table-s3/],
  ])('refuses %s', (name, why) => {
    expect(bucketNameProblem(name)).toMatch(why);
    expect(refusal(() => v.bucketName(name, 'sourceBucket'))).toBe('sourceBucket');
  });
});

describe('keys and prefixes', () => {
  it('a key is 1 to 1024 bytes of UTF-8, counted in bytes', () => {
    expect(v.objectKey('a'.repeat(1024))).toHaveLength(1024);
    expect(refusal(() => v.objectKey('a'.repeat(1025)))).toBe('key');
    expect(v.objectKey('é'.repeat(512))).toHaveLength(512);
    expect(refusal(() => v.objectKey(`${'é'.repeat(512)}a`))).toBe('key');
    expect(v.objectKey('😀'.repeat(256))).toHaveLength(512);
    expect(refusal(() => v.objectKey(''))).toBe('key');
    expect(refusal(() => v.objectKey('bad\uD800surrogate'))).toBe('key');
    expect(v.objectKey('dir/sub dir/ñ.txt')).toBe('dir/sub dir/ñ.txt');
  });

  it.each(['a/../b', './x', 'a/./b', '..', '.', 'a/..', 'a/.', '../x', 'a/b/../../c', '/..', './'])(
    'a key with a "." or ".." path segment (%s) is refused',
    (key) => {
      expect(refusal(() => v.objectKey(key, 'sourceKey'))).toBe('sourceKey');
    },
  );

  it.each(['...', '.hidden', 'a/.hidden', 'a..b', 'a/.../b', 'a/..b', 'a/b..', 'x.', 'a//b', '/abs'])(
    'a key with dots that are no path segment (%s) is taken',
    (key) => {
      expect(v.objectKey(key)).toBe(key);
    },
  );

  it('prefixes are not paths: a prefix may end in or hold dot segments', () => {
    expect(v.listPrefix('logs/.')).toBe('logs/.');
    expect(v.deletionPrefix('a/../')).toBe('a/../');
  });

  it('a listing prefix or delimiter may be empty (none) but not over 1024 bytes', () => {
    expect(v.listPrefix('')).toBeUndefined();
    expect(v.listPrefix(null)).toBeUndefined();
    expect(v.listPrefix('photos/')).toBe('photos/');
    expect(refusal(() => v.listPrefix('x'.repeat(1025)))).toBe('prefix');
    expect(v.delimiter('/')).toBe('/');
    expect(v.delimiter('')).toBeUndefined();
  });

  it('deletePrefix needs a non-empty prefix of at most 1024 bytes', () => {
    expect(refusal(() => v.deletionPrefix(''))).toBe('prefix');
    expect(refusal(() => v.deletionPrefix('x'.repeat(1025)))).toBe('prefix');
    expect(v.deletionPrefix('a/')).toBe('a/');
  });

  it('deleteObjects takes 1 to 1000 valid keys and names the bad one', () => {
    expect(v.deletionKeys(['a', 'b'])).toEqual(['a', 'b']);
    expect(v.deletionKeys(Array.from({ length: 1000 }, (_, i) => `k${i}`))).toHaveLength(1000);
    expect(refusal(() => v.deletionKeys([]))).toBe('keys');
    expect(refusal(() => v.deletionKeys(Array.from({ length: 1001 }, (_, i) => `k${i}`)))).toBe('keys');
    expect(refusal(() => v.deletionKeys(['a', 'b', '']))).toBe('keys[2]');
  });
});

describe('numbers', () => {
  it('expiresIn is 1..604800, default 3600', () => {
    expect(v.expiresIn(undefined)).toBe(3600);
    expect(v.expiresIn(null)).toBe(3600);
    expect(v.expiresIn(1)).toBe(1);
    expect(v.expiresIn(604_800)).toBe(604_800);
    for (const bad of [0, -1, 604_801, 1.5]) expect(refusal(() => v.expiresIn(bad))).toBe('expiresIn');
  });

  it('first is 1..1000, default 100', () => {
    expect(v.pageSize(undefined)).toBe(100);
    expect(v.pageSize(1)).toBe(1);
    expect(v.pageSize(1000)).toBe(1000);
    for (const bad of [0, -5, 1001]) expect(refusal(() => v.pageSize(bad))).toBe('first');
  });
});

describe('metadata and content types', () => {
  it('lower-cases keys and keeps values', () => {
    expect(
      v.metadata([
        { key: 'Color', value: 'Blue Sky' },
        { key: 'x-id', value: '42' },
      ]),
    ).toEqual({ color: 'Blue Sky', 'x-id': '42' });
    expect(v.metadata(undefined)).toBeUndefined();
    expect(v.metadata([])).toEqual({});
  });

  it('refuses keys that are not HTTP tokens, values that are not US-ASCII text, and case-insensitive duplicates', () => {
    expect(refusal(() => v.metadata([{ key: '', value: 'v' }]))).toBe('metadata[0].key');
    expect(refusal(() => v.metadata([{ key: 'a b', value: 'v' }]))).toBe('metadata[0].key');
    expect(refusal(() => v.metadata([{ key: 'a:b', value: 'v' }]))).toBe('metadata[0].key');
    expect(
      refusal(() =>
        v.metadata([
          { key: 'ok', value: 'v' },
          { key: 'ñ', value: 'v' },
        ]),
      ),
    ).toBe('metadata[1].key');
    expect(refusal(() => v.metadata([{ key: 'k', value: 'line\r\nInjected: 1' }]))).toBe('metadata[0].value');
    expect(refusal(() => v.metadata([{ key: 'k', value: 'ünïcode' }]))).toBe('metadata[0].value');
    expect(
      refusal(() =>
        v.metadata([
          { key: 'K', value: '1' },
          { key: 'k', value: '2' },
        ]),
      ),
    ).toBe('metadata[1].key');
  });

  it('allows 2 KiB of keys and values together, not one byte more', () => {
    expect(v.metadata([{ key: 'k', value: 'x'.repeat(2047) }])).toBeDefined();
    expect(refusal(() => v.metadata([{ key: 'k', value: 'x'.repeat(2048) }]))).toBe('metadata');
    expect(
      refusal(() =>
        v.metadata([
          { key: 'a', value: 'x'.repeat(1023) },
          { key: 'b', value: 'x'.repeat(1024) },
        ]),
      ),
    ).toBe('metadata');
  });

  it('a content type is a media type with optional parameters and no line breaks', () => {
    for (const ok of ['text/plain', 'text/plain; charset=utf-8', 'application/vnd.api+json', 'image/svg+xml']) {
      expect(v.contentType(ok)).toBe(ok);
      expect(v.isContentType(ok)).toBe(true);
    }
    expect(v.contentType(undefined)).toBeUndefined();
    for (const bad of [
      '',
      'text',
      'text/',
      '/plain',
      'text/plain\r\nx: y',
      'te xt/plain',
      `text/${'x'.repeat(1100)}`,
    ]) {
      expect(refusal(() => v.contentType(bad))).toBe('contentType');
      expect(v.isContentType(bad)).toBe(false);
    }
  });
});

describe('cursors and ids', () => {
  const cursors = new ListingCursors('a-shared-secret-of-the-replicas-0123456789');
  const scope = { bucket: 'photos', prefix: '2026/', delimiter: '/' };

  it('a key cursor decodes to StartAfter, a token cursor to ContinuationToken, in the scope they were made for', () => {
    expect(cursors.pageStart(cursors.ofKey(scope, 'photos/ü 1.jpg'), scope)).toEqual({ startAfter: 'photos/ü 1.jpg' });
    expect(cursors.pageStart(cursors.ofToken(scope, '1ZTm+/opaque=='), scope)).toEqual({
      continuationToken: '1ZTm+/opaque==',
    });
    expect(cursors.pageStart(undefined, scope)).toBeUndefined();
    expect(cursors.pageStart(null, scope)).toBeUndefined();
    expect(cursors.ofKey(scope, 'a')).toMatch(/^[A-Za-z0-9_-]+$/);
    // Compact: a tag byte and a 16-byte MAC on top of the key.
    expect(cursors.ofKey(scope, 'a')).toHaveLength(24);
    // Another instance with the same secret (another replica) takes it.
    const replica = new ListingCursors('a-shared-secret-of-the-replicas-0123456789');
    expect(replica.pageStart(cursors.ofKey(scope, 'k'), scope)).toEqual({ startAfter: 'k' });
  });

  it('the longest key or token a cursor carries fits in MAX_CURSOR_LENGTH; a longer one is a server error, not a cursor', () => {
    const longest = cursors.ofToken(scope, 't'.repeat(MAX_CURSOR_VALUE_BYTES));
    expect(longest.length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
    expect(cursors.pageStart(longest, scope)).toEqual({ continuationToken: 't'.repeat(MAX_CURSOR_VALUE_BYTES) });
    expect(() => cursors.ofToken(scope, 't'.repeat(MAX_CURSOR_VALUE_BYTES + 1))).toThrow(/longer than/);
  });

  const good = cursors.ofKey(scope, 'photos/1.jpg');
  const bytes = Buffer.from(good, 'base64url');
  const flipped = (i: number) => Buffer.from(bytes.map((b, j) => (j === i ? b ^ 1 : b))).toString('base64url');
  it.each([
    ['empty', ''],
    ['not base64url', 'abc+/=='],
    ['padded', `${good}=`],
    ['too long', 'A'.repeat(MAX_CURSOR_LENGTH + 1)],
    ['20 KB', 'A'.repeat(20_000)],
    ['shorter than a MAC', bytes.subarray(0, 10).toString('base64url')],
    ['an unsigned key (the old format)', Buffer.from('k:photos/1.jpg').toString('base64url')],
    ['an unsigned token (the old format)', 'dDp6eno'],
    ['a changed tag', flipped(0)],
    ['a changed MAC', flipped(5)],
    ['a changed key', flipped(bytes.length - 1)],
    ['another secret', new ListingCursors('another-secret-another-secret-0123456789').ofKey(scope, 'photos/1.jpg')],
    ['another bucket', cursors.ofKey({ ...scope, bucket: 'photos2' }, 'photos/1.jpg')],
    ['another prefix', cursors.ofKey({ ...scope, prefix: undefined }, 'photos/1.jpg')],
    ['another delimiter', cursors.ofKey({ ...scope, delimiter: undefined }, 'photos/1.jpg')],
  ])("a cursor that is not this listing's (%s) is BAD_USER_INPUT for after", (_why, cursor) => {
    expect(refusal(() => cursors.pageStart(cursor, scope))).toBe('after');
  });

  it('object ids are unique across buckets and keys', () => {
    expect(v.objectId('ab', 'c/d')).not.toBe(v.objectId('ab-c', 'd'));
    expect(v.objectId('abc', 'd')).not.toBe(v.objectId('ab', 'cd'));
    expect(Buffer.from(v.objectId('bucket', 'k/ü'), 'base64url').toString()).toBe('bucket\u0000k/ü');
  });
});

describe('DateTime', () => {
  it.each([
    ['2026-11-26T18:00:00Z', '2026-11-26T18:00:00.000Z'],
    ['2026-11-26T18:00:00.5Z', '2026-11-26T18:00:00.500Z'],
    ['2026-11-26T18:00:00.123456789Z', '2026-11-26T18:00:00.123Z'],
    ['2026-11-26T19:30:00+01:30', '2026-11-26T18:00:00.000Z'],
    ['2026-11-26T13:00:00-05:00', '2026-11-26T18:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('parses %s', (text, iso) => {
    expect(parseDateTime(text).toISOString()).toBe(iso);
  });

  it.each([
    '2026-11-26',
    '2026-11-26T18:00:00',
    '2026-11-26 18:00:00Z',
    '2026-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T18:60:00Z',
    'yesterday',
    '1764180000',
  ])('refuses %s', (text) => {
    expect(() => parseDateTime(text)).toThrow(AppError);
  });

  it('serializes dates as ISO-8601 UTC and refuses invalid ones', () => {
    expect(serializeDateTime(new Date(Date.UTC(2026, 10, 26, 18)))).toBe('2026-11-26T18:00:00.000Z');
    expect(() => serializeDateTime(new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe('SafeInt', () => {
  it('takes integers within ±(2^53-1) and refuses the rest', () => {
    expect(parseSafeInt(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseSafeInt(-Number.MAX_SAFE_INTEGER)).toBe(-Number.MAX_SAFE_INTEGER);
    expect(parseSafeInt(0)).toBe(0);
    for (const bad of [2 ** 53, -(2 ** 53), 1.5, '12', Number.NaN, Infinity, null]) {
      expect(() => parseSafeInt(bad)).toThrow(AppError);
    }
  });
});

describe('maskError', () => {
  // What the executor wraps resolver errors in: the `graphql` Node resolves,
  // which need not be the copy this file's imports get.
  const { GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

  it('keeps an AppError and an AppError wrapped by execution, with its code and path', () => {
    const app = badInput('key', 'must not be empty');
    expect(maskError(app, 'Unexpected error.')).toBe(app);

    const wrapped = new GraphQLError('key: must not be empty', { path: ['object'], originalError: app });
    const kept = maskError(wrapped, 'Unexpected error.') as AppError;
    expect(kept.message).toBe('key: must not be empty');
    expect(kept.path).toEqual(['object']);
    expect(kept.extensions).toEqual({ argument: 'key', code: 'BAD_USER_INPUT' });
  });

  it('masks anything else as "Unexpected error." with INTERNAL_SERVER_ERROR', () => {
    const cause = new Error('ECONNREFUSED 10.0.0.1:9000 secret');
    for (const error of [cause, new GraphQLError(cause.message, { path: ['buckets'], originalError: cause })]) {
      const masked = maskError(error, 'Unexpected error.') as AppError;
      expect(masked.message).toBe('Unexpected error.');
      expect(masked.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(JSON.stringify(masked)).not.toMatch(/ECONNREFUSED|secret/);
    }
  });

  it('gives errors about the request itself BAD_USER_INPUT and keeps their message', () => {
    const syntax = new GraphQLError('Syntax Error: Expected Name, found <EOF>.');
    const kept = maskError(syntax, 'Unexpected error.') as AppError;
    expect(kept.message).toBe('Syntax Error: Expected Name, found <EOF>.');
    expect(kept.extensions.code).toBe('BAD_USER_INPUT');
  });
});
