/**
 * OpenTelemetry tracing, with the spans kept in memory instead of sent over
 * OTLP: one uploadObject request gives the HTTP server span, the GraphQL
 * operation span under it, the resolver span under that and the store-call
 * span under the resolver; a client's `traceparent` is the root's parent
 * (sampled or not: a client cannot hide its requests from the operator),
 * and the store receives the store call's `traceparent` (seen by a loopback
 * proxy in front of it). Over OTLP, spans go to `<endpoint>/v1/traces`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startTracing, type Tracing } from '../../src/observability/tracing.js';
import { eventually, startServer, type TestServer } from '../support/app.js';
import { startMain, type MainProcess } from '../support/main-process.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

const [store] = testStores();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

/** A loopback proxy to `target` that notes the `traceparent` of every request it forwards, by method and path. */
async function recordingProxy(
  target: string,
): Promise<{ url: string; seen: { line: string; traceparent?: string }[]; server: Server }> {
  const to = new URL(target);
  const seen: { line: string; traceparent?: string }[] = [];
  const server = createServer((req, res) => {
    const traceparent = req.headers.traceparent;
    seen.push({ line: `${req.method} ${req.url}`, ...(typeof traceparent === 'string' && { traceparent }) });
    const out = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    tracing = await startTracing({ otlpEndpoint: undefined, serviceName: 's3-graphql-test' }, { exporter });
    s3 = s3Client(store!);
    bucket = await createTestBucket(s3, 'tracing');
    proxy = await recordingProxy(store!.endpoint);
    server = await startServer({ endpoint: proxy.url, credentials: store!.credentials });
  });
  afterAll(async () => {
    await server?.close();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await tracing?.shutdown();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  const spans = () => exporter.getFinishedSpans();
  const childrenOf = (parent: ReadableSpan) =>
    spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);

  it("one upload: HTTP request → GraphQL operation → resolver → store call, under the client's traceparent", async () => {
    exporter.reset();
    proxy.seen.length = 0;
    const query =
      'mutation Put($bucket: String!, $key: String!, $file: Upload!) { uploadObject(bucket: $bucket, key: $key, file: $file) { key } }';
    const res = await server.upload(
      query,
      { bucket, key: 'traced.txt' },
      { file: 'traced content' },
      {
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`,
      },
    );
    expect(res.errors).toBeUndefined();

    let root: ReadableSpan | undefined;
    expect(
      await eventually(() => {
        root = spans().find(
          (span) => span.kind === SpanKind.SERVER && span.parentSpanContext?.spanId === CLIENT_SPAN_ID,
        );
        return root !== undefined;
      }),
    ).toBe(true);
    expect(root!.spanContext().traceId).toBe(TRACE_ID);
    expect(root!.attributes['http.request.method'] ?? root!.attributes['http.method']).toBe('POST');

    const [operation, ...more] = childrenOf(root!);
    expect(more).toEqual([]);
    expect(operation).toMatchObject({
      name: 'graphql.execute',
      attributes: { 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Put' },
    });

    const [resolver, ...others] = childrenOf(operation!);
    expect(others).toEqual([]);
    expect(resolver).toMatchObject({ name: 'graphql.resolve', attributes: { 'graphql.field.name': 'uploadObject' } });

    const calls = childrenOf(resolver!).filter((span) => span.kind === SpanKind.CLIENT);
    expect(calls.map((span) => span.name)).toContain('S3.PutObject');
    for (const call of calls) expect(call.attributes).toMatchObject({ 'rpc.service': 'S3', 'aws.s3.bucket': bucket });

    // The store received each call's own traceparent.
    const put = calls.find((span) => span.name === 'S3.PutObject')!;
    const atStore = proxy.seen.find((r) => r.line.startsWith(`PUT /${bucket}/traced.txt`));
    expect(atStore?.traceparent).toBe(`00-${TRACE_ID}-${put.spanContext().spanId}-01`);
    expect(proxy.seen.every((r) => r.traceparent?.startsWith(`00-${TRACE_ID}-`))).toBe(true);
  });

  it("a client's traceparent with sampled=0 does not turn the server's spans off", async () => {
    exporter.reset();
    const res = await server.gql(`query Hidden { bucket(name: "${bucket}") { name } }`, undefined, {
      traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-00`,
    });
    expect(res.errors).toBeUndefined();
    let root: ReadableSpan | undefined;
    expect(
      await eventually(() => {
        root = spans().find(
          (span) => span.kind === SpanKind.SERVER && span.parentSpanContext?.spanId === CLIENT_SPAN_ID,
        );
        return root !== undefined && childrenOf(root).length > 0;
      }),
    ).toBe(true);
    expect(root!.spanContext().traceId).toBe(TRACE_ID);
    expect(childrenOf(root!)[0]?.attributes['graphql.operation.name']).toBe('Hidden');
  });

  it('without a traceparent, a request starts a trace of its own; probes make no spans', async () => {
    exporter.reset();
    await fetch(`${server.base}/healthz`);
    const res = await server.gql(`query Look { bucket(name: "${bucket}") { name } }`);
    expect(res.errors).toBeUndefined();
    let root: ReadableSpan | undefined;
    expect(
      await eventually(() => {
        root = spans().find((span) => span.kind === SpanKind.SERVER && span.parentSpanContext === undefined);
        return root !== undefined && childrenOf(root).length > 0;
      }),
    ).toBe(true);
    const [operation] = childrenOf(root!);
    expect(operation?.attributes['graphql.operation.name']).toBe('Look');
    expect(
      spans().filter((span) => span.kind === SpanKind.SERVER && span.parentSpanContext === undefined),
    ).toHaveLength(1);
  });
});

describe('the OTLP endpoint', () => {
  it('gets <path>/v1/traces however OTEL_EXPORTER_OTLP_ENDPOINT ends (a slash, a query)', async () => {
    const received: string[] = [];
    const collector = createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      for (const [suffix, path] of [
        ['/', '/v1/traces'],
        ['/otlp//', '/otlp/v1/traces'],
        ['/otlp/?tenant=a', '/otlp/v1/traces?tenant=a'],
      ] as const) {
        received.length = 0;
        const { tracing: settings } = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `${origin}${suffix}` });
        const tracing = await startTracing(settings);
        trace.getTracer('test').startSpan('one').end();
        await tracing.shutdown();
        expect(received).toEqual([path]);
      }
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});

describe('tracing in the server process', () => {
  it('with OTEL_EXPORTER_OTLP_ENDPOINT, `npm start` sends its spans over OTLP/HTTP to <endpoint>/v1/traces, the last ones at SIGTERM', async () => {
    const received: { path: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const dir = await mkdtemp(join(tmpdir(), 's3gql-otel-'));
    let server: MainProcess | undefined;
    try {
      server = await startMain({
        DATA_DIR: join(dir, 'data'),
        PORT: '0',
        EMBEDDED_S3_PORT: '0',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: 'traced-api',
      });
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01` },
        body: JSON.stringify({ query: 'query Everything { buckets { name } }' }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect(await server.stop()).toBe(0);
    } finally {
      await server?.stop('SIGKILL');
      await new Promise((resolve) => collector.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.path === '/v1/traces')).toBe(true);
    const sent = received.map((r) => r.body).join('\n');
    for (const expected of ['traced-api', 'graphql.execute', 'Everything', 'graphql.resolve', 'S3.ListBuckets'])
      expect(sent).toContain(expected);
    expect(sent).toContain(TRACE_ID);
  });
});
