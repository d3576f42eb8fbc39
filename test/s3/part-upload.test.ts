/**
 * uploadStream's multipart writer (src/s3/part-upload.ts) against the real
 * stores: the memory it holds stays within its pool of part buffers whatever
 * the body's size, every part arrives byte for byte (a retried one too), and
 * a part that fails aborts the multipart upload. Failures are made by a proxy
 * on loopback in front of the store; results are checked in the store itself.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { KiB, MiB, sha256Of } from '../support/data.js';
import { startStoreProxy } from '../support/servers.js';
import {
  createTestBucket,
  outcomeOf,
  removeBucket,
  s3Client,
  testStores,
  type StoreUnderTest,
} from '../support/stores.js';

const PART = 5 * MiB;
const QUEUE = 2;
/** What the pool may hold: QUEUE parts in flight and the one filling. */
const POOL = (QUEUE + 1) * PART;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** One random block, a little over 1 MiB so that no two parts hold the same bytes. */
const PATTERN = Buffer.from(Array.from({ length: MiB + 13 }, (_, i) => (i * 7919 + (i >> 9)) & 0xff));

/**
 * `size` bytes of PATTERN repeated, in 64 KiB views of it: the body allocates
 * no memory of its own, so whatever arrayBuffers grows by is the uploader's.
 * `onChunk` runs before each chunk is handed over.
 */
