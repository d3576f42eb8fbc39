/**
 * CSRF protection on /graphql: requests a browser may send cross-site without
 * a preflight are refused with 403 before any body byte is read, so nothing
 * reaches the store.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import { startServer, storeCalls, type TestServer } from '../support/app.js';

const store = testStores()[0]!;

const uploadOperations = (bucket: string) =>
  JSON.stringify({
    query: `mutation ($file: Upload!) { uploadObject(bucket: "${bucket}", key: "csrf.txt", file: $file) { key } }`,
    variables: { file: null },
  });

function uploadForm(bucket: string): FormData {
  const form = new FormData();
  form.append('operations', uploadOperations(bucket));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob(['hello from another site']), 'csrf.txt');
  return form;
}

describe('CSRF protection on /graphql', () => {
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-csrf');
    server = await startServer(store);
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const bodies: Record<string, () => { body: BodyInit; contentType?: string }> = {
    'multipart/form-data': () => ({ body: uploadForm(bucket) }),
    'text/plain': () => ({ body: uploadOperations(bucket), contentType: 'text/plain;charset=UTF-8' }),
    'application/x-www-form-urlencoded': () => ({
      body: new URLSearchParams({ query: '{ buckets { name } }' }),
      contentType: 'application/x-www-form-urlencoded',
    }),
    'an unparseable content type': () => ({ body: '{"query":"{ buckets { name } }"}', contentType: 'json, please' }),
  };

  it.each(Object.keys(bodies))('refuses %s without a CSRF header, and the store sees nothing', async (name) => {
    const before = await storeCalls(server.metrics);
    const { body, contentType } = bodies[name]!();
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      body,
      headers: contentType ? { 'content-type': contentType } : {},
    });
    expect(res.status).toBe(403);
    const json = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(json.errors[0]!.extensions.code).toBe('FORBIDDEN');
    expect(json.errors[0]!.message).toMatch(/x-graphql-csrf/);
    expect(await storeCalls(server.metrics)).toBe(before);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('refuses a POST without a content type, whatever other headers it has', async () => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      body: new Blob(['{"query":"{ buckets { name } }"}']),
      headers: { authorization: 'Bearer whatever-token-000000', 'x-other': '1' },
    });
    expect(res.status).toBe(403);
    await res.arrayBuffer();
  });

  it('refuses an empty CSRF header', async () => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      body: uploadForm(bucket),
      headers: { 'x-graphql-csrf': ' ' },
    });
    expect(res.status).toBe(403);
    await res.arrayBuffer();
  });

  it.each(['x-graphql-csrf', 'Apollo-Require-Preflight'])('lets a multipart upload with %s through', async (header) => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      body: uploadForm(bucket),
      headers: { [header]: '1' },
    });
    expect(await res.json()).toEqual({ data: { uploadObject: { key: 'csrf.txt' } } });
    expect(res.status).toBe(200);
  });

  it('lets JSON requests and GET queries through without a header', async () => {
    const post = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ data: { __typename: 'Query' } });
    const get = await fetch(`${server.base}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
