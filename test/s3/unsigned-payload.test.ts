/**
 * Uploads to a store over loopback (or TLS) go as UNSIGNED-PAYLOAD: neither
 * the server nor the store hashes the bytes for the signature. A proxy in
 * front of each store records the header every upload request carries.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { MiB, randomStream, sha256Of } from '../support/data.js';
import { startStoreProxy, type StoreProxy } from '../support/servers.js';
import {
  createTestBucket,
  removeBucket,
  s3Client,
  storeSettingsFor,
  testStores,
  type StoreUnderTest,
} from '../support/stores.js';

describe.each(testStores())('upload payload signing on $name', (store: StoreUnderTest) => {
  const sent: string[] = [];
  let proxy: StoreProxy;
  let bucket: string;
  const sdk = s3Client(store);

  beforeAll(async () => {
    bucket = await createTestBucket(sdk, 'unsigned');
    proxy = await startStoreProxy(store.endpoint, async (req) => {
      if (req.method === 'PUT') sent.push(String(req.headers['x-amz-content-sha256']));
    });
  });

  afterAll(async () => {
    await proxy.close();
    await removeBucket(sdk, bucket);
    sdk.destroy();
  });

  /** Uploads a small file (one PutObject) and one of two parts through a Store on `endpoint`; what each PUT said. */
  async function uploadThrough(endpoint: string): Promise<string[]> {
    const settings = storeSettingsFor(store, { endpoint });
    const client = createS3Client(settings);
    const through = new Store(client, client, { partSize: 5 * MiB, queueSize: 2, maxUploadBytes: 64 * MiB });
    sent.length = 0;
    try {
      for (const [key, size] of [
        ['small', 100_000],
        ['two-parts', 6 * MiB],
      ] as const) {
        await through.uploadStream(bucket, key, randomStream(size, key), { maxBytes: size });
        const stored = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        expect(await sha256Of(stored.Body as AsyncIterable<Uint8Array>)).toEqual(
          await sha256Of(randomStream(size, key)),
        );
      }
      return [...sent];
    } finally {
      client.destroy();
    }
  }

  it('sends the bytes unsigned over loopback, and each object arrives whole', async () => {
    // One PutObject, then two UploadParts.
    expect(await uploadThrough(proxy.endpoint)).toEqual(Array(3).fill('UNSIGNED-PAYLOAD'));
  });

  it('signs the bytes to a host it does not know as loopback', async () => {
    // The same proxy, named by an IPv4-mapped IPv6 address: plain HTTP to what the server takes for another host.
    const mapped = proxy.endpoint.replace('127.0.0.1', '[::ffff:127.0.0.1]');
    const headers = await uploadThrough(mapped);
    expect(headers).toHaveLength(3);
    for (const header of headers) expect(header).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('which endpoints count as loopback', () => {
  /** The payload header of a PutObject as signed for `endpoint`, caught before it is sent (these names need not resolve). */
  async function signedPayloadFor(endpoint: string): Promise<string | undefined> {
    const [store] = testStores();
    const client = createS3Client(storeSettingsFor(store!, { endpoint }));
    let header: string | undefined;
    client.middlewareStack.add(
      () => async (args) => {
        if (HttpRequest.isInstance(args.request)) header = args.request.headers['x-amz-content-sha256'];
        throw new Error('caught before sending');
      },
      { step: 'deserialize', name: 'testCatchSigned', priority: 'low' },
    );
    await client
      .send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Buffer.from('bytes') }))
      .catch(() => undefined);
    client.destroy();
    return header;
  }

  it('a host name that only begins like 127.x is another host: its bytes are signed', async () => {
    expect(await signedPayloadFor('http://127.0.0.1:9')).toBe('UNSIGNED-PAYLOAD');
    expect(await signedPayloadFor('http://localhost:9')).toBe('UNSIGNED-PAYLOAD');
    expect(await signedPayloadFor('http://[::1]:9')).toBe('UNSIGNED-PAYLOAD');
    for (const endpoint of ['http://127.0.0.1.example.com:9', 'http://127.attacker.example:9']) {
      expect(await signedPayloadFor(endpoint), endpoint).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
