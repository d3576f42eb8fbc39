/**
 * Mutation.presignPost against every test store: the form is sent as a
 * browser sends it (`fetch` with a FormData of the returned fields, then the
 * file), what lands is checked with the SDK, and every way the form may be
 * changed or outgrown is refused with nothing stored. moto stores whatever a
 * form sends (it checks no policy: `postObject.policyNotChecked`), so there
 * the refusals are asserted as what moto does; the embedded store holds them. Argument checks, the access rule and the
 * embedded store under `/s3` on the API port are checked once.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PresignPostDocument, type PresignPostMutationVariables } from './__generated__/graphql.js';
import { FILENAME_VARIABLE } from '../../src/core/s3-rules.js';
import { codes, startServer, type TestServer } from '../support/app.js';
import { digestOf, expectedDigest, KiB, MiB, randomBytes, randomChunks, sha256Of } from '../support/data.js';
import { per } from '../support/deviations.js';
import { createTestBucket, removeBucket, s3Client, storeForSecurity, testStores } from '../support/stores.js';

type Post = { url: string; fields: { key: string; value: string }[]; expiresAt: string; maxBytes: number };

interface FormOptions {
  /** Fields replaced (by name, as returned) or added before the file. */
  set?: Record<string, string>;
  /** Fields left out. */
  omit?: string[];
}

/** Sends the form as a page does: the fields in order, then the file. */
async function sendForm(post: Post, file: Blob, filename: string, options: FormOptions = {}): Promise<Response> {
  const form = new FormData();
  const set = { ...options.set };
  for (const { key, value } of post.fields) {
    if (options.omit?.includes(key)) continue;
    form.append(key, set[key] ?? value);
    delete set[key];
  }
  for (const [key, value] of Object.entries(set)) form.append(key, value);
  form.append('file', file, filename);
  return fetch(post.url, { method: 'POST', body: form });
}

const fieldsOf = (post: Post) => Object.fromEntries(post.fields.map((f) => [f.key, f.value]));

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFound') return false;
    throw err;
  }
}

/** The text of one element of an XML answer, its entities decoded. */
const element = (xml: string, name: string) =>
  (new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/** The S3 error code and message of an XML error answer. */
async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const text = await res.text();
  return { status: res.status, code: element(text, 'Code'), message: element(text, 'Message') };
}

