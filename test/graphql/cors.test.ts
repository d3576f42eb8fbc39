/**
 * Bucket CORS from the API (`Bucket.cors`, `setBucketCors`,
 * `deleteBucketCors`) against every test store, checked in the store with the
 * SDK: set, read back, replace, delete; refused to a key without ADMIN and for
 * bad input, with nothing changed at the store; and what browsers get from the
 * store by the rules: a preflight from an origin in them is granted and one
 * from another origin is not (on the embedded store's own port and under /s3
 * on the API's port; moto checks the rules only once a bucket has some, see
 * deviations.ts).
 */
import { CreateBucketCommand, GetBucketCorsCommand, type S3Client as Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startServer, type TestServer } from '../support/app.js';
import { per } from '../support/deviations.js';
import {
  createTestBucket,
  embeddedClient,
  outcomeOf,
  removeBucket,
  s3Client,
  testStores,
  uniqueBucket,
} from '../support/stores.js';

const ADMIN = 'cors-admin-token-0123456789';
const WRITER = 'cors-writer-token-0123456789';
const API_KEYS = JSON.stringify({
  keys: [
    { name: 'ops', token: ADMIN, grants: [{ bucket: '*', role: 'admin' }] },
    { name: 'app', token: WRITER, grants: [{ bucket: '*', role: 'write' }] },
  ],
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const RULE_FIELDS = 'allowedOrigins allowedMethods allowedHeaders exposeHeaders maxAgeSeconds';
const SET = `mutation ($bucket: String!, $rules: [CorsRuleInput!]!) {
  setBucketCors(bucket: $bucket, rules: $rules) { name cors { ${RULE_FIELDS} } }
}`;
const DELETE = `mutation ($bucket: String!) { deleteBucketCors(bucket: $bucket) { name cors { ${RULE_FIELDS} } } }`;
const READ = `query ($bucket: String!) { bucket(name: $bucket) { name cors { ${RULE_FIELDS} } } }`;

const APP = 'http://127.0.0.1:5173';
/** The README's rule for browser uploads. */
const UPLOAD_RULE = {
  allowedOrigins: [APP],
  allowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
  allowedHeaders: ['*'],
  exposeHeaders: ['ETag'],
  maxAgeSeconds: 3000,
};

/** The bucket's rules at the store, as the SDK reads them (null: none). */
async function rulesAt(s3: Client, bucket: string) {
  try {
    return (await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules ?? [];
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchCORSConfiguration') return null;
    throw err;
  }
}

/** A raw preflight, as a browser sends it before a cross-origin PUT with a content-type. */
const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
  });

describe.each(testStores())('bucket CORS from the API on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;

  beforeAll(async () => {
    app = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
    bucket = await createTestBucket(s3, 'gql-cors');
  });
  afterAll(async () => {
    await app?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('setBucketCors sets the rules at the store, Bucket.cors reads them back, deleteBucketCors removes them', async () => {
    expect((await app.gql(READ, { bucket }, bearer(ADMIN))).data).toEqual({ bucket: { name: bucket, cors: [] } });

    const set = await app.gql(SET, { bucket, rules: [UPLOAD_RULE] }, bearer(ADMIN));
    expect(set.errors).toBeUndefined();
    expect(set.data).toEqual({ setBucketCors: { name: bucket, cors: [UPLOAD_RULE] } });
    expect(await rulesAt(s3, bucket)).toEqual([
      expect.objectContaining({
        AllowedOrigins: [APP],
        AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
        AllowedHeaders: ['*'],
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 3000,
      }),
    ]);

    // Replacing: the second set is all there is; optional lists left out read back empty.
    const minimal = { allowedOrigins: ['*'], allowedMethods: ['GET'] };
    const replaced = await app.gql(SET, { bucket, rules: [minimal, UPLOAD_RULE] }, bearer(ADMIN));
    expect(replaced.data?.setBucketCors).toEqual({
      name: bucket,
      cors: [{ ...minimal, allowedHeaders: [], exposeHeaders: [], maxAgeSeconds: null }, UPLOAD_RULE],
    });
    expect((await rulesAt(s3, bucket))?.map((r) => r.AllowedOrigins)).toEqual([['*'], [APP]]);
    expect((await app.gql(READ, { bucket }, bearer(ADMIN))).data?.bucket).toEqual(replaced.data?.setBucketCors);

    const deleted = await app.gql(DELETE, { bucket }, bearer(ADMIN));
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data).toEqual({ deleteBucketCors: { name: bucket, cors: [] } });
    expect(await rulesAt(s3, bucket)).toBeNull();
    // Deleting rules that are not there succeeds, as in S3.
    expect((await app.gql(DELETE, { bucket }, bearer(ADMIN))).errors).toBeUndefined();
  });

  it('a key without ADMIN may not set, delete or read the rules, and nothing changes at the store', async () => {
    expect((await app.gql(SET, { bucket, rules: [UPLOAD_RULE] }, bearer(ADMIN))).errors).toBeUndefined();
    app.resetCalls();

    const set = await app.gql(
      SET,
      { bucket, rules: [{ allowedOrigins: ['*'], allowedMethods: ['PUT'] }] },
      bearer(WRITER),
    );
    expect([codes(set), set.data]).toEqual([['FORBIDDEN'], null]);
    const deleted = await app.gql(DELETE, { bucket }, bearer(WRITER));
    expect([codes(deleted), deleted.data]).toEqual([['FORBIDDEN'], null]);
    // The bucket itself is readable to the writer; its CORS rules are not.
    const read = await app.gql(READ, { bucket }, bearer(WRITER));
    expect(codes(read)).toEqual(['FORBIDDEN']);
    expect(read.errors?.[0]?.path).toEqual(['bucket', 'cors']);
    expect(app.calls).not.toContain('PutBucketCors');
    expect(app.calls).not.toContain('DeleteBucketCors');
    expect(app.calls).not.toContain('GetBucketCors');

    expect((await rulesAt(s3, bucket))?.map((r) => r.AllowedOrigins)).toEqual([[APP]]);
  });

  it('refuses bad rules with BAD_USER_INPUT naming the argument, before any store call', async () => {
    expect((await app.gql(SET, { bucket, rules: [UPLOAD_RULE] }, bearer(ADMIN))).errors).toBeUndefined();
    const ok = { allowedOrigins: [APP], allowedMethods: ['PUT'] };
    const many = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i));
    const cases: [string, unknown[], string][] = [
      ['no rule', [], 'rules'],
      ['no origin', [{ ...ok, allowedOrigins: [] }], 'rules[0].allowedOrigins'],
      ['an empty origin', [{ ...ok, allowedOrigins: [''] }], 'rules[0].allowedOrigins[0]'],
      ['an origin with a path', [{ ...ok, allowedOrigins: [`${APP}/`] }], 'rules[0].allowedOrigins[0]'],
      [
        'an origin with two wildcards',
        [{ ...ok, allowedOrigins: ['https://*.*.example'] }],
        'rules[0].allowedOrigins[0]',
      ],
      ['an origin without a scheme', [ok, { ...ok, allowedOrigins: ['app.example'] }], 'rules[1].allowedOrigins[0]'],
      ['no method', [{ ...ok, allowedMethods: [] }], 'rules[0].allowedMethods'],
      ['PATCH', [{ ...ok, allowedMethods: ['GET', 'PATCH'] }], 'rules[0].allowedMethods[1]'],
      ['a lower-case method', [{ ...ok, allowedMethods: ['put'] }], 'rules[0].allowedMethods[0]'],
      ['a header with a space', [{ ...ok, allowedHeaders: ['content type'] }], 'rules[0].allowedHeaders[0]'],
      ['a header with two wildcards', [{ ...ok, allowedHeaders: ['x-*-*'] }], 'rules[0].allowedHeaders[0]'],
      ['an exposed wildcard', [{ ...ok, exposeHeaders: ['*'] }], 'rules[0].exposeHeaders[0]'],
      ['a negative max age', [{ ...ok, maxAgeSeconds: -1 }], 'rules[0].maxAgeSeconds'],
      ['a max age over a day', [{ ...ok, maxAgeSeconds: 86_401 }], 'rules[0].maxAgeSeconds'],
      ['101 rules', many(101, () => 'x').map(() => ok), 'rules'],
      [
        '101 origins',
        [{ ...ok, allowedOrigins: many(101, (i) => `https://a${i}.example`) }],
        'rules[0].allowedOrigins',
      ],
      [
        'a 257-character origin',
        [{ ...ok, allowedOrigins: [`https://${'a'.repeat(249)}`] }],
        'rules[0].allowedOrigins[0]',
      ],
      [
        'more than the 64 KiB S3 takes',
        many(30, () => 'x').map(() => ({ ...ok, allowedHeaders: many(20, (i) => `x-${i}-${'h'.repeat(120)}`) })),
        'rules',
      ],
    ];
    app.resetCalls();
    for (const [what, rules, argument] of cases) {
      const res = await app.gql(SET, { bucket, rules }, bearer(ADMIN));
      expect([codes(res), res.errors?.[0]?.extensions?.argument], what).toEqual([['BAD_USER_INPUT'], argument]);
    }
    expect(app.calls).toEqual([]);
    expect((await rulesAt(s3, bucket))?.map((r) => r.AllowedOrigins)).toEqual([[APP]]);
  });

  it('names a missing bucket NO_SUCH_BUCKET', async () => {
    const missing = uniqueBucket('gql-cors-none');
    const set = await app.gql(SET, { bucket: missing, rules: [UPLOAD_RULE] }, bearer(ADMIN));
    expect(codes(set)).toEqual(['NO_SUCH_BUCKET']);
    expect(codes(await app.gql(DELETE, { bucket: missing }, bearer(ADMIN)))).toEqual(['NO_SUCH_BUCKET']);
    expect(await outcomeOf(s3.send(new GetBucketCorsCommand({ Bucket: missing })))).toMatchObject({ ok: false });
  });

  it("grants a preflight from an origin in the bucket's rules at the store, and not one from another origin", async () => {
    const url = `${store.endpoint}/${bucket}/upload.bin`;
    const seen = (res: Response) => [res.status, res.headers.get('access-control-allow-origin')];
    expect((await app.gql(DELETE, { bucket }, bearer(ADMIN))).errors).toBeUndefined();
    // moto checks a bucket's rules only once it has some.
    expect(seen(await preflight(url, APP))).toEqual(
      per(store, 'cors.preflightNotChecked', { aws: [403, null], deviation: [200, APP] }),
    );

    expect((await app.gql(SET, { bucket, rules: [UPLOAD_RULE] }, bearer(ADMIN))).errors).toBeUndefined();
    const granted = await preflight(url, APP);
    expect(seen(granted)).toEqual([200, APP]);
    expect(granted.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    // Refused (a browser fails a preflight on any status but 2xx); moto still names the origin in the refusal.
    const other = 'http://127.0.0.1:5174';
    expect(seen(await preflight(url, other))).toEqual(
      per(store, 'cors.preflightNotChecked', { aws: [403, null], deviation: [403, other] }),
    );
  });
});

