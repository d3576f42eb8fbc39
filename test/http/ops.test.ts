/**
 * The operational routes (/healthz, /readyz, /metrics), request ids, unknown
 * routes and the per-request log line, on the real server.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READY_CACHE_MS } from '../../src/http/routes/health.js';
import { freePort } from '../support/servers.js';
import { testStores } from '../support/stores.js';
import { eventually, startServer, storeCalls, type TestServer } from '../support/app.js';

const [store] = testStores();

describe('operational routes', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Debug lines, and no scrubber: the server itself must never write the Authorization header.
    server = await startServer(store!, { LOG_LEVEL: 'debug' }, { rawLog: true });
  });
  afterAll(() => server.close());

  it('/healthz answers 200 while serving', async () => {
    const res = await fetch(`${server.base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the store answers', async () => {
    const res = await fetch(`${server.base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz asks the store once for many concurrent probes, and again once its answer is READY_CACHE_MS old', async () => {
    const wait = () => new Promise((resolve) => setTimeout(resolve, READY_CACHE_MS + 100));
    await wait();
    const before = await storeCalls(server.metrics, 'ListBuckets');
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.base}/readyz`)));
    expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 200));
    await Promise.all(answers.map((res) => res.arrayBuffer()));
    expect(await storeCalls(server.metrics, 'ListBuckets')).toBe(before + 1);
    expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
    expect(await storeCalls(server.metrics, 'ListBuckets')).toBe(before + 1);
    await wait();
    expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
    expect(await storeCalls(server.metrics, 'ListBuckets')).toBe(before + 2);
  });

  it('/metrics shows the store calls made so far, by operation and outcome', async () => {
    await fetch(`${server.base}/readyz`);
    const res = await fetch(`${server.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^s3graphql_store_calls_total\{operation="ListBuckets",outcome="ok"\} [1-9]\d*$/m);
    expect(text).toMatch(/^s3graphql_store_call_duration_seconds_count\{operation="ListBuckets",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^s3graphql_http_requests_total\{route="readyz",method="GET",status="200"\} [1-9]/m);
    expect(text).toMatch(/^s3graphql_http_request_duration_seconds_bucket\{le="0.005",route="healthz"/m);
    expect(text).toMatch(/^s3graphql_uploads_in_flight 0$/m);
    expect(text).toMatch(/^s3graphql_upload_bytes_total 0$/m);
    expect(text).toMatch(/^s3graphql_download_bytes_total 0$/m);
  });

  it('counts GraphQL operations by name', async () => {
    const res = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query Probe { buckets { name } }' }),
    });
    expect(res.status).toBe(200);
    const text = await (await fetch(`${server.base}/metrics`)).text();
    expect(text).toMatch(/^s3graphql_graphql_operations_total\{name="Probe",type="query",outcome="ok"\} 1$/m);
  });

  it('echoes a well-formed x-request-id and replaces any other', async () => {
    const mine = await fetch(`${server.base}/healthz`, { headers: { 'x-request-id': 'trace-42.a:b_c' } });
    expect(mine.headers.get('x-request-id')).toBe('trace-42.a:b_c');
    const bad = await fetch(`${server.base}/healthz`, { headers: { 'x-request-id': 'no spaces <allowed>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await fetch(`${server.base}/healthz`);
    const id = none.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(id).not.toBe(bad.headers.get('x-request-id'));
  });

  it('answers unknown routes and wrong methods with JSON errors', async () => {
    const missing = await fetch(`${server.base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await missing.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });

    const post = await fetch(`${server.base}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

    const before = await storeCalls(server.metrics);
    for (const contentType of ['text/plain', 'application/xml', 'nonsense']) {
      const res = await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-graphql-csrf': '1' },
        body: JSON.stringify({ query: '{ buckets { name } }' }),
      });
      expect(res.status, contentType).toBe(415);
      expect(await res.json()).toEqual({
        errors: [
          {
            message: `POST /graphql takes application/json, or multipart/form-data for uploads; this request is ${contentType === 'nonsense' ? 'without a valid content type' : contentType}.`,
            extensions: { code: 'BAD_USER_INPUT' },
          },
        ],
      });
    }
    expect(await storeCalls(server.metrics)).toBe(before);

    // What clients send as JSON in other spellings is read as JSON.
    for (const contentType of [
      'Application/JSON',
      'application/json ; charset=utf-8',
      'application/json, text/plain',
    ]) {
      const res = await fetch(`${server.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-graphql-csrf': '1' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(res.status, contentType).toBe(200);
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    }
  });

  it('logs one line per request with method, route, status, time and request id, never the Authorization header', async () => {
    const secret = 'Bearer very-secret-token-value-123';
    await fetch(`${server.base}/healthz?x=1`, { headers: { authorization: secret, 'x-request-id': 'log-line-test' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = server.logs.filter((l) => l.requestId === 'log-line-test');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', route: 'healthz', path: '/healthz', status: 200, msg: 'request' });
    expect(typeof lines[0]!.ms).toBe('number');
    expect(JSON.stringify(server.logs)).not.toContain('very-secret-token-value');
  });
});

describe('readiness without a store', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Nothing listens on this port: the store is unreachable.
    const port = await freePort();
    server = await startServer(
      { endpoint: `http://127.0.0.1:${port}`, credentials: store!.credentials },
      { LOG_LEVEL: 'debug' },
    );
  });
  afterAll(() => server.close());

  it('/readyz answers 503 within about two seconds, /healthz still 200', async () => {
    const started = Date.now();
    const res = await fetch(`${server.base}/readyz`);
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_000);
    const body = (await res.json()) as { status: string; message: string };
    expect(body.status).toBe('unavailable');
    expect(body.message).not.toContain('127.0.0.1');
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
    expect(await storeCalls(server.metrics, 'ListBuckets')).toBeGreaterThan(0);
  });
});

describe('readiness with a store that never answers', () => {
  let server: TestServer;
  let silent: net.Server;
  const open = new Set<net.Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: only an abandoned call closes its socket.
    silent = net.createServer((socket) => {
      socket.resume();
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    server = await startServer({ endpoint: `http://127.0.0.1:${port}`, credentials: store!.credentials });
  });
  afterAll(async () => {
    await server.close();
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('/readyz answers 503 after its timeout and abandons the store call, closing its connection', async () => {
    const res = await fetch(`${server.base}/readyz`);
    expect(res.status).toBe(503);
    expect(await eventually(() => open.size === 0, 2_000)).toBe(true);
  });
});