describe.each(testStores())('presignPost on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;

  beforeAll(async () => {
    app = await startServer(store);
    bucket = await createTestBucket(s3, 'gql-post');
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
    await app?.close();
  });

  async function presignPost(args: Omit<PresignPostMutationVariables, 'bucket'>): Promise<Post> {
    const res = await app.gql(PresignPostDocument, { bucket, ...args });
    expect(res.errors).toBeUndefined();
    return res.data!.presignPost;
  }

  /** A refused form on a store that checks the policy; on moto, what it stores instead (then removed). */
  async function expectRefused(
    res: Response,
    key: string,
    expected: { status: number; code: string; message?: RegExp },
  ) {
    const stored = await exists(s3, bucket, key);
    const checked = per(store, 'postObject.policyNotChecked', { aws: true, deviation: false });
    if (!checked) {
      expect(res.status).toBe(201);
      expect(stored).toBe(true);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return;
    }
    const error = await errorOf(res);
    expect(error.status).toBe(expected.status);
    expect(error.code).toBe(expected.code);
    if (expected.message) expect(error.message).toMatch(expected.message);
    expect(stored).toBe(false);
  }

  it('a form within the limits lands byte-exact, with its content type and metadata, and answers 201', async () => {
    const post = await presignPost({
      key: 'forms/exact.bin',
      maxBytes: 64 * KiB,
      contentType: 'application/x-test',
      metadata: [{ key: 'Owner', value: 'ana' }],
      expiresIn: 300,
    });
    expect(post.url).toBe(`${store.endpoint}/${bucket}`);
    expect(post.maxBytes).toBe(64 * KiB);
    expect(Date.parse(post.expiresAt)).toBeGreaterThan(Date.now() + 250_000);
    expect(post.fields.map((f) => f.key)).toEqual([
      'Content-Type',
      'x-amz-meta-owner',
      'success_action_status',
      'bucket',
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'key',
      'Policy',
      'X-Amz-Signature',
    ]);
    const policy = JSON.parse(Buffer.from(fieldsOf(post).Policy!, 'base64').toString()) as { conditions: unknown[] };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, 64 * KiB],
        { 'Content-Type': 'application/x-test' },
        { 'x-amz-meta-owner': 'ana' },
        { success_action_status: '201' },
        { bucket },
        { key: 'forms/exact.bin' },
      ]),
    );

    const body = await randomBytes(64 * KiB, 'exact');
    const res = await sendForm(post, new Blob([new Uint8Array(body)]), 'exact.bin');
    expect(res.status).toBe(201);
    const answer = await res.text();
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'forms/exact.bin' }));
    expect(stored.ContentType).toBe('application/x-test');
    expect(stored.Metadata).toEqual({ owner: 'ana' });
    expect(await sha256Of(stored.Body as AsyncIterable<Uint8Array>)).toEqual(digestOf(body));
    if (store.name === 'embedded') {
      expect(res.headers.get('etag')).toBe(stored.ETag);
      expect(element(answer, 'Key')).toBe('forms/exact.bin');
      expect(element(answer, 'ETag')).toBe(stored.ETag);
      expect(element(answer, 'Bucket')).toBe(bucket);
      expect(element(answer, 'Location')).toBe(`${store.endpoint}/${bucket}/forms/exact.bin`);
    }
  });

  it('a key prefix stores the file under <prefix><file name>, with a type under the type prefix', async () => {
    const post = await presignPost({ keyPrefix: 'photos/', maxBytes: KiB, contentTypePrefix: 'image/' });
    expect(fieldsOf(post).key).toBe(`photos/${FILENAME_VARIABLE}`);
    const res = await sendForm(post, new Blob(['png bytes']), 'cat.png', { set: { 'Content-Type': 'image/png' } });
    expect(res.status).toBe(201);
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'photos/cat.png' }));
    expect(stored.ContentType).toBe('image/png');
    expect(await stored.Body!.transformToString()).toBe('png bytes');
  });

  it('a 20 MiB file streams into the store byte-exact', async () => {
    const post = await presignPost({ key: 'forms/large.bin', maxBytes: 20 * MiB });
    const chunks: Buffer[] = [];
    for await (const chunk of randomChunks(20 * MiB, 'large-form')) chunks.push(chunk);
    const res = await sendForm(post, new Blob(chunks.map((chunk) => new Uint8Array(chunk))), 'large.bin');
    expect(res.status).toBe(201);
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'forms/large.bin' }));
    expect(stored.ContentLength).toBe(20 * MiB);
    expect(await sha256Of(stored.Body as AsyncIterable<Uint8Array>)).toEqual(
      await expectedDigest(20 * MiB, 'large-form'),
    );
  });

  it('one byte over maxBytes is EntityTooLarge and nothing is stored', async () => {
    const post = await presignPost({ key: 'forms/over.bin', maxBytes: 1000 });
    const res = await sendForm(post, new Blob([new Uint8Array(1001)]), 'over.bin');
    await expectRefused(res, 'forms/over.bin', { status: 400, code: 'EntityTooLarge' });
  });

  it('an empty file is EntityTooSmall (a form sent without a chosen file) and nothing is stored', async () => {
    const post = await presignPost({ key: 'forms/empty.bin', maxBytes: 1000 });
    const res = await sendForm(post, new Blob([]), '');
    await expectRefused(res, 'forms/empty.bin', { status: 400, code: 'EntityTooSmall' });
  });

  describe('a changed form is AccessDenied and stores nothing', () => {
    const refusals: Array<[string, Omit<PresignPostMutationVariables, 'bucket'>, FormOptions, string, RegExp]> = [
      [
        'a content type other than the signed one',
        { key: 'changed/type.txt', contentType: 'text/plain', maxBytes: KiB },
        { set: { 'Content-Type': 'text/html' } },
        'changed/type.txt',
        /Policy Condition failed: \{"Content-Type":"text\/plain"\}/,
      ],
      [
        'a content type outside the type prefix',
        { keyPrefix: 'typed/', contentTypePrefix: 'image/', maxBytes: KiB },
        { set: { key: 'typed/x.html', 'Content-Type': 'text/html' } },
        'typed/x.html',
        /Policy Condition failed: \["starts-with","\$Content-Type","image\/"\]/,
      ],
      [
        'another key',
        { key: 'changed/key.txt', maxBytes: KiB },
        { set: { key: 'changed/other.txt' } },
        'changed/other.txt',
        /Policy Condition failed: \{"key":"changed\/key.txt"\}/,
      ],
      [
        'a key outside the prefix',
        { keyPrefix: 'inside/', maxBytes: KiB },
        { set: { key: 'outside/x.txt' } },
        'outside/x.txt',
        /Policy Condition failed: \["starts-with","\$key","inside\/"\]/,
      ],
      [
        'a changed metadata value',
        { key: 'changed/meta.txt', maxBytes: KiB, metadata: [{ key: 'owner', value: 'ana' }] },
        { set: { 'x-amz-meta-owner': 'eve' } },
        'changed/meta.txt',
        /Policy Condition failed: \{"x-amz-meta-owner":"ana"\}/,
      ],
      [
        'an added field',
        { key: 'changed/extra.txt', maxBytes: KiB },
        { set: { 'x-amz-meta-added': '1' } },
        'changed/extra.txt',
        /Extra input fields: x-amz-meta-added/,
      ],
      [
        'a wrong signature',
        { key: 'changed/signature.txt', maxBytes: KiB },
        { set: { 'X-Amz-Signature': '0'.repeat(64) } },
        'changed/signature.txt',
        /signature .* does not match/,
      ],
    ];
    it.each(refusals)('%s', async (_name, args, options, key, message) => {
      const post = await presignPost(args);
      const res = await sendForm(post, new Blob(['data']), 'x.txt', options);
      await expectRefused(res, key, { status: 403, code: 'AccessDenied', message });
    });

    it('an expired policy', async () => {
      const post = await presignPost({ key: 'changed/expired.txt', maxBytes: KiB, expiresIn: 1 });
      await new Promise((resolve) => setTimeout(resolve, Date.parse(post.expiresAt) - Date.now() + 1100));
      const res = await sendForm(post, new Blob(['late']), 'x.txt');
      await expectRefused(res, 'changed/expired.txt', { status: 403, code: 'AccessDenied', message: /Policy expired/ });
    });
  });
});