describe('bucket CORS on the embedded store under /s3 on the API port', () => {
  let dataDir: string;
  let app: TestServer;
  let direct: Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-cors-'));
    app = await startServer(undefined, { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0', API_KEYS });
    direct = embeddedClient(app);
    await direct.send(new CreateBucketCommand({ Bucket: 'uploads' }));
  });
  afterAll(async () => {
    direct?.destroy();
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses every preflight without rules, grants the origins setBucketCors allows, and refuses others', async () => {
    const urls = [`${app.base}/s3/uploads/a.bin`, `${app.app.embedded!.endpoint}/uploads/a.bin`];
    for (const url of urls) expect((await preflight(url, APP)).status, url).toBe(403);

    expect((await app.gql(SET, { bucket: 'uploads', rules: [UPLOAD_RULE] }, bearer(ADMIN))).errors).toBeUndefined();
    for (const url of urls) {
      const granted = await preflight(url, APP);
      expect(
        [
          granted.status,
          granted.headers.get('access-control-allow-origin'),
          granted.headers.get('access-control-max-age'),
        ],
        url,
      ).toEqual([200, APP, '3000']);
      const other = await preflight(url, 'http://localhost:5173');
      expect([other.status, other.headers.get('access-control-allow-origin')], url).toEqual([403, null]);
    }

    expect((await app.gql(DELETE, { bucket: 'uploads' }, bearer(ADMIN))).errors).toBeUndefined();
    for (const url of urls) expect((await preflight(url, APP)).status, url).toBe(403);
  });
});
