/**
 * startEmbeddedStore: start-up failures, the generated key pair, the data
 * dir lock, restarts, closing, what it logs, its region and its timeouts.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore, type StoreCredentials } from '../../src/embedded/index.js';
import { createS3Server } from '../../src/embedded/http/server.js';
import { Storage } from '../../src/embedded/storage/storage.js';
import { eventually, startServer } from '../support/app.js';
import { MiB, randomStream } from '../support/data.js';
import { outcomeOf } from '../support/stores.js';

let root: string;
const open: EmbeddedStore[] = [];
const clients: S3Client[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'embedded-start-'));
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of open.splice(0)) await s.close();
  await rm(root, { recursive: true, force: true });
});

async function start(options: Partial<Parameters<typeof startEmbeddedStore>[0]> = {}): Promise<EmbeddedStore> {
  const store = await startEmbeddedStore({ dataDir: join(root, 'data'), port: 0, ...options });
  open.push(store);
  return store;
}

function client(
  store: EmbeddedStore,
  credentials: StoreCredentials = store.credentials,
  region = 'us-east-1',
): S3Client {
  const c = new S3Client({
    endpoint: store.endpoint,
    region,
    forcePathStyle: true,
    credentials: { ...credentials },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<{ message: string; code: string }> {
  try {
    await promise;
  } catch (err) {
    return { message: (err as Error).message, code: (err as { code: string }).code };
  }
  throw new Error('expected a failure');
}

async function closeStore(store: EmbeddedStore): Promise<void> {
  await store.close();
  open.splice(open.indexOf(store), 1);
}

describe('startEmbeddedStore', () => {
  it('listens on loopback, generates a key pair once (mode 0600) and keeps data across restarts', async () => {
    const first = await start();
    expect(first.endpoint).toBe(`http://127.0.0.1:${first.port}`);
    expect(first.credentials.accessKeyId).toMatch(/^[A-Z0-9]{20}$/);
    const file = join(root, 'data', '.credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(first.credentials);
    const s3 = client(first);
    await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
    await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'survives' }));
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'kept', Key: 'pending' }));
    await closeStore(first);

    const second = await start();
    expect(second.credentials).toEqual(first.credentials);
    const again = client(second);
    const body = await (await again.send(new GetObjectCommand({ Bucket: 'kept', Key: 'k' }))).Body!.transformToString();
    expect(body).toBe('survives');
    const uploads = await again.send(new ListMultipartUploadsCommand({ Bucket: 'kept' }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([upload.UploadId]);
  });

  it('uses given credentials without writing them, and refuses any other key', async () => {
    const credentials = { accessKeyId: 'GIVENKEYID0123456789', secretAccessKey: 'given-secret-key-0123456789' };
    const store = await start({ credentials });
    expect(store.credentials).toEqual(credentials);
    await expect(stat(join(root, 'data', '.credentials.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await client(store).send(new CreateBucketCommand({ Bucket: 'given' }));
    const other = client(store, { accessKeyId: 'OTHERKEYID0123456789', secretAccessKey: credentials.secretAccessKey });
    await expect(other.send(new CreateBucketCommand({ Bucket: 'other' }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });
  });

  it('fails with one clear line when the port is taken, and frees the data dir', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      expect(await failure(start({ port }))).toEqual({
        message: `port ${port} on 127.0.0.1 is already in use`,
        code: 'EADDRINUSE',
      });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const store = await start();
    expect(store.port).toBeGreaterThan(0);
  });

  it('fails with one clear line when the data dir cannot be used', async () => {
    await writeFile(join(root, 'file'), 'not a directory');
    expect(await failure(startEmbeddedStore({ dataDir: join(root, 'file'), port: 0 }))).toEqual({
      message: `DATA_DIR ${join(root, 'file')} is not a directory`,
      code: 'ENOTDIR',
    });
    expect(await failure(startEmbeddedStore({ dataDir: join(root, 'file', 'sub'), port: 0 }))).toMatchObject({
      code: 'ENOTDIR',
    });

    await start();
    const locked = await failure(start());
    expect(locked.code).toBe('ELOCKED');
    expect(locked.message).toMatch(/^DATA_DIR .* is in use by another embedded store \(pid \d+\)/);
  });

  it('refuses a damaged credentials file without printing it', async () => {
    const store = await start();
    await closeStore(store);
    await writeFile(join(root, 'data', '.credentials.json'), '{"accessKeyId":"x","secretAccessKey":"leaked-secret"}');
    const err = await failure(start());
    expect(err.code).toBe('EBADCREDENTIALS');
    expect(err.message).toContain('.credentials.json does not hold a valid key pair');
    expect(err.message).not.toContain('leaked-secret');
  });

  it('logs one debug line per request, without signatures or secrets', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const store = await start({ logger: pino({ level: 'debug' }, sink) });
    const s3 = client(store);
    await s3.send(new CreateBucketCommand({ Bucket: 'logged' }));
    await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'logged', Key: 'k' }), { expiresIn: 60 });
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(`${url.slice(0, -4)}0000`)).status).toBe(403);
    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 's3 request');
    expect(requests.map((r) => [r.op, r.status])).toEqual([
      ['CreateBucket', 200],
      ['PutObject', 200],
      ['GetObject', 200],
      ['GetObject', 403],
    ]);
    const all = lines.join('\n');
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    for (const secret of [
      store.credentials.secretAccessKey,
      signature,
      'X-Amz-Signature',
      'AWS4-HMAC-SHA256',
      'authorization',
    ]) {
      expect(all).not.toContain(secret);
    }
  });

  it('close() ends open connections, waits for requests in flight and leaves no partial object', async () => {
    const store = await start();
    const s3 = client(store);
    await s3.send(new CreateBucketCommand({ Bucket: 'closing' }));
    const url = new URL(
      await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'closing', Key: 'half' }), { expiresIn: 60 }),
    );
    const upload = http.request(url, { method: 'PUT', headers: { 'content-length': String(1024 * 1024) } });
    const ended = new Promise<string>((resolve) => {
      upload.on('error', (err) => resolve(err.message));
      upload.on('response', (res) => resolve(`status ${res.statusCode}`));
    });
    upload.write(Buffer.alloc(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await closeStore(store);
    expect(await ended).toBe('socket hang up');
    await expect(fetch(`${store.endpoint}/closing`)).rejects.toThrow();

    const reopened = await start();
    expect(reopened.credentials).toEqual(store.credentials);
    expect(await readdir(join(root, 'data', 'tmp'))).toEqual([]);
    await expect(client(reopened).send(new GetObjectCommand({ Bucket: 'closing', Key: 'half' }))).rejects.toMatchObject(
      { name: 'NoSuchKey' },
    );
  });
});

/** A raw connection to the store, recording what it answers and when the store closes it. */
async function connect(store: EmbeddedStore) {
  const socket = net.connect(store.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const opened = Date.now();
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, closed, received: () => received };
}

