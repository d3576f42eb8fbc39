/**
 * Graceful drain on SIGTERM, sent to the server process itself (`node
 * --import tsx src/main.ts`, its embedded store in a temp DATA_DIR): /readyz
 * answers 503 at once and new connections are refused; a large download and
 * a large upload in flight run to their end within SHUTDOWN_TIMEOUT_MS, and
 * are cut cleanly past it (no object, no multipart upload left at the store);
 * the process exits 0 either way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore } from '../../src/embedded/index.js';
import { eventually, metricValue, startServer } from '../support/app.js';
import { s3Client } from '../support/stores.js';

const ROOT = new URL('../../', import.meta.url);
const MIB = 1024 * 1024;
const BUCKET = 'drained';
/** Larger than loopback's socket buffers, so the server is still sending when the drain starts. */
const DOWNLOAD_BYTES = 24 * MIB;
/** More than one part of UPLOAD_PART_SIZE (5 MiB): a multipart upload at the store. */
const UPLOAD_BYTES = 12 * MIB;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

interface Spawned {
  base: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  output(): string;
}

const spawned: Spawned[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const server of spawned.splice(0)) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Starts the server process on a temp DATA_DIR and waits for its banner. */
async function spawnServer(env: Record<string, string>): Promise<Spawned> {
  const dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-drain-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      PORT: '0',
      EMBEDDED_S3_PORT: '0',
      UPLOAD_PART_SIZE: '5MiB',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let signalled = 0;
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    ms: performance.now() - signalled,
  }));
  const kill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => {
    signalled = performance.now();
    return kill(signal);
  };
  const server = { child, exit, dataDir, output: () => output } as Spawned;
  spawned.push(server);
  const ok = await eventually(() => /serving GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql/.test(output), 30_000);
  if (!ok) throw new Error(`the server did not start: ${output}`);
  server.port = Number(/serving GraphQL at http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)![1]);
  server.base = `http://127.0.0.1:${server.port}`;
  return server;
}

async function gql(base: string, query: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** The embedded store of a running server, through its `/s3` route and the keys in its DATA_DIR. */
async function storeOf(server: Spawned): Promise<S3Client> {
  const credentials = JSON.parse(await readFile(join(server.dataDir, '.credentials.json'), 'utf8')) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  return s3Client({ name: 'embedded', endpoint: `${server.base}/s3`, credentials });
}

/** Uploads a file as the GraphQL multipart spec sends it, paced at `bytesPerSecond`; `sent` counts what has gone. */
function slowUpload(base: string, key: string, data: Uint8Array, bytesPerSecond: number) {
  const boundary = `drain${randomBytes(8).toString('hex')}`;
  const operations = JSON.stringify({
    query: 'mutation($file: Upload!) { uploadObject(bucket: "drained", key: "KEY", file: $file) { key size } }'.replace(
      'KEY',
      key,
    ),
    variables: { file: null },
  });
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Buffer.concat([head, data, tail]);
  const chunk = 128 * 1024;
  const progress = { sent: 0 };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (progress.sent >= body.length) return controller.close();
      await sleep((chunk / bytesPerSecond) * 1000);
      const piece = body.subarray(progress.sent, progress.sent + chunk);
      progress.sent += piece.length;
      controller.enqueue(piece);
    },
  });
  const answer = fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-graphql-csrf': '1' },
    body: stream,
    duplex: 'half',
  } as RequestInit).then(
    async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }),
    (err: unknown) => ({ status: 0, body: { error: String(err) } }),
  );
  return { progress, answer };
}

/** A download that reads nothing until `read(bytesPerSecond)`; `done` tells how it ended. */
async function slowDownload(url: string) {
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
    get(url, { agent: false }, resolve).once('error', reject),
  );
  res.pause();
  const hash = createHash('sha256');
  let bytes = 0;
  let pace = 0;
  const done = new Promise<{ complete: boolean; bytes: number; sha256: string }>((resolve) => {
    res.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      res.pause();
      setTimeout(() => res.resume(), (chunk.length / pace) * 1000);
    });
    res.once('end', () => resolve({ complete: true, bytes, sha256: hash.digest('hex') }));
    res.once('error', () => resolve({ complete: false, bytes, sha256: '' }));
    res.once('aborted', () => resolve({ complete: false, bytes, sha256: '' }));
  });
  return {
    status: res.statusCode,
    read(bytesPerSecond: number) {
      pace = bytesPerSecond;
      res.resume();
    },
    done,
  };
}

/** A connection that has sent part of `GET /readyz`'s headers: the server sees a request under way. */
async function halfSentReadyz(port: number): Promise<{ finish(): Promise<string> }> {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  return {
    async finish() {
      socket.write('\r\n');
      await eventually(() => received.includes('\r\n\r\n'), 5_000);
      socket.destroy();
      return received;
    },
  };
}