describe('presignPost arguments and access', () => {
  const store = storeForSecurity(testStores());
  const WRITER = 'post-writer-token-0123456789';
  const ALL = 'post-all-buckets-token-0123456789';
  const READER = 'post-reader-token-0123456789';
  const API_KEYS = JSON.stringify({
    keys: [
      { name: 'writer', token: WRITER, grants: [{ bucket: 'photos', role: 'write' }] },
      { name: 'reader', token: READER, grants: [{ bucket: '*', role: 'read' }] },
      { name: 'all', token: ALL, grants: [{ bucket: '*', role: 'write' }] },
    ],
  });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  let app: TestServer;

  beforeAll(async () => {
    app = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0', MAX_UPLOAD_BYTES: '1MiB' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('needs write on the bucket: a read key is FORBIDDEN, a write key gets a form', async () => {
    const args = { bucket: 'photos', key: 'a.png', maxBytes: 10 };
    const denied = await app.gql(PresignPostDocument, args, bearer(READER));
    expect(codes(denied)).toEqual(['FORBIDDEN']);
    const other = await app.gql(PresignPostDocument, { ...args, bucket: 'logs' }, bearer(WRITER));
    expect(codes(other)).toEqual(['FORBIDDEN']);
    app.resetCalls();
    const granted = await app.gql(PresignPostDocument, args, bearer(WRITER));
    expect(granted.errors).toBeUndefined();
    expect(granted.data!.presignPost.maxBytes).toBe(10);
    // Signed here: no store call.
    expect(app.calls).toEqual([]);
  });

  it.each<[string, Omit<PresignPostMutationVariables, 'bucket'> & { bucket?: string }]>([
    ['bucket', { bucket: 'Not_A_Bucket', key: 'a', maxBytes: 10 }],
    ['key', { maxBytes: 10 }],
    ['key', { key: 'a', keyPrefix: 'b/', maxBytes: 10 }],
    ['key', { key: '', maxBytes: 10 }],
    ['key', { key: 'a/../b', maxBytes: 10 }],
    ['key', { key: `uploads/${FILENAME_VARIABLE}`, maxBytes: 10 }],
    ['keyPrefix', { keyPrefix: '', maxBytes: 10 }],
    ['keyPrefix', { keyPrefix: 'x'.repeat(1024), maxBytes: 10 }],
    ['keyPrefix', { keyPrefix: `a/${FILENAME_VARIABLE}/`, maxBytes: 10 }],
    ['maxBytes', { key: 'a', maxBytes: 0 }],
    ['maxBytes', { key: 'a', maxBytes: 1024 * 1024 + 1 }],
    ['contentType', { key: 'a', maxBytes: 10, contentType: 'text/plain', contentTypePrefix: 'text/' }],
    ['contentType', { key: 'a', maxBytes: 10, contentType: 'not a type' }],
    ['contentTypePrefix', { key: 'a', maxBytes: 10, contentTypePrefix: 'image/*' }],
    ['metadata[0].key', { key: 'a', maxBytes: 10, metadata: [{ key: 'bad key', value: 'v' }] }],
    ['metadata[0].value', { key: 'a', maxBytes: 10, metadata: [{ key: 'k', value: 'line\nbreak' }] }],
    ['expiresIn', { key: 'a', maxBytes: 10, expiresIn: 0 }],
    ['expiresIn', { key: 'a', maxBytes: 10, expiresIn: 604_801 }],
  ])('a bad %s is BAD_USER_INPUT, and nothing reaches the store', async (argument, args) => {
    app.resetCalls();
    const res = await app.gql(PresignPostDocument, { bucket: 'photos', ...args }, bearer(ALL));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.argument).toBe(argument);
    expect(app.calls).toEqual([]);
  });

  it('maxBytes may be MAX_UPLOAD_BYTES itself', async () => {
    const res = await app.gql(PresignPostDocument, { bucket: 'photos', key: 'a', maxBytes: MiB }, bearer(WRITER));
    expect(res.errors).toBeUndefined();
  });
});