/** Resolves with the time it took, or with 'still open' after `ms`. */
function closedWithin(closed: Promise<number>, ms: number): Promise<number | 'still open'> {
  return Promise.race([closed, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms))]);
}

/** The request line and headers of a presigned PUT, for raw sockets. */
async function presignedPutHead(store: EmbeddedStore, bucket: string, key: string, length: number): Promise<string> {
  const url = new URL(
    await getSignedUrl(client(store), new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 }),
  );
  return `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: ${length}\r\n\r\n`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('slow clients', () => {
  it('has production timeouts by default: a minute for headers and of silence, no cap on a whole request', async () => {
    const storage = await Storage.open(join(root, 'data'));
    try {
      const { server } = createS3Server({ storage, credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
      expect([server.headersTimeout, server.timeout, server.requestTimeout, server.keepAliveTimeout]).toEqual([
        60_000, 60_000, 0, 5_000,
      ]);
    } finally {
      await storage.close();
    }
  });

  it('closes a connection whose headers take too long, even while bytes trickle in', async () => {
    const store = await start({ timeouts: { headersMs: 400 } });
    const { socket, closed, received } = await connect(store);
    socket.write('GET /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    try {
      const after = await closedWithin(closed, 3000);
      expect(after).toBeGreaterThanOrEqual(350);
      expect(after).toBeLessThan(3000);
      expect(received()).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
    }
  });

  it('closes an upload that stalls, and keeps nothing of it', async () => {
    const store = await start({ timeouts: { idleMs: 400 } });
    await client(store).send(new CreateBucketCommand({ Bucket: 'stalled' }));
    const { socket, closed } = await connect(store);
    socket.write(await presignedPutHead(store, 'stalled', 'half', 100_000));
    socket.write(Buffer.alloc(10_000, 'x'));
    const after = await closedWithin(closed, 3000);
    expect(after).toBeGreaterThanOrEqual(350);
    expect(after).toBeLessThan(3000);
    expect(
      await outcomeOf(client(store).send(new HeadObjectCommand({ Bucket: 'stalled', Key: 'half' }))),
    ).toMatchObject({ status: 404 });
  });

  it('lets a slow but steady upload run longer than the idle timeout', async () => {
    // Gaps of a quarter of the idle timeout, for 3.75 s in all: well past it, with room for a loaded machine.
    const store = await start({ timeouts: { idleMs: 1000 } });
    await client(store).send(new CreateBucketCommand({ Bucket: 'steady' }));
    const { socket, closed, received } = await connect(store);
    socket.write(await presignedPutHead(store, 'steady', 'slow', 15 * 1000));
    for (let i = 0; i < 15; i++) {
      socket.write(Buffer.alloc(1000, String(i % 10)));
      await pause(250);
    }
    expect(await eventually(() => received() !== '')).toBe(true);
    expect(received()).toMatch(/^HTTP\/1\.1 200/);
    socket.destroy();
    await closed;
    const got = await client(store).send(new GetObjectCommand({ Bucket: 'steady', Key: 'slow' }));
    expect(got.ContentLength).toBe(15_000);
  });

  it('does not count the time the store spends copying and assembling as client silence', async () => {
    const size = 96 * MiB;
    const first = await start();
    const s3 = client(first);
    await s3.send(new CreateBucketCommand({ Bucket: 'busy' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'busy', Key: 'big', Body: randomStream(size, 'busy'), ContentLength: size }),
    );
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'busy', Key: 'assembled' }));
    await closeStore(first);

    // Each of these keeps the store busy for longer than idleMs without a byte on the connection.
    const busy = client(await start({ timeouts: { idleMs: 150 } }));
    await busy.send(new CopyObjectCommand({ Bucket: 'busy', Key: 'copy', CopySource: 'busy/big' }));
    const parts = [];
    for (const PartNumber of [1, 2]) {
      const out = await busy.send(
        new UploadPartCopyCommand({ Bucket: 'busy', Key: 'assembled', UploadId, PartNumber, CopySource: 'busy/big' }),
      );
      parts.push({ PartNumber, ETag: out.CopyPartResult!.ETag! });
    }
    await busy.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'busy',
        Key: 'assembled',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    expect((await busy.send(new HeadObjectCommand({ Bucket: 'busy', Key: 'copy' }))).ContentLength).toBe(size);
    expect((await busy.send(new HeadObjectCommand({ Bucket: 'busy', Key: 'assembled' }))).ContentLength).toBe(2 * size);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const store = await start({ timeouts: { keepAliveMs: 300 } });
    const { socket, closed, received } = await connect(store);
    socket.write('GET /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const after = await closedWithin(closed, 3000);
    expect(received()).toMatch(/^HTTP\/1\.1 403/);
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(3000);
  });
});

describe('region', () => {
  it('answers for the configured region only', async () => {
    const store = await start({ region: 'eu-central-1' });
    const local = client(store, store.credentials, 'eu-central-1');
    await local.send(new CreateBucketCommand({ Bucket: 'regional' }));
    await local.send(new PutObjectCommand({ Bucket: 'regional', Key: 'k', Body: 'x' }));
    expect((await local.send(new HeadObjectCommand({ Bucket: 'regional', Key: 'k' }))).$metadata.httpStatusCode).toBe(
      200,
    );
    expect(await outcomeOf(client(store).send(new GetObjectCommand({ Bucket: 'regional', Key: 'k' })))).toEqual({
      ok: false,
      status: 400,
      code: 'AuthorizationHeaderMalformed',
    });
  });

  it('is started in the S3_REGION the app signs for', async () => {
    const app = await startServer(undefined, {
      DATA_DIR: join(root, 'app'),
      EMBEDDED_S3_PORT: '0',
      S3_REGION: 'eu-west-1',
      LOG_LEVEL: 'silent',
    });
    try {
      await app.store.createBucket('regional-app');
      expect((await app.store.listBuckets()).map((b) => b.name)).toContain('regional-app');
    } finally {
      await app.close();
    }
  });
});
