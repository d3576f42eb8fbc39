/**
 * The limits a public GraphQL endpoint needs, each refused with a clear
 * error and a code before anything runs: query depth, aliases, directives
 * and tokens, operations per batch, the JSON body size, files per upload,
 * and the per-client rate limit; CSRF refusals with a valid key; schema
 * suggestions hidden when introspection is off.
 */
import { getIntrospectionQuery } from 'graphql';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_QUERY_DEPTH } from '../../src/config/index.js';
import { RateLimiter } from '../../src/security/rate-limit.js';
import { answerOf, outcome, startServer, storeCalls, type GqlResponse, type TestServer } from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

const TOKEN = 'limits-admin-token-0123456789';
const OTHER = 'limits-other-token-0123456789';
const EMPTY = 'limits-empty-token-0123456789';
const API_KEYS = JSON.stringify({
  keys: [
    { name: 'admin', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'other', token: OTHER, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'empty', token: EMPTY, grants: [{ bucket: '*', role: 'admin' }] },
  ],
});
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A query whose deepest field is `depth` levels down: `__schema { types { ofType { ... { name } } } } }`. */
function queryOfDepth(depth: number): string {
  const fields = ['__schema', 'types', ...Array.from({ length: depth - 3 }, () => 'ofType')];
  return `{ ${fields.map((f) => `${f} {`).join(' ')} name ${'}'.repeat(fields.length)} }`;
}

describe('limits on GraphQL documents and requests', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-limits');
    server = await startServer(store, { API_KEYS, INTROSPECTION: 'true', RATE_LIMIT_PER_MINUTE: '0' });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** Sends `query`, expects it refused with BAD_USER_INPUT naming `limit`, and no store call. */
  async function refused(query: string, limit: string): Promise<string> {
    const before = await storeCalls(server.app.metrics);
    const res = await server.gql(query, {}, AUTH);
    expect(res.status).toBe(400);
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit });
    expect(await storeCalls(server.app.metrics)).toBe(before);
    return res.body.errors![0]!.message;
  }

  it(`depth: ${DEFAULT_MAX_QUERY_DEPTH} levels by default, which GraphiQL's introspection query needs; one more is refused`, async () => {
    const introspection = await server.gql(
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }),
      {},
      AUTH,
    );
    expect(introspection.body.errors).toBeUndefined();
    expect(await refused(queryOfDepth(DEFAULT_MAX_QUERY_DEPTH + 1), 'MAX_QUERY_DEPTH')).toBe(
      `the operation nests fields ${DEFAULT_MAX_QUERY_DEPTH + 1} levels deep; this server allows ${DEFAULT_MAX_QUERY_DEPTH}.`,
    );
  });

  it("a document graphql-js gives up validating is refused in words, not with its bare 'Validation aborted.'", async () => {
    const fields = (n: number) => `{ ${Array(n).fill('__typename').join(' ')} }`;
    expect((await server.gql(fields(600), {}, AUTH)).body).toEqual({ data: { __typename: 'Query' } });
    expect(await refused(fields(900), 'VALIDATION_WORK')).toMatch(/^The document is too complex to validate/);
  });

  it('depth counts through fragments, however often they are spread', async () => {
    // __schema and types, then three levels in each of F1 to F3, and four levels and a field in F4: 2 + 9 + 5 = 16.
    const hop = (name: string, next: string) =>
      `fragment ${name} on __Type { ofType { ofType { ofType { ...${next} } } } }`;
    const query = [
      'query Deep { __schema { types { ...F1 ...F1 } } }',
      hop('F1', 'F2'),
      hop('F2', 'F3'),
      hop('F3', 'F4'),
      'fragment F4 on __Type { ofType { ofType { ofType { ofType { name } } } } }',
    ].join(' ');
    expect(await refused(query, 'MAX_QUERY_DEPTH')).toBe(
      `operation "Deep" nests fields 16 levels deep; this server allows ${DEFAULT_MAX_QUERY_DEPTH}.`,
    );
  });

  it('a bucket reached from its objects or uploads cannot be listed again (once per object), however it is written', async () => {
    const message = await refused(
      `{ bucket(name: "${bucket}") { objects { edges { node { bucket { objects { edges { cursor } } } } } } } }`,
      'NESTED_LISTING',
    );
    expect(message).toMatch(
      /^the operation lists a bucket \(objects or multipartUploads\) reached from an object or an upload/,
    );
    await refused(
      `query Q { buckets { multipartUploads { ...U } } } fragment U on MultipartUpload { bucket { ... on Bucket { ...L } } } fragment L on Bucket { multipartUploads { key } }`,
      'NESTED_LISTING',
    );
    await refused(
      `mutation { multipart { abortStale(olderThanSeconds: 0, dryRun: true) { aborted { bucket { objects { prefixes } } } } } }`,
      'NESTED_LISTING',
    );
    // Fields written straight into an inline fragment, with or without a type condition.
    await refused(
      `{ bucket(name: "${bucket}") { objects { edges { node { bucket { ... on Bucket { objects { prefixes } } } } } } } }`,
      'NESTED_LISTING',
    );
    await refused(
      `{ bucket(name: "${bucket}") { multipartUploads { bucket { ... { multipartUploads { key } } } } } }`,
      'NESTED_LISTING',
    );
    // Listing a bucket's objects and uploads (with their parts), and going back to the bucket's own fields, are fine.
    for (const query of [
      `{ bucket(name: "${bucket}") { name objects { edges { node { key bucket { name createdAt } } } } multipartUploads { parts { partNumber } } } }`,
      `{ bucket(name: "${bucket}") { multipartUploads { bucket { name } parts { size } } } }`,
    ]) {
      expect((await server.gql(query, {}, AUTH)).body.errors).toBeUndefined();
    }
  });

  it('aliases: 30 by default', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect((await server.gql(aliases(30), {}, AUTH)).body.errors).toBeUndefined();
    expect(await refused(aliases(31), 'MAX_QUERY_ALIASES')).toBe(
      'the operation has 31 aliases; this server allows 30.',
    );
  });

  it('directives: 50 by default, fragments counted where they are spread', async () => {
    const directives = (n: number) =>
      `{ ${Array.from({ length: n }, () => '__typename @include(if: true)').join(' ')} }`;
    expect((await server.gql(directives(50), {}, AUTH)).body.errors).toBeUndefined();
    expect(await refused(directives(51), 'MAX_QUERY_DIRECTIVES')).toBe(
      'the operation has 51 directives; this server allows 50.',
    );
    const spread = `query Spread { ...F ...F } fragment F on Query { ${Array.from({ length: 26 }, () => '__typename @skip(if: false)').join(' ')} }`;
    expect(await refused(spread, 'MAX_QUERY_DIRECTIVES')).toBe(
      'operation "Spread" has 52 directives; this server allows 50.',
    );
  });

  it('tokens: 10000 by default, parsing stops there', async () => {
    // 16 tokens around the list, one per key; commas are not tokens.
    const tokens = (n: number) =>
      `mutation { deleteObjects(bucket: "${bucket}", keys: [${Array.from({ length: n - 16 }, () => '"k"').join(', ')}]) { deleted } }`;
    const atLimit = await server.gql(tokens(10_000), {}, AUTH);
    // Parsed and validated: it fails on its argument (more than 1000 keys), not on its size.
    expect(atLimit.body.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', argument: 'keys' }) }),
    ]);
    expect(await refused(tokens(10_001), 'MAX_QUERY_TOKENS')).toBe(
      'The document has more than 10000 tokens, the limit of this server.',
    );
  });

  it('batches: at most 10 operations by default, and each is answered', async () => {
    const post = (count: number) =>
      fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify(Array.from({ length: count }, () => ({ query: '{ __typename }' }))),
      });
    const ten = await post(10);
    expect(ten.status).toBe(200);
    expect(await ten.json()).toEqual(Array.from({ length: 10 }, () => ({ data: { __typename: 'Query' } })));
    const eleven = await answerOf(await post(11));
    expect(eleven.status).toBe(413);
    expect(eleven.body.errors).toEqual([
      expect.objectContaining({
        message: 'Batching is limited to 10 operations per request.',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
  });

  it('the introspection settings hide schema suggestions too', async () => {
    const closed = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const typo = '{ bukets { name } }';
      expect((await server.gql(typo, {}, AUTH)).body.errors![0]!.message).toMatch(/Did you mean/);
      const hidden = await closed.gql(typo, {}, AUTH);
      expect(hidden.body.errors![0]!.message).toBe('Cannot query field "bukets" on type "Query".');
      expect(JSON.stringify(hidden.body)).not.toContain('"buckets"');
    } finally {
      await closed.close();
    }
  });
});