describe('presignPost with the embedded store under /s3 on the API port', () => {
  let dataDir: string;
  let app: TestServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-post-'));
    app = await startServer(undefined, { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0' });
    const created = await app.gql('mutation { createBucket(name: "forms") { name } }');
    expect(created.errors).toBeUndefined();
  });
  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('points the form at PUBLIC_URL/s3/<bucket>, where it lands', async () => {
    const res = await app.gql(PresignPostDocument, { bucket: 'forms', key: 'via-api.txt', maxBytes: 100 });
    const post = res.data!.presignPost;
    expect(post.url).toBe(`${app.base}/s3/forms`);
    const sent = await sendForm(post, new Blob(['through the API port']), 'via-api.txt');
    expect(sent.status).toBe(201);
    expect(await sent.text()).toContain(`<Location>${app.base}/s3/forms/via-api.txt</Location>`);
    const head = await app.store.headObject('forms', 'via-api.txt');
    expect(head?.size).toBe('through the API port'.length);
  });
});

describe('POST Object under /s3 behind a proxy (PUBLIC_URL)', () => {
  const PUBLIC_URL = 'https://files.example.com';
  let dataDir: string;
  let app: TestServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-post-public-'));
    app = await startServer(undefined, { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0', PUBLIC_URL });
    const created = await app.gql('mutation { createBucket(name: "forms") { name } }');
    expect(created.errors).toBeUndefined();
  });
  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers with a Location on PUBLIC_URL, not the Host the proxy forwarded', async () => {
    const res = await app.gql(PresignPostDocument, { bucket: 'forms', key: 'dir/via proxy.txt', maxBytes: 100 });
    const post = res.data!.presignPost;
    expect(post.url).toBe(`${PUBLIC_URL}/s3/forms`);
    // What the proxy in front of the API does: the same form, to the API's own address.
    const sent = await sendForm({ ...post, url: `${app.base}/s3/forms` }, new Blob(['behind a proxy']), 'x.txt');
    expect(sent.status).toBe(201);
    const location = `${PUBLIC_URL}/s3/forms/dir/via%20proxy.txt`;
    expect(sent.headers.get('location')).toBe(location);
    expect(await sent.text()).toContain(`<Location>${location}</Location>`);
    expect((await app.store.headObject('forms', 'dir/via proxy.txt'))?.size).toBe('behind a proxy'.length);
  });
});
