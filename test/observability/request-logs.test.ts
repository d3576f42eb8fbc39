/**
 * Request-scoped logs: every line written while a request is served carries
 * its request id (the one it came with, else a new one, answered in
 * `x-request-id`), the store-call lines of the S3 client included, and each
 * request gets one access line with its route, GraphQL operations, caller's
 * key name, status, duration and bytes in and out; no token on any line.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/app.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

const TOKEN = 'request-log-token-must-not-appear-0001';
const API_KEYS = JSON.stringify({
  keys: [{ name: 'uploader', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] }],
});
const auth = { authorization: `Bearer ${TOKEN}` };

const [store] = testStores();

describe('request-scoped logs', () => {
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store!);
    bucket = await createTestBucket(s3, 'req-logs');
    // Store calls are logged at debug.
    server = await startServer(store!, { API_KEYS, LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const linesOf = (requestId: string) => server.logs.filter((line) => line.requestId === requestId);
  const storeCallLines = () => server.logs.filter((line) => line.component === 's3' && line.msg === 'store call');
  const accessLine = (requestId: string) => linesOf(requestId).find((line) => line.msg === 'request');

  it('an upload: its store calls and its access line carry the id it came with', async () => {
    const before = storeCallLines().length;
    const query =
      'mutation Put($bucket: String!, $key: String!, $file: Upload!) { uploadObject(bucket: $bucket, key: $key, file: $file) { key } }';
    const content = 'x'.repeat(5000);
    const res = await server.upload(
      query,
      { bucket, key: 'logged.txt' },
      { file: content },
      { ...auth, 'x-request-id': 'upload-42' },
    );
    expect(res.errors).toBeUndefined();
    expect(res.headers.get('x-request-id')).toBe('upload-42');

    const calls = storeCallLines().slice(before);
    expect(calls.map((line) => line.command)).toContain('PutObjectCommand');
    for (const line of calls) expect(line.requestId).toBe('upload-42');

    const access = accessLine('upload-42');
    expect(access).toMatchObject({
      route: 'graphql',
      operation: 'Put',
      caller: 'uploader',
      status: 200,
      method: 'POST',
    });
    expect(access?.ms).toEqual(expect.any(Number));
    expect(access?.bytesIn).toBeGreaterThan(content.length);
    expect(access?.bytesOut).toBeGreaterThan(JSON.stringify(res.body).length);
    expect(linesOf('upload-42').filter((line) => line.msg === 'request')).toHaveLength(1);
  });

  it('without a usable x-request-id, a new id is answered and logged on its store calls', async () => {
    const before = storeCallLines().length;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'not an id <>', ...auth },
      body: JSON.stringify({
        query: 'query Listing($b: String!) { bucket(name: $b) { objects { edges { node { key } } } } }',
        variables: { b: bucket },
      }),
    });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const calls = storeCallLines().slice(before);
    expect(calls.length).toBeGreaterThan(0);
    for (const line of calls) expect(line.requestId).toBe(id);
    expect(accessLine(id!)).toMatchObject({ route: 'graphql', operation: 'Listing', caller: 'uploader', status: 200 });
  });

  it('a batch names each operation, an unnamed one as anonymous', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'batch-1', ...auth },
      body: JSON.stringify([{ query: 'query One { viewer { name } }' }, { query: '{ viewer { name } }' }]),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(accessLine('batch-1')).toMatchObject({ operation: 'One,anonymous', caller: 'uploader' });
  });

  it('a download names its caller and counts the bytes it sent; a bad token has no caller', async () => {
    const res = await fetch(`${server.base}/objects/${bucket}/logged.txt`, {
      headers: { ...auth, 'x-request-id': 'get-1' },
    });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBe(5000);
    expect(accessLine('get-1')).toMatchObject({ route: 'objects', caller: 'uploader', status: 200 });
    expect(accessLine('get-1')?.bytesOut).toBeGreaterThan(5000);
    expect(accessLine('get-1')?.operation).toBeUndefined();

    const denied = await fetch(`${server.base}/objects/${bucket}/logged.txt`, {
      headers: { authorization: 'Bearer wrong-token-0000', 'x-request-id': 'get-2' },
    });
    expect(denied.status).toBe(401);
    await denied.arrayBuffer();
    expect(accessLine('get-2')).toMatchObject({ route: 'objects', status: 401 });
    expect(accessLine('get-2')?.caller).toBeUndefined();
  });

  it('no line carries a token or a second request id', () => {
    expect(server.logText()).not.toContain(TOKEN);
    expect(server.logText()).not.toContain('wrong-token-0000');
    expect(server.logText()).not.toMatch(/"requestId":"[^"]*"[^\n]*"requestId"/);
  });
});
