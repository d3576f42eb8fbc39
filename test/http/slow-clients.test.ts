/**
 * Clients that hold connections open without sending a request, on raw
 * `node:net` sockets against the real server, with short timeouts so each
 * case takes a second or two: headers that trickle in, bodies (JSON and
 * uploads) that trickle in, and more connections than the caps allow.
 */
import { connect, type Socket } from 'node:net';
import { HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MiB, randomChunks } from '../support/data.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import { eventually, startServer, storeCalls, type TestServer } from '../support/app.js';
import { BOUNDARY, multipartHead, uploadOperations } from './multipart.js';

/** A raw connection to the server, with everything it has received so far. */
interface RawClient {
  socket: Socket;
  received(): string;
  /** Resolves true once the server has closed the connection, false after `ms` if it has not. */
  closedWithin(ms: number): Promise<boolean>;
}

const sockets: Socket[] = [];

function open(url: string, localAddress = '127.0.0.1'): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress });
    sockets.push(socket);
    let text = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.once('close', () => (closed = true));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        closedWithin: (ms) => eventually(() => closed, ms),
      }),
    );
    socket.once('error', reject);
  });
}

/** Writes `text` a byte at a time, one byte every `everyMs`, until the connection closes. */
function trickle(client: RawClient, text: string, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (client.socket.destroyed || client.socket.writableEnded) return clearInterval(timer);
    client.socket.write(text[at % text.length]!);
    at++;
  }, everyMs);
  client.socket.once('close', () => clearInterval(timer));
}

/** Writes `data` honouring backpressure. */
async function send(socket: Socket, data: Uint8Array): Promise<void> {
  if (!socket.write(data)) await new Promise((resolve) => socket.once('drain', resolve));
}

/** Whether the server answers a keep-alive request on a new connection within a second (the connection stays open). */
async function answers(url: string, localAddress?: string): Promise<boolean> {
  const client = await open(url, localAddress);
  client.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
  return eventually(() => client.received().includes('{"status":"ok"}'), 1_000);
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

// The embedded store is the fastest (started last); the slow part here is the client.
const store = testStores().at(-1)!;

describe('slow clients', () => {
  let s3: S3Client;
  let server: TestServer;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(store);
    bucket = await createTestBucket(s3, 'http-slow');
    server = await startServer(store, {
      HEADERS_TIMEOUT_MS: '500',
      MIN_UPLOAD_BYTES_PER_SECOND: '1000',
      UPLOAD_RATE_WINDOW_MS: '1000',
      // The store upload goes to parts after 5 MiB.
      MAX_UPLOAD_BYTES: String(6 * MiB),
      UPLOAD_PART_SIZE: String(5 * MiB),
      UPLOAD_QUEUE_SIZE: '2',
    });
  });

  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('answers 408 and closes a connection whose headers take longer than HEADERS_TIMEOUT_MS', async () => {
    const client = await open(server.base);
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n');
    // A header line every 100 ms: the connection is never idle.
    trickle(client, 'x-pad: 1\r\n', 10);
    expect(await client.closedWithin(3_000)).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that sends nothing within HEADERS_TIMEOUT_MS', async () => {
    const client = await open(server.base);
    expect(await client.closedWithin(3_000)).toBe(true);
  });

  it('answers 408 and closes a connection whose JSON body arrives slower than MIN_UPLOAD_BYTES_PER_SECOND', async () => {
    const client = await open(server.base);
    const body = JSON.stringify({ query: '{ __typename }' }).padEnd(400, ' ');
    client.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    // 10 bytes a second: the whole body would take 40 s.
    trickle(client, body, 100);
    expect(await client.closedWithin(4_000)).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('MIN_UPLOAD_BYTES_PER_SECOND');
  });

  it('takes a body that arrives slowly but faster than MIN_UPLOAD_BYTES_PER_SECOND', async () => {
    const client = await open(server.base);
    const body = JSON.stringify({ query: '{ __typename }' }).padEnd(3_000, ' ');
    client.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    // 2,500 bytes a second, for 1.2 s: longer than a window.
    for (let at = 0; at < body.length; at += 250) {
      client.socket.write(body.slice(at, at + 250));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await eventually(() => client.received().includes('"__typename":"Query"'), 3_000)).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('cuts an upload that slows to a trickle, leaving no object and no multipart upload', async () => {
    const key = 'trickled.bin';
    const multipartBefore = await storeCalls(server.metrics, 'CreateMultipartUpload');
    const abortsBefore = await storeCalls(server.metrics, 'AbortMultipartUpload');
    const client = await open(server.base);
    client.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: test\r\nx-graphql-csrf: 1\r\n` +
        `content-type: multipart/form-data; boundary=${BOUNDARY}\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    const chunk = (data: Uint8Array) =>
      Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const head = multipartHead(
      [
        { name: 'operations', value: uploadOperations(bucket, key) },
        { name: 'map', value: JSON.stringify({ 0: ['variables.file'] }) },
      ],
      '0',
      key,
    );
    await send(client.socket, chunk(head));
    // More than one 5 MiB part at full speed, so the store upload is a multipart upload by now ...
    for await (const data of randomChunks(5.5 * MiB, 'trickled')) await send(client.socket, chunk(data));
    expect(
      await eventually(
        async () => (await storeCalls(server.metrics, 'CreateMultipartUpload')) > multipartBefore,
        10_000,
      ),
    ).toBe(true);
    // ... then a one-byte chunk (6 bytes on the wire) every 100 ms.
    const trickling = setInterval(() => client.socket.write(chunk(Buffer.from('x'))), 100);
    client.socket.once('close', () => clearInterval(trickling));

    expect(await client.closedWithin(6_000)).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(
      await eventually(
        async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads === undefined,
      ),
    ).toBe(true);
    // The abort's metric is counted when its answer is read, which can come after the listing above is empty.
    expect(
      await eventually(async () => (await storeCalls(server.metrics, 'AbortMultipartUpload')) > abortsBefore),
    ).toBe(true);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  });
});

describe('connection caps', () => {
  let perClient: TestServer;
  let overall: TestServer;

  beforeAll(async () => {
    [perClient, overall] = await Promise.all([
      startServer(store, { MAX_CONNECTIONS_PER_CLIENT: '3' }),
      startServer(store, { MAX_CONNECTIONS: '3', MAX_CONNECTIONS_PER_CLIENT: '0' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([perClient?.close(), overall?.close()]);
  });

  it('refuses a client address more than MAX_CONNECTIONS_PER_CLIENT connections, and no other address', async () => {
    for (let i = 0; i < 3; i++) expect(await answers(perClient.base)).toBe(true);
    const refused = await open(perClient.base);
    refused.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    expect(await refused.closedWithin(2_000)).toBe(true);
    expect(refused.received()).toBe('');

    // Another address (all of 127.0.0.0/8 is loopback) is a client of its own.
    expect(await answers(perClient.base, '127.0.0.2')).toBe(true);
    // A connection that closes frees its place.
    sockets[0]!.destroy();
    expect(await eventually(() => answers(perClient.base), 3_000)).toBe(true);
  });

  it('refuses connections over MAX_CONNECTIONS, whatever their address', async () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '127.0.0.3'])
      expect(await answers(overall.base, address)).toBe(true);
    const refused = await open(overall.base, '127.0.0.4');
    refused.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    expect(await refused.closedWithin(2_000)).toBe(true);
    expect(refused.received()).toBe('');
  });
});
