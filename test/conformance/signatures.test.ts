/**
 * S3 conformance: request authentication (SigV4 headers), against every store
 * in `testStores()`. A store that checks signatures must refuse a wrong
 * secret, an unknown key id and an unsigned request, and store nothing;
 * moto checks none (listed in deviations.ts).
 */
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB, randomStream } from '../support/data.js';
import { per } from '../support/deviations.js';
import { CHECKSUM_MODES, createTestBucket, outcomeOf, removeBucket, s3Client, testStores } from '../support/stores.js';

describe.each(testStores())('request signatures on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'signatures');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'existing.txt', Body: 'private' }));
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  async function exists(Key: string): Promise<boolean> {
    const out = await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key })));
    if (!out.ok) expect(out.status).toBe(404);
    return out.ok;
  }

  describe.each(CHECKSUM_MODES)('checksum %s', (checksum) => {
    let wrongSecret: S3Client;
    let unknownKey: S3Client;
    beforeAll(() => {
      wrongSecret = s3Client(store, {
        checksum,
        credentials: {
          accessKeyId: store.credentials.accessKeyId,
          secretAccessKey: `${store.credentials.secretAccessKey}x`,
        },
      });
      unknownKey = s3Client(store, {
        checksum,
        credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: store.credentials.secretAccessKey },
      });
    });
    afterAll(() => {
      wrongSecret.destroy();
      unknownKey.destroy();
    });

    it('a request signed with a wrong secret is 403 SignatureDoesNotMatch', async () => {
      expect(await outcomeOf(wrongSecret.send(new ListObjectsV2Command({ Bucket: bucket })))).toEqual(
        per(store, 'auth.signaturesNotChecked', {
          aws: { ok: false, status: 403, code: 'SignatureDoesNotMatch' },
          deviation: { ok: true, status: 200 },
        }),
      );
    });

    // 1.5 MiB: under the SDK's 2 MiB Expect: 100-continue threshold, so the body is on its way
    // when the store refuses; the client must still get the 403, not a reset connection.
    it('a streamed 1.5 MiB PutObject signed with a wrong secret is 403 and stores nothing', async () => {
      const Key = `wrong-secret-${checksum}.bin`;
      const size = 1.5 * MiB;
      const out = await outcomeOf(
        wrongSecret.send(
          new PutObjectCommand({ Bucket: bucket, Key, Body: randomStream(size, Key), ContentLength: size }),
        ),
      );
      expect({ ...out, stored: await exists(Key) }).toEqual(
        per(store, 'auth.signaturesNotChecked', {
          aws: { ok: false, status: 403, code: 'SignatureDoesNotMatch', stored: false },
          deviation: { ok: true, status: 200, stored: true },
        }),
      );
    });

    it('a request with an unknown access key id is 403 InvalidAccessKeyId', async () => {
      expect(await outcomeOf(unknownKey.send(new ListObjectsV2Command({ Bucket: bucket })))).toEqual(
        per(store, 'auth.signaturesNotChecked', {
          aws: { ok: false, status: 403, code: 'InvalidAccessKeyId' },
          deviation: { ok: true, status: 200 },
        }),
      );
    });
  });

  it('an unsigned GET of an object is 403 AccessDenied', async () => {
    const res = await fetch(`${store.endpoint}/${bucket}/existing.txt`);
    const text = await res.text();
    expect({ status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] }).toEqual(
      per(store, 'auth.anonymousReadNoErrorCode', {
        aws: { status: 403, code: 'AccessDenied' },
        deviation: { status: 403, code: undefined },
      }),
    );
  });

  it('an unsigned PUT is 403 AccessDenied and stores nothing', async () => {
    const res = await fetch(`${store.endpoint}/${bucket}/anonymous.txt`, { method: 'PUT', body: 'anonymous' });
    const text = await res.text();
    expect({
      status: res.status,
      code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1],
      stored: await exists('anonymous.txt'),
    }).toEqual(
      per(store, 'auth.signaturesNotChecked', {
        aws: { status: 403, code: 'AccessDenied', stored: false },
        deviation: { status: 200, code: undefined, stored: true },
      }),
    );
  });
});