describe('document limits count everywhere in a document, and measuring survives any document', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(store, {
      API_KEYS,
      INTROSPECTION: 'true',
      RATE_LIMIT_PER_MINUTE: '0',
      MAX_QUERY_ALIASES: '3',
      MAX_QUERY_DIRECTIVES: '3',
      MAX_QUERY_DEPTH: '4',
      MAX_QUERY_TOKENS: '500',
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  const aliases = (n: number, field = '__typename') => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
  const directives = (n: number) => Array.from({ length: n }, (_, i) => `__typename @include(if: ${i >= 0})`).join(' ');

  /** The limit errors of an answer, as `limit: message`. */
  const limitErrors = (answer: GqlResponse) =>
    (answer.body.errors ?? [])
      .filter((e) => e.extensions?.limit !== undefined)
      .map((e) => `${String(e.extensions!.limit)}: ${e.message}`);

  it.each([
    ['nested fields', `{ __schema { a: types { ${aliases(2, 'name')} } b: queryType { name } } }`],
    ['a fragment spread once', `{ ...F } fragment F on Query { ${aliases(4)} }`],
    ['a fragment spread twice', `{ ...F ...F } fragment F on Query { ${aliases(2)} }`],
    [
      'fields nested in a fragment spread in a nested field',
      `{ __schema { ...S } } fragment S on __Schema { types { ${aliases(2, 'name')} } queryType { ${aliases(2, 'name')} } }`,
    ],
    ['an inline fragment with a type condition', `{ ... on Query { ${aliases(4)} } }`],
    ['an inline fragment without one', `{ __schema { ... { ${aliases(4, 'description')} } } }`],
  ])('aliases in %s count: 4 is over 3', async (_where, query) => {
    const answer = await server.gql(query, {}, AUTH);
    expect(answer.status).toBe(400);
    expect(limitErrors(answer)).toEqual(['MAX_QUERY_ALIASES: the operation has 4 aliases; this server allows 3.']);
  });

  it.each([
    [
      'nested fields',
      `{ __schema { types @include(if: true) { name @skip(if: false) kind @include(if: true) } queryType @include(if: true) { name } } }`,
    ],
    ['fragment spreads', `{ ...F @include(if: true) ...F @skip(if: false) } fragment F on Query { ${directives(1)} }`],
    [
      'a fragment spread twice',
      `{ __schema { ...S ...S } } fragment S on __Schema { types { name @include(if: true) kind @skip(if: false) } }`,
    ],
    ['an inline fragment and its fields', `{ ... on Query @include(if: true) { ${directives(3)} } }`],
    [
      'an inline fragment without a type condition',
      `{ __schema { ... @skip(if: false) { types { ${directives(3)} } } } }`,
    ],
  ])('directives on and in %s count: 4 is over 3', async (_where, query) => {
    const answer = await server.gql(query, {}, AUTH);
    expect(answer.status).toBe(400);
    expect(limitErrors(answer)).toEqual([
      'MAX_QUERY_DIRECTIVES: the operation has 4 directives; this server allows 3.',
    ]);
  });

  it('directives on the operation and on a fragment definition count too, though no directive of this schema may stand there', async () => {
    for (const query of [
      `query Q @include(if: true) @skip(if: false) { ${directives(2)} }`,
      `query Q { ...F } fragment F on Query @include(if: true) @skip(if: false) { ${directives(2)} }`,
    ]) {
      const answer = await server.gql(query, {}, AUTH);
      expect(answer.status).toBe(400);
      expect(limitErrors(answer)).toEqual([
        'MAX_QUERY_DIRECTIVES: operation "Q" has 4 directives; this server allows 3.',
      ]);
    }
  });

  it('MAX_QUERY_DEPTH and MAX_QUERY_TOKENS set the depth and token limits', async () => {
    expect((await server.gql(queryOfDepth(4), {}, AUTH)).body.errors).toBeUndefined();
    const deep = await server.gql(queryOfDepth(5), {}, AUTH);
    expect(limitErrors(deep)).toEqual([
      'MAX_QUERY_DEPTH: the operation nests fields 5 levels deep; this server allows 4.',
    ]);
    const tokens = (n: number) => `{ ${'__typename '.repeat(n - 2)}}`;
    expect((await server.gql(tokens(500), {}, AUTH)).body.errors).toBeUndefined();
    expect(limitErrors(await server.gql(tokens(501), {}, AUTH))).toEqual([
      'MAX_QUERY_TOKENS: The document has more than 500 tokens, the limit of this server.',
    ]);
  });

  it('at the limits everything runs', async () => {
    const query = `{ ...F ... on Query @include(if: true) { a2: __typename } } fragment F on Query { a0: __typename a1: __typename @skip(if: false) __typename @include(if: true) }`;
    expect(await server.gql(query, {}, AUTH)).toMatchObject({
      status: 200,
      body: { data: { a0: 'Query', a1: 'Query', a2: 'Query', __typename: 'Query' } },
    });
  });

  it('a fragment spread 2^40 times is measured once, so the answer is immediate', async () => {
    const hops = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(
      ' ',
    );
    const answer = await server.gql(`{ ...F0 } ${hops} fragment F40 on Query { __typename }`, {}, AUTH);
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('fragments that spread each other are refused by graphql, and still measured: each counts once', async () => {
    const answer = await server.gql(
      `{ ...A } fragment A on Query { ${aliases(2)} ...B } fragment B on Query { b0: __typename b1: __typename ...A }`,
      {},
      AUTH,
    );
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.map((e) => e.message)).toEqual([
      'the operation has 4 aliases; this server allows 3.',
      'Cannot spread fragment "A" within itself via "B".',
    ]);
  });

  it.each([
    ['an unknown fragment', '{ ...Nowhere }', 'Unknown fragment "Nowhere".'],
    ['an unknown fragment in a field', '{ __schema { ...Nowhere } }', 'Unknown fragment "Nowhere".'],
    [
      'fragments that spread each other in a field',
      '{ __schema { ...S } } fragment S on __Schema { ...T } fragment T on __Schema { ...S }',
      'Cannot spread fragment "S" within itself via "T".',
    ],
    [
      'an unknown field with a selection',
      '{ nowhere { deeper { deepest } } }',
      'Cannot query field "nowhere" on type "Query".',
    ],
    [
      'a selection on a field of a scalar type',
      '{ __schema { description { length } } }',
      'Field "description" must not have a selection since type "String" has no subfields.',
    ],
    ['an inline fragment on an unknown type', '{ ... on Nowhere { field { deeper } } }', 'Unknown type "Nowhere".'],
    ['a fragment on an unknown type', '{ ...F } fragment F on Nowhere { field { deeper } }', 'Unknown type "Nowhere".'],
  ])("%s is answered with graphql's own validation error", async (_what, query, message) => {
    const answer = await server.gql(query, {}, AUTH);
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0]?.message).toBe(message);
  });

  it('a syntax error stays a syntax error (not a token limit)', async () => {
    const answer = await server.gql('{ __typename ', {}, AUTH);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      expect.objectContaining({ message: 'Syntax Error: Expected Name, found <EOF>.' }),
    ]);
  });
});