function patternBody(size: number, onChunk: () => void = () => undefined): Readable {
  async function* chunks() {
    for (let offset = 0; offset < size; ) {
      const at = offset % PATTERN.length;
      const end = Math.min(at + 64 * KiB, PATTERN.length, at + size - offset);
      onChunk();
      yield PATTERN.subarray(at, end);
      offset += end - at;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

function settingsFor(
  store: StoreUnderTest,
  endpoint = store.endpoint,
  checksum: ResolvedStoreSettings['checksum'] = 'when_required',
): ResolvedStoreSettings {
  return {
    endpoint,
    publicEndpoint: undefined,
    region: 'us-east-1',
    accessKeyId: store.credentials.accessKeyId,
    secretAccessKey: store.credentials.secretAccessKey,
    forcePathStyle: true,
    checksum,
    maxSockets: 16,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 20_000,
    maxAttempts: 2,
  };
}

function storeAt(store: StoreUnderTest, endpoint?: string, checksum?: ResolvedStoreSettings['checksum']): Store {
  const client = createS3Client(settingsFor(store, endpoint, checksum));
  return new Store(client, client, { partSize: PART, queueSize: QUEUE, maxUploadBytes: 256 * MiB });
}

describe.each(testStores())('uploadStream parts on $name', (storeUT) => {
  const direct = s3Client(storeUT);
  let bucket: string;

  beforeAll(async () => {
    bucket = await createTestBucket(direct, 'parts');
  });
  afterAll(async () => {
    await removeBucket(direct, bucket);
    direct.destroy();
  });

  const storedDigest = async (key: string) =>
    sha256Of((await direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable);
  const openUploads = async (key: string) =>
    (await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))).Uploads ?? [];

  it('holds at most its pool of parts, whatever the size, and stores the body byte for byte', async () => {
    const store = storeAt(storeUT);
    const size = 48 * MiB + 5;
    collectGarbage();
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const head = await store.uploadStream(
      bucket,
      'pool/large.bin',
      patternBody(size, () => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }),
      { maxBytes: size },
    );
    // A few MiB for the streams and the SDK; lib-storage (a fresh buffer per part) reached 31 MiB here.
    expect((peak - before) / MiB).toBeLessThan((POOL + 6 * MiB) / MiB);
    expect(head).toMatchObject({ size, etag: expect.stringMatching(/-10$/) });
    expect(await storedDigest('pool/large.bin')).toEqual(await sha256Of(patternBody(size)));
    expect(await openUploads('pool/large.bin')).toEqual([]);
  });

  it('runs a minor collection per 4 MiB it copies into its parts when the process has gc, none without', async () => {
    const store = storeAt(storeUT);
    const size = 18 * MiB;
    const calls: unknown[] = [];
    const realGc = globalThis.gc;
    try {
      globalThis.gc = ((options?: unknown) => {
        calls.push(options);
      }) as NodeJS.GCFunction;
      await store.uploadStream(bucket, 'young/with-gc.bin', patternBody(size), { maxBytes: size });
      // Four full 4 MiB steps (the count is this thread's, so an earlier upload may have started one).
      expect(calls.length).toBeGreaterThanOrEqual(4);
      expect(calls.length).toBeLessThanOrEqual(5);
      expect(calls.every((c) => JSON.stringify(c) === '{"type":"minor"}')).toBe(true);

      globalThis.gc = undefined;
      await store.uploadStream(bucket, 'young/without.bin', patternBody(size), { maxBytes: size });
    } finally {
      globalThis.gc = realGc;
    }
    const digest = await sha256Of(patternBody(size));
    expect(await storedDigest('young/with-gc.bin')).toEqual(digest);
    expect(await storedDigest('young/without.bin')).toEqual(digest);
  });

  it('a body of exactly one part is one PutObject; one byte more is two parts', async () => {
    const store = storeAt(storeUT);
    const one = await store.uploadStream(bucket, 'pool/one.bin', patternBody(PART), { maxBytes: PART + 1 });
    expect(one.etag).not.toContain('-');
    const two = await store.uploadStream(bucket, 'pool/two.bin', patternBody(PART + 1), { maxBytes: PART + 1 });
    expect(two.etag).toMatch(/-2$/);
    expect(await storedDigest('pool/two.bin')).toEqual(await sha256Of(patternBody(PART + 1)));
  });

  it('with S3_CHECKSUM=when_supported the upload announces CRC32 and its parts carry theirs', async () => {
    let announced: unknown;
    const partChecksums: unknown[] = [];
    const proxy = await startStoreProxy(storeUT.endpoint, async (req) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      if (req.method === 'POST' && url.searchParams.has('uploads')) announced = req.headers['x-amz-checksum-algorithm'];
      if (url.searchParams.has('partNumber')) partChecksums.push(req.headers['x-amz-checksum-crc32']);
    });
    const key = 'pool/crc.bin';
    try {
      const size = 2 * PART + 3;
      const store = storeAt(storeUT, proxy.endpoint, 'when_supported');
      const head = await store.uploadStream(bucket, key, patternBody(size), { maxBytes: size });
      expect(head.etag).toMatch(/-3$/);
      expect(announced).toBe('CRC32');
      expect(partChecksums).toEqual([expect.any(String), expect.any(String), expect.any(String)]);
      expect(await storedDigest(key)).toEqual(await sha256Of(patternBody(size)));
    } finally {
      await proxy.close();
    }
    // The object has a checksum in the store where it keeps one (moto; the embedded store keeps none).
    if (storeUT.name === 'moto') {
      const stored = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      expect(stored.ChecksumCRC32).toEqual(expect.any(String));
    }
  });

  it('a part the SDK retries is sent again from a buffer nobody refilled meanwhile', async () => {
    let failed = false;
    const proxy = await startStoreProxy(storeUT.endpoint, async (req) => {
      if (failed || !req.url?.includes('partNumber=2&')) return undefined;
      failed = true;
      // Long enough for the later parts to go through the pool while this one waits for its retry.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 500;
    });
    try {
      const size = 6 * PART + 17;
      const head = await storeAt(storeUT, proxy.endpoint).uploadStream(bucket, 'pool/retried.bin', patternBody(size), {
        maxBytes: size,
      });
      expect(failed).toBe(true);
      expect(head.size).toBe(size);
      expect(await storedDigest('pool/retried.bin')).toEqual(await sha256Of(patternBody(size)));
    } finally {
      await proxy.close();
    }
  });

  it('a part that keeps failing aborts the multipart upload: no object, no upload left open', async () => {
    const seen: string[] = [];
    const proxy = await startStoreProxy(storeUT.endpoint, async (req) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const part = url.searchParams.get('partNumber');
      seen.push(`${req.method} ${part ? `part ${part}` : url.searchParams.has('uploadId') ? 'upload' : 'object'}`);
      return part === '3' ? 500 : undefined;
    });
    const key = 'pool/failed.bin';
    try {
      const pending = storeAt(storeUT, proxy.endpoint).uploadStream(bucket, key, patternBody(8 * PART), {
        maxBytes: 8 * PART,
      });
      const err = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('BACKEND_UNAVAILABLE');
      // Both attempts at part 3 failed; the upload stopped within the pool and was aborted after its last part.
      expect(seen.filter((s) => s === 'PUT part 3')).toHaveLength(2);
      expect(seen).not.toContain('PUT part 7');
      expect(seen.at(-1)).toBe('DELETE upload');
      expect(seen).not.toContain('POST upload');
    } finally {
      await proxy.close();
    }
    expect(await openUploads(key)).toEqual([]);
    expect(await outcomeOf(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
      ok: false,
      status: 404,
    });
  });
});
