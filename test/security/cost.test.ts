/**
 * The store calls of a request (src/graphql/cost.ts, src/graphql/plugins/use-store-call-limit.ts): estimated from the document and
 * its variables before anything runs, refused over MAX_STORE_CALLS_PER_REQUEST
 * with BAD_USER_INPUT and `extensions.limit: "COST"`, and charged to the
 * per-client rate limit.
 */
import { Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreCallBudget, StoreCallLimitError, withStoreCallBudget } from '../../src/core/store-call-budget.js';
import { FIELD_COSTS } from '../../src/graphql/cost.js';
import { createLoaders, headKey } from '../../src/graphql/loaders.js';
import { schema } from '../../src/graphql/schema/index.js';
import {
  answerOf,
  eventually,
  outcome,
  startServer,
  storeCalls,
  type GqlResponse,
  type TestServer,
} from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

const TOKEN = 'cost-admin-token-0123456789ab';
const CHEAP = 'cost-cheap-token-0123456789ab';
const COSTLY = 'cost-costly-token-0123456789a';
const REFUSED = 'cost-refused-token-0123456789';
const BIG = 'cost-big-token-0123456789abcd';
const EXACT = 'cost-exact-token-0123456789a';
const BATCH = 'cost-batch-token-0123456789a';
const TOKENS = 'cost-tokens-token-0123456789';
const API_KEYS = JSON.stringify({
  keys: [
    { name: 'admin', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'cheap', token: CHEAP, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'costly', token: COSTLY, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'refused', token: REFUSED, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'big', token: BIG, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'exact', token: EXACT, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'batch', token: BATCH, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'tokens', token: TOKENS, grants: [{ bucket: '*', role: 'admin' }] },
  ],
});
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const AUTH = auth(TOKEN);

const KEYS = ['a.txt', 'b.txt', 'c.txt'];

/** `{ bucket(name) { objects(first) { edges { node { key <fields> } } } } }`: 2 calls, and one HEAD per object with HEAD fields. */
const listing = (bucket: string, first: number, fields = '') =>
  `{ bucket(name: "${bucket}") { objects(first: ${first}) { edges { node { key ${fields} } } } } }`;