describe('limits on request bodies', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-bodies');
    server = await startServer(store, {
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '0',
      MAX_JSON_BODY_BYTES: '4KiB',
      MAX_FILES_PER_REQUEST: '2',
      MAX_BATCH_OPERATIONS: '1',
    });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const padded = (bytes: number) => JSON.stringify({ query: `{ __typename }${' '.repeat(bytes)}` });

  it('a JSON body over MAX_JSON_BODY_BYTES is PAYLOAD_TOO_LARGE, by its Content-Length or as it streams in', async () => {
    const ok = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: padded(3000),
    });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();

    const declared = await answerOf(
      await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: padded(5000),
      }),
    );
    expect(declared.status).toBe(413);
    expect(outcome(declared)).toBe('PAYLOAD_TOO_LARGE');

    const text = padded(5000);
    const chunked = await answerOf(
      await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(text.slice(0, 2500)));
            controller.enqueue(new TextEncoder().encode(text.slice(2500)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit),
    );
    expect(chunked.status).toBe(413);
    expect(outcome(chunked)).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a JSON body that is not a JSON object or list is answered with what is wrong with it', async () => {
    const post = async (body: string) => {
      const res = await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body,
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const refusal = (message: string) => ({
      errors: [expect.objectContaining({ message, extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })],
    });
    expect(await post('{not json')).toEqual({ status: 400, body: refusal('POST body sent invalid JSON.') });
    expect(await post('')).toEqual({ status: 400, body: refusal('POST body sent invalid JSON.') });
    expect(await post('"text"')).toEqual({
      status: 400,
      body: refusal('POST body is expected to be object but received string'),
    });
    expect(await post('null')).toEqual({
      status: 400,
      body: refusal('POST body is expected to be object but received null'),
    });
    expect(await post('{}')).toEqual({ status: 200, body: refusal('Must provide query string.') });
    expect(await post('{"query": 5}')).toEqual({
      status: 400,
      body: refusal('Expected "query" param to be a string, but given number.'),
    });
    expect(await post('{"query": "{ __typename }"}')).toEqual({ status: 200, body: { data: { __typename: 'Query' } } });
  });

  it('an upload naming more files than MAX_FILES_PER_REQUEST is refused before any runs', async () => {
    const query = `mutation($a: Upload!, $b: Upload!, $c: Upload!) {
      a: uploadObject(bucket: "${bucket}", key: "a", file: $a) { key }
      b: uploadObject(bucket: "${bucket}", key: "b", file: $b) { key }
      c: uploadObject(bucket: "${bucket}", key: "c", file: $c) { key } }`;
    const res = await server.upload(query, {}, { a: 'a', b: 'b', c: 'c' }, AUTH);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        message: 'A request may carry at most 2 files.',
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0).toBe(0);
  });

  it("an upload's operations over MAX_JSON_BODY_BYTES is PAYLOAD_TOO_LARGE", async () => {
    const query = `mutation($f: Upload!) { uploadObject(bucket: "${bucket}", key: "big-ops", file: $f) { key } } ${'#'.repeat(5000)}`;
    const res = await server.upload(query, {}, { f: 'x' }, AUTH);
    expect(res.status).toBe(413);
    expect(outcome(res)).toBe('PAYLOAD_TOO_LARGE');
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big-ops' }))).rejects.toMatchObject({
      name: 'NotFound',
    });
  });

  it('MAX_BATCH_OPERATIONS=1 turns batching off', async () => {
    const res = await answerOf(
      await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ message: 'Batching is not supported.', extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
  });
});

