/**
 * What clients see when things go wrong, and what they may see at all:
 * error masking (and the log line that keeps the detail), API keys and
 * roles, introspection and GraphiQL settings.
 */
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Store } from '../../src/s3/store.js';
import { createYogaApp } from '../../src/graphql/yoga.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import {
  BucketsDocument,
  CreateBucketDocument,
  DeleteObjectDocument,
  ObjectDocument,
  PresignDocument,
} from './__generated__/graphql.js';
import { codes, startServer, type GqlError, type TestServer } from '../support/app.js';

const env = (extra: Record<string, string> = {}) =>
  loadConfig({
    S3_ENDPOINT: 'http://127.0.0.1:9',
    S3_ACCESS_KEY_ID: 'id',
    S3_SECRET_ACCESS_KEY: 'secret-key-value',
    ...extra,
  });

/** A Yoga app over a store that fails the way a bug would, with its log lines captured. */
function faultyApp(store: Partial<Store>) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const yoga = createYogaApp({ config: env(), store: store as Store, logger: pino({ level: 'info' }, sink) });
  const post = async (query: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>) => {
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, text: await res.text() };
  };
  return { lines, post };
}

describe('error masking', () => {
  it('an unexpected failure reaches the client as "Unexpected error." and the log with its request id', async () => {
    const app = faultyApp({
      listBuckets: () => Promise.reject(new TypeError('boom at /srv/internal/secret-path with key AKIA-SECRET')),
    });
    const res = await app.post('{ buckets { name } }', { 'x-request-id': 'req-mask-1' });
    const body = JSON.parse(res.text) as { errors: GqlError[] };
    expect(body.errors).toEqual([
      {
        message: 'Unexpected error.',
        locations: [{ line: 1, column: 3 }],
        path: ['buckets'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(res.text).not.toMatch(/boom|secret|AKIA|TypeError|stack/i);

    const logged = app.lines.filter((l) => JSON.stringify(l).includes('boom'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 50,
      requestId: 'req-mask-1',
      path: 'buckets',
      err: { type: 'TypeError' },
    });
  });

  it('a server fault inside execution (a non-null field resolving to null) is masked too', async () => {
    const app = faultyApp({
      headObject: async () => ({
        bucket: 'b-b-b',
        key: 'k',
        size: 1,
        etag: null as unknown as string,
        lastModified: new Date(),
        metadata: {},
      }),
    });
    const res = await app.post('{ object(bucket: "b-b-b", key: "k") { etag } }');
    const body = JSON.parse(res.text) as { data: unknown; errors: GqlError[] };
    expect(body.data).toEqual({ object: null });
    expect(body.errors.map((e) => [e.message, e.extensions?.code])).toEqual([
      ['Unexpected error.', 'INTERNAL_SERVER_ERROR'],
    ]);
    expect(res.text).not.toMatch(/non-nullable|Object\.etag/);
  });

  it('AppErrors keep their message and code; malformed requests are BAD_USER_INPUT with their message', async () => {
    const app = faultyApp({});
    const invalid = JSON.parse((await app.post('{ bucket(name: "x") { name } }')).text) as { errors: GqlError[] };
    expect(invalid.errors[0]).toMatchObject({
      message: 'name: must be 3 to 63 characters long',
      extensions: { code: 'BAD_USER_INPUT', argument: 'name' },
    });

    for (const query of [
      '{ buckets { nope } }',
      '{ buckets { name ',
      '{ bucket { name } }',
      '{ bucket(name: 5) { name } }',
    ]) {
      const res = JSON.parse((await app.post(query)).text) as { errors: GqlError[] };
      expect(res.errors.length).toBeGreaterThan(0);
      for (const error of res.errors) {
        expect(error.extensions?.code).toBe('BAD_USER_INPUT');
        expect(error.message).not.toBe('Unexpected error.');
      }
    }
    expect(app.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('a variable of the wrong type is BAD_USER_INPUT naming the variable, and no resolver runs', async () => {
    const app = faultyApp({ bucketExists: () => Promise.reject(new Error('must not be called')) });
    const query = 'query ($n: Int) { bucket(name: "abc") { objects(first: $n) { prefixes } } }';
    const res = JSON.parse((await app.post(query, {}, { n: 2 ** 40 })).text) as { data?: unknown; errors: GqlError[] };
    expect(res.data).toBeUndefined();
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors[0]!.message).toMatch(/\$n/);
  });
});

describe.each(testStores().slice(0, 1))('API keys and roles on $name', (store) => {
  const s3 = s3Client(store);
  const tokens = {
    reader: 'reader-token-0123456789',
    writer: 'writer-token-0123456789',
    admin: 'admin-token-01234567890',
  };
  let app: TestServer;
  let bucket: string;
  let other: string;
  const as = (who: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[who]}` });

  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'gql-auth');
    other = await createTestBucket(s3, 'gql-auth-other');
    app = await startServer(store, {
      API_KEYS: JSON.stringify({
        keys: [
          { name: 'reader', token: tokens.reader, grants: [{ bucket, role: 'read' }] },
          { name: 'writer', token: tokens.writer, grants: [{ bucket, role: 'write' }] },
          { name: 'admin', token: tokens.admin, grants: [{ bucket: '*', role: 'admin' }] },
        ],
      }),
    });
  });

  afterAll(async () => {
    await app.close();
    await removeBucket(s3, bucket);
    await removeBucket(s3, other);
    s3.destroy();
  });

  it('no token or an unknown token is UNAUTHENTICATED, and nothing reaches the store', async () => {
    app.resetCalls();
    expect(codes(await app.gql(BucketsDocument))).toEqual(['UNAUTHENTICATED']);
    expect(
      codes(await app.gql(BucketsDocument, undefined, { authorization: 'Bearer not-a-known-token-at-all' })),
    ).toEqual(['UNAUTHENTICATED']);
    expect(app.calls).toEqual([]);
  });

  it('buckets shows only the buckets a key holds a grant on', async () => {
    const reader = await app.gql(BucketsDocument, undefined, as('reader'));
    expect(reader.data!.buckets.map((b) => b.name)).toEqual([bucket]);
    const admin = await app.gql(BucketsDocument, undefined, as('admin'));
    expect(admin.data!.buckets.map((b) => b.name)).toEqual(expect.arrayContaining([bucket, other]));
  });

  it('a key without the role gets FORBIDDEN before anything reaches the store', async () => {
    app.resetCalls();
    const cases = [
      [await app.gql(ObjectDocument, { bucket: other, key: 'k' }, as('reader')), 'object'],
      [await app.gql(DeleteObjectDocument, { bucket, key: 'k' }, as('reader')), 'deleteObject'],
      [await app.gql(PresignDocument, { bucket, key: 'k', method: 'PUT' }, as('reader')), 'presign'],
      [await app.gql(CreateBucketDocument, { name: 'gql-auth-new-bucket' }, as('writer')), 'createBucket'],
    ] as const;
    for (const [res, field] of cases) {
      expect(codes(res)).toEqual(['FORBIDDEN']);
      expect(res.errors![0]!.path).toEqual([field]);
    }
    expect(app.calls).toEqual([]);
  });

  it('keys act within their roles', async () => {
    expect((await app.gql(PresignDocument, { bucket, key: 'k' }, as('reader'))).errors).toBeUndefined();
    expect((await app.gql(DeleteObjectDocument, { bucket, key: 'k' }, as('writer'))).data).toEqual({
      deleteObject: true,
    });
  });
});

describe('introspection and GraphiQL settings', () => {
  const post = async (yoga: ReturnType<typeof createYogaApp>, query: string) => {
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as { data?: Record<string, unknown>; errors?: GqlError[] };
  };
  const app = (extra: Record<string, string>) =>
    createYogaApp({ config: env(extra), store: {} as Store, logger: pino({ level: 'silent' }) });

  it('introspection answers by default and is refused when INTROSPECTION=false', async () => {
    const open = await post(app({}), '{ __schema { queryType { name } } }');
    expect(open).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });

    const closed = app({ INTROSPECTION: 'false' });
    const refused = await post(closed, '{ __schema { queryType { name } } }');
    expect(refused.data).toBeUndefined();
    expect(refused.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.message).toMatch(/introspection/i);
    const typeRefused = await post(closed, '{ __type(name: "Object") { name } }');
    expect(typeRefused.errors![0]!.message).toMatch(/introspection/i);
    expect(await post(closed, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('Yoga serves no GraphiQL of its own, whose scripts come from a CDN (the HTTP layer serves ours)', async () => {
    const page = await app({ GRAPHIQL: 'true' }).fetch('http://localhost/graphql', {
      headers: { accept: 'text/html' },
    });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });
});