/** POSTs `body` (one operation or a batch) to `/graphql` as JSON. */
const postJson = (server: TestServer, body: unknown, headers: Record<string, string>) =>
  fetch(`${server.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('the store calls of a request (MAX_STORE_CALLS_PER_REQUEST)', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-cost');
    for (const key of KEYS)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key, ContentType: 'text/plain' }));
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** Expects `answer` refused for its cost (`cost` store calls), with one error per operation. */
  function expectCostRefusal(answer: GqlResponse['body'], cost: number): string {
    expect(answer.data ?? null).toBeNull();
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'COST', cost, maxCost: 1000 });
    return answer.errors![0]!.message;
  }

  /** Sends `query`, expects it refused for its cost without any store call, and returns the message. */
  async function refused(query: string, cost: number, variables: Record<string, unknown> = {}): Promise<string> {
    const before = await storeCalls(server.app.metrics);
    const res = await server.gql(query, variables, AUTH);
    expect(res.status).toBe(400);
    const message = expectCostRefusal(res.body, cost);
    expect(await storeCalls(server.app.metrics)).toBe(before);
    return message;
  }

  async function passes(query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse['body']> {
    const res = await server.gql(query, variables, AUTH);
    expect(res.body.errors).toBeUndefined();
    return res.body;
  }

  it('a page of 1000 objects asking contentType (1002 calls) is refused before any store call; without HEAD fields it runs', async () => {
    expect(await refused(listing(bucket, 1000, 'contentType'), 1002)).toBe(
      'the operation may make up to 1002 calls to the store; this server allows 1000 per request (MAX_STORE_CALLS_PER_REQUEST). Ask for smaller pages (first), fewer aliases, or contentType and metadata of fewer listed objects.',
    );
    await refused(listing(bucket, 999, 'metadata { key }'), 1001);
    // Like a validation error: 400 only to clients that accept application/graphql-response+json.
    const json = await answerOf(
      await postJson(server, { query: listing(bucket, 1000, 'contentType') }, { ...AUTH, accept: 'application/json' }),
    );
    expect(json.status).toBe(200);
    expectCostRefusal(json.body, 1002);
    const plain = await passes(listing(bucket, 1000, 'size storageClass url downloadPath'));
    expect((plain.data!.bucket as { objects: { edges: unknown[] } }).objects.edges).toHaveLength(KEYS.length);
    // At the limit: one HEAD per listed object, however many of its fields need it.
    const headed = await passes(listing(bucket, 998, 'contentType metadata { key } again: contentType'));
    expect(
      (headed.data!.bucket as { objects: { edges: { node: { contentType: string } }[] } }).objects.edges[0]!.node
        .contentType,
    ).toBe('text/plain');
  });

  it('aliases multiply the cost', async () => {
    const pages = (first: number) =>
      `{ bucket(name: "${bucket}") { a: objects(first: ${first}) { edges { node { contentType } } } b: objects(first: ${first}) { edges { node { contentType } } } } }`;
    await passes(pages(498));
    await refused(pages(499), 1001);
    const buckets = (first: number) =>
      `{ x: bucket(name: "${bucket}") { objects(first: ${first}) { edges { node { contentType } } } } y: bucket(name: "${bucket}") { objects(first: ${first}) { edges { node { contentType } } } } }`;
    await passes(buckets(498));
    await refused(buckets(499), 1002);
  });

  it('fragments, inline fragments and variables (given or by default) are counted', async () => {
    const query = `query Page($bucket: String!, $first: Int) { bucket(name: $bucket) { ...Listing } }
      fragment Listing on Bucket { objects(first: $first) { edges { ... on ObjectEdge { node { ...Head } } } } }
      fragment Head on Object { key metadata { key } }`;
    await passes(query, { bucket, first: 998 });
    const message = await refused(query, 1001, { bucket, first: 999 });
    expect(message).toMatch(/^operation "Page" may make up to 1001 calls to the store/);
    await refused(query.replace('$first: Int', '$first: Int = 999'), 1001, { bucket });
    await refused(query.replace('$first: Int', '$first: Int = 1'), 1001, { bucket, first: 999 });
    // Without `first`, a page is 100 objects; ten spreads of it are 10 × 101.
    const spread = `query Spread { bucket(name: "${bucket}") { ${Array.from({ length: 10 }, (_, i) => `... on Bucket { p${i}: objects { ...Edges } }`).join(' ')} } }
      fragment Edges on ObjectConnection { edges { node { contentType } } }`;
    await refused(spread, 1011);
    // Fragments that spread the next one twice, 40 deep: 2^40 listings, estimated fragment by fragment.
    const doubling = [
      `query Doubling { bucket(name: "${bucket}") { ...D0 } }`,
      ...Array.from({ length: 40 }, (_, i) => `fragment D${i} on Bucket { ...D${i + 1} ...D${i + 1} }`),
      'fragment D40 on Bucket { objects(first: 1) { prefixes } }',
    ].join(' ');
    await refused(doubling, 1 + 2 ** 40);
  });

  it('the operation the request names is the one estimated, and named in the error', async () => {
    const query = `query Small { __typename } query Big ${listing(bucket, 1000, 'contentType')}`;
    const small = await answerOf(await postJson(server, { query, operationName: 'Small' }, AUTH));
    expect(small.body).toEqual({ data: { __typename: 'Query' } });
    const big = await answerOf(await postJson(server, { query, operationName: 'Big' }, AUTH));
    expect(expectCostRefusal(big.body, 1002)).toMatch(/^operation "Big" may make up to 1002 calls to the store/);
    const unnamed = await answerOf(await postJson(server, { query }, AUTH));
    expect(unnamed.body.errors).toEqual([
      { message: 'Could not determine what operation to execute.', extensions: { code: 'BAD_USER_INPUT' } },
    ]);
  });

  it('buckets counts 100 buckets: listing each with HEAD fields is refused', async () => {
    // Not refused for its cost (other tests create and delete buckets meanwhile, so it may still fail on one of them).
    const listed = await server.gql(
      '{ buckets { name createdAt objects(first: 20) { edges { node { key url } } } } }',
      {},
      AUTH,
    );
    expect(listed.body.errors?.filter((e) => e.extensions?.limit === 'COST') ?? []).toEqual([]);
    await refused('{ buckets { name objects { edges { node { contentType } } } } }', 1 + 100 * 101);
  });

  it('the operations of a batch count together, and none of them runs', async () => {
    const op = { query: listing(bucket, 599, 'contentType') };
    const post = (operations: unknown[]) =>
      fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify(operations),
      });
    const one = await post([op]);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual([{ data: expect.anything() }]);
    const before = await storeCalls(server.app.metrics);
    const two = await post([op, op]);
    const answers = (await two.json()) as GqlResponse['body'][];
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(expectCostRefusal(answer, 1202)).toMatch(
        /^the 2 operations of this request may make up to 1202 calls to the store/,
      );
    }
    expect(await storeCalls(server.app.metrics)).toBe(before);
  });

  it('mutations count the calls they make; refused, they change nothing', async () => {
    const small = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0', MAX_STORE_CALLS_PER_REQUEST: '3' });
    try {
      const copy = `copyObject(sourceBucket: "${bucket}", sourceKey: "a.txt", bucket: "${bucket}", key: "copy.txt") { key }`;
      const before = await storeCalls(small.app.metrics);
      const both = await small.gql(`mutation { ${copy} deleteObject(bucket: "${bucket}", key: "b.txt") }`, {}, AUTH);
      expect(both.body.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'COST', cost: 4, maxCost: 3 });
      expect(await storeCalls(small.app.metrics)).toBe(before);
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'b.txt' }))).resolves.toBeTruthy();
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy.txt' }))).rejects.toMatchObject({
        name: 'NotFound',
      });

      const alone = await small.gql(`mutation { ${copy} }`, {}, AUTH);
      expect(alone.body.errors).toBeUndefined();
      expect(await storeCalls(small.app.metrics)).toBe(before + 3);
    } finally {
      await small.close();
    }
  });
});

describe('the rate limit, charged by store calls', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-cost-rate');
    for (const key of KEYS) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '100' });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('a key runs out sooner with costly requests than with cheap ones', async () => {
    // 2 calls each: twenty of them are 40 of the 100 a minute.
    for (let i = 0; i < 20; i++) expect(outcome(await server.gql(listing(bucket, 10), {}, auth(CHEAP)))).toBe('OK');
    // 42 calls each (a HEAD per object of a page of 40): the third is over.
    const costly = listing(bucket, 40, 'contentType');
    expect(outcome(await server.gql(costly, {}, auth(COSTLY)))).toBe('OK');
    expect(outcome(await server.gql(costly, {}, auth(COSTLY)))).toBe('OK');
    const over = await server.gql(costly, {}, auth(COSTLY));
    expect(over.status).toBe(429);
    expect(over.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(outcome(await server.gql(listing(bucket, 10), {}, auth(CHEAP)))).toBe('OK');
  });

  it('an operation refused for its cost is charged as one request', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await server.gql(listing(bucket, 1000, 'contentType'), {}, auth(REFUSED));
      expect(res.body.errors![0]!.extensions).toMatchObject({ limit: 'COST' });
    }
    expect(outcome(await server.gql(listing(bucket, 40, 'contentType'), {}, auth(REFUSED)))).toBe('OK');
  });

  it('a request costing more than the whole minute runs on a full allowance, and spends all of it', async () => {
    const big = listing(bucket, 148, 'contentType');
    expect(outcome(await server.gql(big, {}, auth(BIG)))).toBe('OK');
    // Refilling 42 of them takes 25 s.
    expect((await server.gql(listing(bucket, 40, 'contentType'), {}, auth(BIG))).status).toBe(429);
  });

  it('a batch is charged the calls of all its operations', async () => {
    const costly = listing(bucket, 40, 'contentType');
    expect(outcome(await server.gql(costly, {}, AUTH))).toBe('OK');
    // 58 of the 100 are left: two more of these (84) are over, one is not.
    const batch = await answerOf(
      await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify([{ query: costly }, { query: costly }]),
      }),
    );
    expect(batch.status).toBe(429);
    expect(outcome(batch)).toBe('RATE_LIMITED');
    expect(outcome(await server.gql(costly, {}, AUTH))).toBe('OK');
  });
});

describe('the store calls a request makes, capped as they are sent', () => {
  const store = storeForSecurity(testStores());
  const MAX = 110;
  const env = { API_KEYS, RATE_LIMIT_PER_MINUTE: '0', MAX_STORE_CALLS_PER_REQUEST: `${MAX}`, UPLOAD_PART_SIZE: '5MiB' };
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;
  const open = (prefix: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}${String(i).padStart(3, '0')}` })),
      ),
    );
  const openUploads = async (prefix: string) =>
    (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads?.length ?? 0;
  const parts = (prefix: string) =>
    `{ bucket(name: "${bucket}") { multipartUploads(prefix: "${prefix}") { key parts { partNumber } } } }`;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-cost-run');
    await open('many/', 120);
    await open('few/', 3);
    for (const key of ['a', 'b', 'c', 'd', 'e']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key }));
    server = await startServer(store, env);
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('listing the parts of more uploads than the estimate assumes is cut at MAX_STORE_CALLS_PER_REQUEST', async () => {
    // Estimated 102 (100 uploads assumed): it runs, and is stopped at the 111th call (1 HeadBucket, 1 listing, 120 ListParts).
    server.resetCalls();
    const cut = await server.gql(parts('many/'), {}, AUTH);
    // The first refusal nulls the answer while other ListParts are still under way.
    expect(await eventually(() => server.calls.length >= MAX)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.calls.length).toBe(MAX);
    expect(cut.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'COST', maxCost: MAX });
    expect(cut.errors![0]!.message).toMatch(
      /^this request made more calls to the store than this server allows per request \(110, MAX_STORE_CALLS_PER_REQUEST\)/,
    );
    // The next request has a budget of its own.
    server.resetCalls();
    const few = await server.gql<{ bucket: { multipartUploads: unknown[] } }>(parts('few/'), {}, AUTH);
    expect(few.errors).toBeUndefined();
    expect(few.data!.bucket.multipartUploads).toHaveLength(3);
    expect(server.calls.length).toBe(5);
  });

  it('the HEADs of a DataLoader batch and the calls of a multipart uploadStream are counted in their request', async () => {
    const budget = new StoreCallBudget(3);
    const loaders = createLoaders(server.store);
    const heads = await withStoreCallBudget(budget, () =>
      Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((key) => loaders.head.load(headKey(bucket, key)))),
    );
    expect(budget.calls).toBe(3);
    const refused = heads.filter((h) => h.status === 'rejected').map((h) => h.reason);
    expect(refused).toEqual([expect.any(StoreCallLimitError), expect.any(StoreCallLimitError)]);
    // Three parts of 5 MiB: CreateMultipartUpload and CompleteMultipartUpload; the parts are not counted.
    const upload = new StoreCallBudget(2);
    const body = () => Readable.from([Buffer.alloc(11 * 1024 * 1024, 1)]);
    await expect(
      withStoreCallBudget(upload, () => server.store.uploadStream(bucket, 'big/cut', body(), { maxBytes: 2 ** 30 })),
    ).rejects.toBeInstanceOf(StoreCallLimitError);
    // Cut before its HEAD, the upload was completed; cut before completion, it is aborted and leaves nothing.
    expect(upload.calls).toBe(2);
    const early = new StoreCallBudget(1);
    await expect(
      withStoreCallBudget(early, () => server.store.uploadStream(bucket, 'big/early', body(), { maxBytes: 2 ** 30 })),
    ).rejects.toBeInstanceOf(StoreCallLimitError);
    expect(early.calls).toBe(2);
    expect(await openUploads('big/')).toBe(0);
  });

  it('uploadObject in many parts is one upload, whatever the budget', async () => {
    const small = await startServer(store, { ...env, MAX_STORE_CALLS_PER_REQUEST: '3' });
    try {
      const file = new Uint8Array(21 * 1024 * 1024).fill(7);
      const res = await small.upload<{ uploadObject: { size: number; etag: string } }>(
        `mutation($file: Upload!) { uploadObject(bucket: "${bucket}", key: "parts.bin", file: $file) { size etag } }`,
        {},
        { file },
        AUTH,
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.uploadObject).toMatchObject({ size: file.length, etag: expect.stringMatching(/-5$/) });
      expect(small.count('UploadPart')).toBe(5);
    } finally {
      await small.close();
    }
  });

  it('the rate limit is charged the calls made beyond the estimate, when the request ends', async () => {
    const limited = await startServer(store, { ...env, RATE_LIMIT_PER_MINUTE: '40' });
    try {
      await open('stale/', 30);
      // Estimated 1, and charged 1 before it runs; it makes 31 calls (a listing and 30 aborts).
      const stale = `mutation { multipart { abortStale(bucket: "${bucket}", olderThanSeconds: 0, prefix: "stale/") { aborted { key } } } }`;
      expect(outcome(await limited.gql(stale, {}, auth(COSTLY)))).toBe('OK');
      expect(await openUploads('stale/')).toBe(0);
      // 9 of the 40 are left: a page of 10 with contentType (12) is over for this key, not for a fresh one.
      const page = listing(bucket, 10, 'contentType');
      expect(outcome(await limited.gql(page, {}, auth(CHEAP)))).toBe('OK');
      expect((await limited.gql(page, {}, auth(COSTLY))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('abortStale stops at the budget instead of failing every further upload', async () => {
    server.resetCalls();
    const res = await server.gql(
      `mutation { multipart { abortStale(bucket: "${bucket}", olderThanSeconds: 0, prefix: "many/") { aborted { key } failed { code } } } }`,
      {},
      AUTH,
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'COST' });
    expect(server.calls.length).toBe(MAX);
    expect(await openUploads('many/')).toBe(120 - (MAX - 1));
  });
});

describe('FIELD_COSTS', () => {
  it('names fields of the schema', () => {
    const missing = Object.keys(FIELD_COSTS).filter((coordinate) => {
      const [type, field] = coordinate.split('.') as [string, string];
      const named = schema.getType(type);
      return !named || !('getFields' in named) || !(field in named.getFields());
    });
    expect(missing).toEqual([]);
  });
});

describe('MAX_STORE_CALLS_PER_REQUEST, MAX_BATCH_OPERATIONS and MAX_QUERY_TOKENS, as the store-call limit applies them', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'sec-cost-settings');
    for (const key of KEYS) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    server = await startServer(store, {
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '100',
      MAX_STORE_CALLS_PER_REQUEST: '42',
      MAX_BATCH_OPERATIONS: '2',
      MAX_QUERY_TOKENS: '100',
    });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** 42 calls: the limit of this server. */
  const atLimit = () => listing(bucket, 40, 'contentType');

  it('an operation at the limit runs and is charged all its calls', async () => {
    expect(outcome(await server.gql(atLimit(), {}, auth(EXACT)))).toBe('OK');
    expect(outcome(await server.gql(atLimit(), {}, auth(EXACT)))).toBe('OK');
    // 84 of the 100 are spent.
    expect((await server.gql(atLimit(), {}, auth(EXACT))).status).toBe(429);
  });

  it('a batch over MAX_BATCH_OPERATIONS, which Yoga refuses, is charged one; a batch of MAX_BATCH_OPERATIONS is estimated', async () => {
    // 14 calls each: 42 together, which would be charged if the batch were estimated.
    const three = await postJson(
      server,
      Array.from({ length: 3 }, () => ({ query: listing(bucket, 12, 'contentType') })),
      auth(BATCH),
    );
    expect(three.status).toBe(413);
    await three.arrayBuffer();
    // One spent: two requests at the limit (84) still run.
    expect(outcome(await server.gql(atLimit(), {}, auth(BATCH)))).toBe('OK');
    expect(outcome(await server.gql(atLimit(), {}, auth(BATCH)))).toBe('OK');
    const pages = await answerOf(
      await postJson(
        server,
        [{ query: listing(bucket, 20, 'contentType') }, { query: listing(bucket, 20, 'contentType') }],
        { ...auth(BATCH), accept: 'application/json' },
      ),
    );
    const answers = pages.body as unknown as GqlResponse['body'][];
    expect(answers.map((a) => a.errors?.[0]?.extensions)).toEqual([
      { code: 'BAD_USER_INPUT', limit: 'COST', cost: 44, maxCost: 42 },
      { code: 'BAD_USER_INPUT', limit: 'COST', cost: 44, maxCost: 42 },
    ]);
  });

  it('a document over MAX_QUERY_TOKENS is refused, and charged one', async () => {
    const long = listing(bucket, 40, `contentType ${'size '.repeat(100)}`);
    for (let i = 0; i < 2; i++) {
      const res = await server.gql(long, {}, auth(TOKENS));
      expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'MAX_QUERY_TOKENS' });
    }
    expect(outcome(await server.gql(atLimit(), {}, auth(TOKENS)))).toBe('OK');
  });
});

