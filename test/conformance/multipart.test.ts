/**
 * S3 conformance: multipart uploads, asserted as AWS documents them, against
 * every store in `testStores()` and, for the upload itself, both SDK checksum
 * modes. Parts are streamed (5 MiB each, never whole in memory).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type Part,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  concatenated,
  expectedDigest,
  KiB,
  MiB,
  multipartEtag,
  randomChunks,
  randomStream,
  sha256Of,
} from '../support/data.js';
import { per } from '../support/deviations.js';
import {
  CHECKSUM_MODES,
  createTestBucket,
  outcomeOf,
  removeBucket,
  s3Client,
  testStores,
  UNPARSEABLE_ERROR,
} from '../support/stores.js';

const PART = 5 * MiB;

describe.each(testStores())('multipart uploads on $name', (store) => {
  const s3 = s3Client(store);
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket(s3, 'multipart');
  });
  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  async function create(Key: string, client: S3Client = s3): Promise<string> {
    const out = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    expect(out.UploadId).toBeTruthy();
    return out.UploadId!;
  }

  async function uploadPart(Key: string, UploadId: string, PartNumber: number, size: number, client: S3Client = s3) {
    const seed = `${store.name}/${Key}/${UploadId}/${PartNumber}`;
    const out = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key,
        UploadId,
        PartNumber,
        Body: randomStream(size, seed),
        ContentLength: size,
      }),
    );
    return { PartNumber, ETag: out.ETag!, seed, size };
  }

  async function complete(Key: string, UploadId: string, Parts: CompletedPart[], client: S3Client = s3) {
    return client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts } }),
    );
  }

  async function uploadsUnder(Prefix: string) {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }));
    expect(out.IsTruncated).toBe(false);
    return (out.Uploads ?? []).map((u) => ({ Key: u.Key, UploadId: u.UploadId }));
  }

  it.each(CHECKSUM_MODES)(
    'Create, UploadPart x3 of 5 MiB, ListParts paged, ListMultipartUploads, Complete: "<md5>-3" and byte-exact (checksum %s)',
    async (checksum) => {
      const client = s3Client(store, { checksum });
      try {
        const Key = `complete/${checksum}/big.zip`;
        const created = await client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key,
            ContentType: 'application/zip',
            Metadata: { Purpose: 'conformance' },
          }),
        );
        const UploadId = created.UploadId!;
        expect(created.Key).toBe(Key);

        const parts = [];
        for (const n of [1, 2, 3]) parts.push(await uploadPart(Key, UploadId, n, PART, client));
        for (const part of parts) expect(part.ETag).toBe(`"${(await expectedDigest(part.size, part.seed)).md5}"`);

        // ListParts with MaxParts 2: two pages, followed to the end with PartNumberMarker.
        const listed: Part[] = [];
        let PartNumberMarker: string | undefined;
        let pages = 0;
        do {
          const page = await client.send(
            new ListPartsCommand({ Bucket: bucket, Key, UploadId, MaxParts: 2, PartNumberMarker }),
          );
          pages += 1;
          listed.push(...(page.Parts ?? []));
          PartNumberMarker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
        } while (PartNumberMarker && pages < 10);
        expect(pages).toBe(2);
        expect(listed.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size }))).toEqual(
          parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, Size: PART })),
        );

        expect(await uploadsUnder(`complete/${checksum}/`)).toEqual([{ Key, UploadId }]);

        const done = await complete(
          Key,
          UploadId,
          parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })),
          client,
        );
        expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
        expect(done.ETag).toBe(multipartEtag(parts.map((p) => p.ETag)));
        expect(done.Key).toBe(Key);

        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        expect(head.ContentLength).toBe(3 * PART);
        expect(head.ContentType).toBe('application/zip');
        expect(head.Metadata).toEqual({ purpose: 'conformance' });
        expect(head.ETag).toBe(done.ETag);

        const want = await sha256Of(concatenated(...parts.map((p) => randomChunks(p.size, p.seed))));
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        expect(got.ContentLength).toBe(3 * PART);
        expect((await sha256Of(got.Body as Readable)).sha256).toBe(want.sha256);

        expect(await uploadsUnder(`complete/${checksum}/`)).toEqual([]);
      } finally {
        client.destroy();
      }
    },
  );

  it('ListMultipartUploads with Prefix lists only the uploads under it', async () => {
    const a1 = await create('uploads/a/1');
    const a2 = await create('uploads/a/2');
    const b1 = await create('uploads/b/1');
    expect(await uploadsUnder('uploads/a/')).toEqual([
      { Key: 'uploads/a/1', UploadId: a1 },
      { Key: 'uploads/a/2', UploadId: a2 },
    ]);
    expect(await uploadsUnder('uploads/b/')).toEqual([{ Key: 'uploads/b/1', UploadId: b1 }]);
    for (const [Key, UploadId] of [
      ['uploads/a/1', a1],
      ['uploads/a/2', a2],
      ['uploads/b/1', b1],
    ] as const) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
    }
    expect(await uploadsUnder('uploads/')).toEqual([]);
  });

  it('Complete with a wrong part ETag, or a part never uploaded, is 400 InvalidPart', async () => {
    const Key = 'errors/invalid-part';
    const UploadId = await create(Key);
    const part = await uploadPart(Key, UploadId, 1, KiB);
    expect(
      await outcomeOf(complete(Key, UploadId, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }])),
    ).toEqual({
      ok: false,
      status: 400,
      code: 'InvalidPart',
    });
    expect(
      await outcomeOf(
        complete(Key, UploadId, [
          { PartNumber: 1, ETag: part.ETag },
          { PartNumber: 2, ETag: part.ETag },
        ]),
      ),
    ).toEqual({ ok: false, status: 400, code: 'InvalidPart' });
    // A failed Complete leaves the upload in place: it still completes with the right list.
    const done = await complete(Key, UploadId, [{ PartNumber: 1, ETag: part.ETag }]);
    expect(done.ETag).toBe(multipartEtag([part.ETag]));
  });

  it('a part other than the last under 5 MiB is 400 EntityTooSmall at Complete', async () => {
    const Key = 'errors/too-small';
    const UploadId = await create(Key);
    const p1 = await uploadPart(Key, UploadId, 1, KiB);
    const p2 = await uploadPart(Key, UploadId, 2, KiB);
    expect(
      await outcomeOf(
        complete(Key, UploadId, [
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
        ]),
      ),
    ).toEqual({ ok: false, status: 400, code: 'EntityTooSmall' });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
  });

  it('parts listed out of order are 400 InvalidPartOrder', async () => {
    const Key = 'errors/out-of-order';
    const UploadId = await create(Key);
    const p1 = await uploadPart(Key, UploadId, 1, PART);
    const p2 = await uploadPart(Key, UploadId, 2, PART);
    const outcome = await outcomeOf(
      complete(Key, UploadId, [
        { PartNumber: 2, ETag: p2.ETag },
        { PartNumber: 1, ETag: p1.ETag },
      ]),
    );
    expect(outcome).toEqual(
      per(store, 'multipart.partOrder', {
        aws: { ok: false, status: 400, code: 'InvalidPartOrder' },
        deviation: { ok: true, status: 200 },
      }),
    );
    // A refused Complete leaves the upload to abort; a store that completed it has nothing left to abort.
    if (!outcome.ok) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
  });

  it('after Abort, UploadPart, Complete and ListParts are 404 NoSuchUpload', async () => {
    const Key = 'errors/aborted';
    const UploadId = await create(Key);
    const part = await uploadPart(Key, UploadId, 1, KiB);
    expect(await outcomeOf(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId })))).toEqual({
      ok: true,
      status: 204,
    });
    expect(await uploadsUnder('errors/aborted')).toEqual([]);

    const noSuchUpload = { ok: false, status: 404, code: 'NoSuchUpload' };
    const serverError = { ok: false, status: 500, code: UNPARSEABLE_ERROR };
    expect(
      await outcomeOf(
        s3.send(
          new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 2, Body: 'late', ContentLength: 4 }),
        ),
      ),
    ).toEqual(per(store, 'multipart.uploadPartAfterAbort', { aws: noSuchUpload, deviation: serverError }));
    expect(await outcomeOf(complete(Key, UploadId, [{ PartNumber: 1, ETag: part.ETag }]))).toEqual(
      per(store, 'multipart.completeAfterAbort', { aws: noSuchUpload, deviation: serverError }),
    );
    expect(await outcomeOf(s3.send(new ListPartsCommand({ Bucket: bucket, Key, UploadId })))).toEqual(noSuchUpload);
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key })))).toMatchObject({
      ok: false,
      status: 404,
    });
  });
});