describe('CSRF with a valid key', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-csrf');
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const upload = `mutation($file: Upload!) { uploadObject(bucket: "BUCKET", key: "csrf.txt", file: $file) { key } }`;
  const form = () => {
    const f = new FormData();
    f.set('operations', JSON.stringify({ query: upload.replace('BUCKET', bucket), variables: { file: null } }));
    f.set('map', JSON.stringify({ 0: ['variables.file'] }));
    f.set('0', new Blob(['from another site']), 'csrf.txt');
    return f;
  };
  const deleteAll = () =>
    JSON.stringify({ query: `mutation { deletePrefix(bucket: "${bucket}", prefix: "k") { deleted } }` });

  it.each([
    ['multipart/form-data', () => ({ body: form() as BodyInit, headers: {} })],
    [
      'multipart/form-data with an empty CSRF header',
      () => ({ body: form() as BodyInit, headers: { 'x-graphql-csrf': ' ' } }),
    ],
    ['text/plain', () => ({ body: deleteAll() as BodyInit, headers: { 'content-type': 'text/plain' } })],
    [
      'application/x-www-form-urlencoded',
      () => ({ body: new URLSearchParams({ query: '{ buckets { name } }' }) as BodyInit, headers: {} }),
    ],
  ])('refuses %s without a CSRF header with 403, and the store is unchanged', async (_name, make) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep', Body: 'kept' }));
    const before = await storeCalls(server.app.metrics);
    const { body, headers } = make();
    const res = await answerOf(
      await fetch(`${server.base}/graphql`, { method: 'POST', body, headers: { ...AUTH, ...headers } }),
    );
    expect(res.status).toBe(403);
    expect(outcome(res)).toBe('FORBIDDEN');
    expect(await storeCalls(server.app.metrics)).toBe(before);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['keep']);
  });

  it('lets the same upload through with Apollo-Require-Preflight', async () => {
    const res = await answerOf(
      await fetch(`${server.base}/graphql`, {
        method: 'POST',
        body: form(),
        headers: { ...AUTH, 'apollo-require-preflight': 'true' },
      }),
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ uploadObject: { key: 'csrf.txt' } });
  });
});