/** Whether a new TCP connection to `port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Starts a server, creates the bucket and stores the object to download. */
async function prepare(env: Record<string, string>) {
  const server = await spawnServer(env);
  expect(await gql(server.base, `mutation { createBucket(name: "${BUCKET}") { name } }`)).toEqual({
    data: { createBucket: { name: BUCKET } },
  });
  const download = new Uint8Array(randomBytes(DOWNLOAD_BYTES));
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: `mutation($file: Upload!) { uploadObject(bucket: "${BUCKET}", key: "download", file: $file) { size } }`,
      variables: { file: null },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([download]), 'download.bin');
  const stored = await fetch(`${server.base}/graphql`, {
    method: 'POST',
    headers: { 'x-graphql-csrf': '1' },
    body: form,
  });
  expect(await stored.json()).toEqual({ data: { uploadObject: { size: DOWNLOAD_BYTES } } });
  return { server, download, s3: await storeOf(server) };
}

/** After the process exited: opens its DATA_DIR with a store of our own (which the lock must allow). */
async function reopen(server: Spawned) {
  const store = await startEmbeddedStore({ dataDir: server.dataDir, port: 0 });
  return { store, s3: s3Client({ name: 'embedded', endpoint: store.endpoint, credentials: store.credentials }) };
}

describe('graceful drain on SIGTERM', () => {
  it('lets a large download and a large upload in flight finish, refuses new connections, answers /readyz 503, exits 0', async () => {
    const { server, download, s3 } = await prepare({ SHUTDOWN_TIMEOUT_MS: '30000' });
    const reader = await slowDownload(`${server.base}/objects/${BUCKET}/download`);
    expect(reader.status).toBe(200);
    const file = new Uint8Array(randomBytes(UPLOAD_BYTES));
    const upload = slowUpload(server.base, 'uploaded', file, 6 * MIB);
    expect(await eventually(() => upload.progress.sent > 7 * MIB, 10_000)).toBe(true);
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(listed.Uploads?.map((u) => u.Key)).toEqual(['uploaded']);
    s3.destroy();
    const probe = await halfSentReadyz(server.port);

    server.child.kill('SIGTERM');
    expect(await eventually(() => refused(server.port), 5_000)).toBe(true);
    expect(await probe.finish()).toMatch(/^HTTP\/1\.1 503 /);

    reader.read(8 * MIB);
    const [answer, got] = await Promise.all([upload.answer, reader.done]);
    expect(answer).toEqual({ status: 200, body: { data: { uploadObject: { key: 'uploaded', size: UPLOAD_BYTES } } } });
    expect(got).toEqual({ complete: true, bytes: DOWNLOAD_BYTES, sha256: sha256(download) });
    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(server.output()).toMatch(/"msg":"shut down"/);

    const reopened = await reopen(server);
    try {
      const stored = await reopened.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploaded' }));
      expect(sha256(await stored.Body!.transformToByteArray())).toBe(sha256(file));
      expect((await reopened.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
    } finally {
      reopened.s3.destroy();
      await reopened.store.close();
    }
  });

  it('past SHUTDOWN_TIMEOUT_MS cuts them cleanly: no object, no multipart upload, exit code 0', async () => {
    const timeoutMs = 1_500;
    const { server, s3 } = await prepare({ SHUTDOWN_TIMEOUT_MS: String(timeoutMs) });
    const reader = await slowDownload(`${server.base}/objects/${BUCKET}/download`);
    const upload = slowUpload(server.base, 'cut', new Uint8Array(randomBytes(UPLOAD_BYTES)), 2 * MIB);
    expect(await eventually(() => upload.progress.sent > 7 * MIB, 10_000)).toBe(true);
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(listed.Uploads?.map((u) => u.Key)).toEqual(['cut']);
    s3.destroy();

    server.child.kill('SIGTERM');
    reader.read(MIB);
    const [answer, got, exit] = await Promise.all([upload.answer, reader.done, server.exit]);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(exit.ms).toBeLessThan(timeoutMs + 10_000);
    expect(answer.status).not.toBe(200);
    expect(got.complete).toBe(false);
    expect(got.bytes).toBeLessThan(DOWNLOAD_BYTES);
    expect(server.output()).toMatch(/"requests":2,.*cutting their connections/);

    const reopened = await reopen(server);
    try {
      await expect(reopened.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'cut' }))).rejects.toMatchObject({
        name: 'NotFound',
      });
      expect((await reopened.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
    } finally {
      reopened.s3.destroy();
      await reopened.store.close();
    }
  });

  it('shows the drain on the s3graphql_draining gauge', async () => {
    const server = await startServer(undefined, { DATA_DIR: await mkdtemp(join(tmpdir(), 's3-graphql-drain-')) });
    dirs.push(server.config.dataDir);
    expect(await metricValue(server.metrics, 's3graphql_draining')).toBe(0);
    const draining = server.app.drain();
    expect(await metricValue(server.metrics, 's3graphql_draining')).toBe(1);
    expect(await draining).toEqual({ cut: 0 });
  });
});