describe('the estimate, field by field (FIELD_COSTS)', () => {
  const store = storeForSecurity(testStores());
  let server: TestServer;

  beforeAll(async () => {
    // At most one call: every operation below is refused, with its estimate in `extensions.cost`, and runs nothing.
    server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0', MAX_STORE_CALLS_PER_REQUEST: '1' });
  });

  afterAll(async () => {
    await server?.close();
  });

  const two = (field: string) => `a: ${field} b: ${field}`;
  const heads = '{ edges { node { contentType } } }';

  it.each([
    [
      'a HEAD per top-level object, its HEAD fields free',
      `{ ${two('object(bucket: "b", key: "k") { key contentType metadata { key } }')} }`,
      2,
    ],
    ["a bucket's objects", `{ bucket(name: "b") { ${two('object(key: "k") { contentType }')} } }`, 3],
    [
      'createdAt: the bucket list, once per top-level field',
      `{ bucket(name: "b") { name createdAt } x: buckets { createdAt } }`,
      3,
    ],
    [
      'pages outside 1 to 1000 call nothing',
      `{ bucket(name: "b") { a: objects(first: 0) ${heads} b: objects(first: 1001) ${heads} c: objects(first: 1) ${heads} d: objects(first: -1) ${heads} } }`,
      3,
    ],
    ['first: null is the default page', `{ bucket(name: "b") { objects(first: null) ${heads} } }`, 102],
    [
      'uploads: 100 assumed, a ListParts each',
      `{ bucket(name: "b") { multipartUploads { key parts { size } } } }`,
      102,
    ],
    ["an upload's bucket's createdAt", `{ bucket(name: "b") { multipartUploads { bucket { createdAt } } } }`, 3],
    [
      'fragments and inline fragments at the top',
      `{ ...Q ...Q ... on Query { c: object(bucket: "b", key: "k") { key } } } fragment Q on Query { ${two('object(bucket: "b", key: "k") { key }')} }`,
      5,
    ],
    [
      'an inline fragment without a type condition, at the top',
      `{ ... { ${two('object(bucket: "b", key: "k") { key }')} } }`,
      2,
    ],
    [
      'an inline fragment without a type condition, in a field',
      `{ bucket(name: "b") { ... { ${two('object(key: "k") { key }')} } } }`,
      3,
    ],
    ['createBucket', 'mutation { createBucket(name: "b") { name } }', 2],
    ["a bucket's CORS rules", `{ bucket(name: "b") { ${two('cors { allowedOrigins }')} } }`, 3],
    [
      'setBucketCors and deleteBucketCors, then the rules',
      'mutation { setBucketCors(bucket: "b", rules: [{ allowedOrigins: ["*"], allowedMethods: ["GET"] }]) { name } deleteBucketCors(bucket: "b") { cors { allowedOrigins } } }',
      3,
    ],
    ['deleteBucket with force', 'mutation { deleteBucket(name: "b", force: true) }', 4],
    ['deleteBucket without', 'mutation { a: deleteBucket(name: "b") b: deleteBucket(name: "b", force: false) }', 2],
    ['deleteObject', `mutation { ${two('deleteObject(bucket: "b", key: "k")')} }`, 2],
    ['deleteObjects', `mutation { ${two('deleteObjects(bucket: "b", keys: ["k"]) { deleted }')} }`, 2],
    ['deletePrefix', 'mutation { deletePrefix(bucket: "b", prefix: "p") { deleted } }', 2],
    ['uploadObject', 'mutation($f: Upload!) { uploadObject(bucket: "b", key: "k", file: $f) { key contentType } }', 2],
    ['multipart create', `mutation { multipart { ${two('create(bucket: "b", key: "k") { uploadId }')} } }`, 2],
    [
      'multipart uploadPart',
      `mutation($f: Upload!) { multipart { ${two('uploadPart(bucket: "b", key: "k", uploadId: "u", partNumber: 1, file: $f) { etag }')} } }`,
      2,
    ],
    ['multipart complete', 'mutation { multipart { complete(bucket: "b", key: "k", uploadId: "u") { key } } }', 3],
    ['multipart abort', `mutation { multipart { ${two('abort(bucket: "b", key: "k", uploadId: "u")')} } }`, 2],
    [
      'abortStale in a bucket: 100 aborted and 100 failed assumed',
      'mutation { multipart { abortStale(bucket: "b", olderThanSeconds: 0) { aborted { parts { size } } failed { upload { parts { size } } } } } }',
      201,
    ],
    ['abortStale in every bucket', 'mutation { multipart { abortStale(olderThanSeconds: 0) { cutoff } } }', 101],
  ])('%s', async (_what, query, cost) => {
    const res = await server.gql(query, {}, AUTH);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', limit: 'COST', cost, maxCost: 1 } }),
    ]);
  });
});