describe('the per-client rate limit', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '4' });
  });

  afterAll(async () => {
    await server?.close();
  });

  const typename = (headers: Record<string, string>) => server.gql('{ __typename }', {}, headers);

  it('allows a key its requests a minute, then answers 429 with Retry-After and runs nothing; other keys go on', async () => {
    for (let i = 0; i < 4; i++) expect(outcome(await typename(AUTH))).toBe('OK');
    const over = await typename(AUTH);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(over.body.data ?? null).toBeNull();
    expect(over.body.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(
          /^Too many requests: this client may make 4 store calls a minute \(RATE_LIMIT_PER_MINUTE\); retry in \d+ s\.$/,
        ),
        extensions: expect.objectContaining({ code: 'RATE_LIMITED' }),
      }),
    ]);
    expect(over.body.errors![0]!.extensions).not.toHaveProperty('http');

    const download = await fetch(`${server.base}/objects/some-bucket/k`, { headers: AUTH });
    expect(download.status).toBe(429);
    expect(download.headers.get('retry-after')).not.toBeNull();
    expect(await download.json()).toMatchObject({
      errors: [{ extensions: { code: 'RATE_LIMITED' } }],
    });

    const other = { authorization: `Bearer ${OTHER}` };
    const batch = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...other },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(batch.status).toBe(200);
    await batch.arrayBuffer();
    // The batch of three counted three: one request is left, then a batch of two is over.
    expect(outcome(await typename(other))).toBe('OK');
    expect((await typename(other)).status).toBe(429);
  });

  it('counts an empty batch as one request', async () => {
    const empty = { authorization: `Bearer ${EMPTY}` };
    const batch = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...empty },
      body: '[]',
    });
    expect(batch.status).toBe(200);
    await batch.arrayBuffer();
    for (let i = 0; i < 3; i++) expect(outcome(await typename(empty))).toBe('OK');
    expect((await typename(empty)).status).toBe(429);
  });

  it('counts requests with unknown or missing keys by client address, so keys cannot be guessed fast', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await typename({ authorization: `Bearer guess-${i}-0123456789abcdef` });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 4).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(4)).toEqual([429, 429]);
  });
});

describe('RateLimiter', () => {
  it('refills continuously, forgets the least recently seen client first, and is off at 0', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 2, () => now);
    expect(limiter.take('a', 60)).toEqual({ allowed: true });
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now += 1000;
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a', 5)).toEqual({ allowed: false, retryAfterSeconds: 5 });
    expect(limiter.take('a', 1000)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    limiter.take('b');
    limiter.take('c');
    // 'a' was seen least recently, so it was forgotten: a full bucket again.
    expect(limiter.take('a', 60)).toEqual({ allowed: true });
    const off = new RateLimiter(0);
    expect(off.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(off.take('x')).toEqual({ allowed: true });
  });
});
