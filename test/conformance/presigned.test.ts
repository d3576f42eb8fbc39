/**
 * S3 conformance: presigned URLs (`@aws-sdk/s3-request-presigner`) fetched
 * with plain `fetch`, as a browser or curl would, against every store in
 * `testStores()`. Stores that check signatures must refuse tampered and
 * expired URLs; moto checks none (listed in deviations.ts).
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, randomBytes } from '../support/data.js';
import { per } from '../support/deviations.js';
import { CHECKSUM_MODES, createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

/** Status and, for an error, the S3 error code from the XML body. */
async function fetched(url: string, init?: RequestInit): Promise<{ status: number; code?: string; body: Buffer }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  const code = res.ok ? undefined : /<Code>([^<]+)<\/Code>/.exec(body.toString('utf8'))?.[1];
  return code === undefined ? { status: res.status, body } : { status: res.status, code, body };
}

/** The URL with one character of its X-Amz-Signature changed. */
function tamperSignature(url: string): string {
  const u = new URL(url);
  const sig = u.searchParams.get('X-Amz-Signature')!;
  u.searchParams.set('X-Amz-Signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1));
  return u.toString();
}

describe.each(testStores())('presigned URLs on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  let data: Buffer;
  const key = 'presigned/file one+ü.bin';
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'presigned');
    data = await randomBytes(3000, `${store.name}/presigned`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'presigned/other.bin', Body: 'other' }));
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  describe.each(CHECKSUM_MODES)('GET signed with checksum %s', (checksum) => {
    let client: S3Client;
    beforeAll(() => {
      client = s3Client(store, { checksum });
    });
    afterAll(() => client.destroy());

    it('GET URL: 200 and the exact bytes', async () => {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
      const res = await fetched(url);
      expect(res.status).toBe(200);
      expect(digestOf(res.body)).toEqual(digestOf(data));
    });
  });

  // Presigned PUTs are signed with checksum WHEN_REQUIRED only: with WHEN_SUPPORTED the SDK
  // bakes the CRC32 of an empty body (x-amz-checksum-crc32=AAAAAA==) into the URL, because
  // the body is unknown at signing time, and stores that check it refuse the real upload.
  it('PUT URL: the fetched upload lands byte-exact with its Content-Type', async () => {
    const putKey = 'presigned/put.txt';
    const url = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: bucket, Key: putKey, ContentType: 'text/plain' }),
      {
        expiresIn: 300,
      },
    );
    expect(new URL(url).searchParams.has('x-amz-checksum-crc32')).toBe(false);
    const body = 'uploaded through a presigned URL';
    const res = await fetched(url, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: putKey }));
    expect(head.ContentType).toBe('text/plain');
    expect(head.ETag).toBe(`"${digestOf(body).md5}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: putKey }));
    expect(await got.Body!.transformToString()).toBe(body);
  });

  it('a URL with a changed signature is 403 SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const res = await fetched(tamperSignature(url));
    expect({ status: res.status, code: res.code }).toEqual(
      per(store, 'auth.signaturesNotChecked', {
        aws: { status: 403, code: 'SignatureDoesNotMatch' },
        deviation: { status: 200, code: undefined },
      }),
    );
  });

  it('a URL with its key changed is 403 SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const u = new URL(url);
    u.pathname = `/${bucket}/presigned/other.bin`;
    const res = await fetched(u.toString());
    expect({ status: res.status, code: res.code }).toEqual(
      per(store, 'auth.signaturesNotChecked', {
        aws: { status: 403, code: 'SignatureDoesNotMatch' },
        deviation: { status: 200, code: undefined },
      }),
    );
  });

  it('a PUT URL used for another key is refused and stores nothing', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned/allowed.txt' }), {
      expiresIn: 300,
    });
    const u = new URL(url);
    u.pathname = `/${bucket}/presigned/not-allowed.txt`;
    const res = await fetched(u.toString(), { method: 'PUT', body: 'sneaky' });
    const stored = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'presigned/not-allowed.txt' })).then(
      () => true,
      () => false,
    );
    expect({ status: res.status, code: res.code, stored }).toEqual(
      per(store, 'auth.signaturesNotChecked', {
        aws: { status: 403, code: 'SignatureDoesNotMatch', stored: false },
        deviation: { status: 200, code: undefined, stored: true },
      }),
    );
  });

  it('an expired URL is 403 AccessDenied', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 1 });
    await sleep(2_100);
    const res = await fetched(url);
    expect({ status: res.status, code: res.code }).toEqual(
      per(store, 'auth.signaturesNotChecked', {
        aws: { status: 403, code: 'AccessDenied' },
        deviation: { status: 200, code: undefined },
      }),
    );
  });
});
