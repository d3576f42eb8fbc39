/**
 * The embedded store on the API's port (`/s3/…`): any S3 client pointed at
 * `http://HOST:PORT/s3` (path-style, the store's key pair) works, presigned
 * URLs point there (PUBLIC_URL, default the listening address), and a
 * browser's `fetch` with the presign answer's headers lands the object. SigV4
 * is its authentication: API keys are not asked for, and a tampered URL is
 * refused. With an external store there is nothing at `/s3/`.
 */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PresignDocument } from '../graphql/__generated__/graphql.js';
import { startServer, type TestServer } from '../support/app.js';
import { digestOf, MiB, randomBytes } from '../support/data.js';
import { testStores } from '../support/stores.js';

const TOKEN = 'embedded-s3-token-of-enough-length';
const API_KEYS = JSON.stringify({ keys: [{ name: 'web', token: TOKEN, grants: [{ bucket: '*', role: 'admin' }] }] });
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function bytesOf(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return got.Body!.transformToByteArray();
}

describe('the embedded store under /s3 on the API port', () => {
  let dataDir: string;
  let app: TestServer;
  /** The SDK as aws-cli or boto3 would be set up against `/s3`. */
  let viaApi: S3Client;
  /** The store's own loopback port, to check what landed. */
  let direct: S3Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-s3-prefix-'));
    // API keys and a tiny rate limit: neither applies to /s3, which SigV4 guards.
    app = await startServer(undefined, {
      DATA_DIR: dataDir,
      EMBEDDED_S3_PORT: '0',
      API_KEYS,
      RATE_LIMIT_PER_MINUTE: '1000',
    });
    const embedded = app.app.embedded!;
    const client = (endpoint: string) =>
      new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: embedded.credentials });
    viaApi = client(`${app.base}/s3`);
    direct = client(embedded.endpoint);
  });

  afterAll(async () => {
    viaApi?.destroy();
    direct?.destroy();
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a bucket, puts, gets and lists objects through the SDK, byte-exact', async () => {
    await viaApi.send(new CreateBucketCommand({ Bucket: 'via-api' }));
    const body = await randomBytes(300 * 1024, 'via-api');
    await viaApi.send(new PutObjectCommand({ Bucket: 'via-api', Key: 'dir/a b.bin', Body: body }));
    expect(digestOf(await bytesOf(viaApi, 'via-api', 'dir/a b.bin'))).toEqual(digestOf(body));
    expect(digestOf(await bytesOf(direct, 'via-api', 'dir/a b.bin'))).toEqual(digestOf(body));
    const listed = await viaApi.send(new ListObjectsV2Command({ Bucket: 'via-api', Prefix: 'dir/' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([['dir/a b.bin', body.length]]);
  });

  it('runs a multipart upload through the SDK, byte-exact', async () => {
    await viaApi.send(new CreateBucketCommand({ Bucket: 'via-api-mp' }));
    const part1 = await randomBytes(5 * MiB, 'mp1');
    const part2 = await randomBytes(1234, 'mp2');
    const { UploadId } = await viaApi.send(new CreateMultipartUploadCommand({ Bucket: 'via-api-mp', Key: 'big' }));
    const parts = [];
    for (const [i, part] of [part1, part2].entries()) {
      const sent = await viaApi.send(
        new UploadPartCommand({ Bucket: 'via-api-mp', Key: 'big', UploadId, PartNumber: i + 1, Body: part }),
      );
      parts.push({ PartNumber: i + 1, ETag: sent.ETag! });
    }
    await viaApi.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'via-api-mp',
        Key: 'big',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    expect(digestOf(await bytesOf(direct, 'via-api-mp', 'big'))).toEqual(digestOf(Buffer.concat([part1, part2])));
  });

  it("points presigned PUT URLs at /s3 on the API's address; fetch with the answer's headers and its own content-type lands the object", async () => {
    await direct.send(new CreateBucketCommand({ Bucket: 'presigned' }));
    const res = await app.gql(
      PresignDocument,
      { bucket: 'presigned', key: 'up/photo.png', method: 'PUT', contentType: 'image/png' },
      AUTH,
    );
    expect(res.errors).toBeUndefined();
    const signed = res.data!.presign;
    expect(signed.url.startsWith(`${app.base}/s3/presigned/up/photo.png?`)).toBe(true);
    expect(signed.headers).toEqual([{ key: 'content-type', value: 'image/png' }]);

    const body = await randomBytes(64 * 1024, 'presigned');
    // What a browser client does: the answer's headers spread in, and its own content-type.
    const headers = { ...Object.fromEntries(signed.headers.map((h) => [h.key, h.value])), 'content-type': 'image/png' };
    const put = await fetch(signed.url, { method: 'PUT', headers, body: new Uint8Array(body) });
    expect(put.status).toBe(200);
    const stored = await direct.send(new GetObjectCommand({ Bucket: 'presigned', Key: 'up/photo.png' }));
    expect(stored.ContentType).toBe('image/png');
    expect(digestOf(await stored.Body!.transformToByteArray())).toEqual(digestOf(body));

    // Signed for /s3/presigned/up/photo.png: the same URL on another key, or with a longer life, is refused.
    const otherKey = signed.url.replace('/up/photo.png?', '/up/other.png?');
    expect((await fetch(otherKey, { method: 'PUT', headers, body: 'x' })).status).toBe(403);
    const longer = new URL(signed.url);
    longer.searchParams.set('X-Amz-Expires', '604800');
    expect((await fetch(longer, { method: 'PUT', headers, body: 'x' })).status).toBe(403);
    // Nor is a path the client did not sign the store's own root.
    const unprefixed = signed.url.replace('/s3/', '/');
    expect((await fetch(unprefixed, { method: 'PUT', headers, body: 'x' })).status).toBe(404);
  });

  it('builds presigned URLs from PUBLIC_URL', async () => {
    const proxied = await startServer(undefined, {
      DATA_DIR: join(dataDir, 'proxied'),
      EMBEDDED_S3_PORT: '0',
      PUBLIC_URL: 'https://api.example.com',
    });
    try {
      const res = await proxied.gql(PresignDocument, { bucket: 'b-1', key: 'k', method: 'GET' });
      expect(res.errors).toBeUndefined();
      expect(res.data!.presign.url.startsWith('https://api.example.com/s3/b-1/k?')).toBe(true);
    } finally {
      await proxied.close();
    }
  });
});

const moto = testStores().find((s) => s.name === 'moto');

describe.skipIf(!moto)('/s3 with an external store', () => {
  it('is 404, and presigned URLs point at the store', async () => {
    const app = await startServer(moto);
    try {
      const res = await fetch(`${app.base}/s3/`);
      expect(res.status).toBe(404);
      expect((await fetch(`${app.base}/s3/some-bucket/key`, { method: 'PUT', body: 'x' })).status).toBe(404);
      const signed = await app.gql(PresignDocument, { bucket: 'b-1', key: 'k', method: 'GET' });
      expect(signed.data!.presign.url.startsWith(`${moto!.endpoint}/b-1/k?`)).toBe(true);
    } finally {
      await app.close();
    }
  });
});
