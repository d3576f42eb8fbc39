/**
 * UPLOAD_RULES over real HTTP against every test store: each way into a
 * bucket (uploadObject, multipart create/uploadPart/presignPart/complete,
 * copyObject, presign PUT) refuses one byte over the rule's maxBytes and a
 * type the rule does not allow, with the rule as `extensions.rule`, and
 * leaves nothing in the store (checked with the SDK); what the rule allows
 * passes. The `*` rule holds for buckets without their own, a named rule
 * wins over it whole, and `Bucket.uploadRules` shows the rule without a
 * store call.
 */
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB, randomBytes } from '../support/data.js';
import { per } from '../support/deviations.js';
import { startStoreProxy } from '../support/servers.js';
import { outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';
import { answerOf, codes, startServer, type GqlError, type GqlResponse, type TestServer } from '../support/app.js';

const UPLOAD = `mutation Upload($bucket: String!, $key: String!, $file: Upload!, $contentType: String) {
  uploadObject(bucket: $bucket, key: $key, file: $file, contentType: $contentType) { key size contentType } }`;

const CREATE = `mutation Create($bucket: String!, $key: String!, $contentType: String) {
  multipart { create(bucket: $bucket, key: $key, contentType: $contentType) { uploadId } } }`;

const UPLOAD_PART = `mutation UploadPart($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!, $file: Upload!, $size: SafeInt) {
  multipart { uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, file: $file, size: $size) {
    partNumber etag size } } }`;

const PRESIGN_PART = `mutation PresignPart($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!) {
  multipart { presignPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber) { url } } }`;

const COMPLETE = `mutation Complete($bucket: String!, $key: String!, $uploadId: String!, $parts: [CompletedPartInput!]) {
  multipart { complete(bucket: $bucket, key: $key, uploadId: $uploadId, parts: $parts) { key size contentType } } }`;

const COPY = `mutation Copy($sourceBucket: String!, $sourceKey: String!, $bucket: String!, $key: String!) {
  copyObject(sourceBucket: $sourceBucket, sourceKey: $sourceKey, bucket: $bucket, key: $key) { key size contentType } }`;

const PRESIGN = `mutation Presign($bucket: String!, $key: String!, $method: PresignMethod, $contentType: String) {
  presign(bucket: $bucket, key: $key, method: $method, contentType: $contentType) { url method headers { key value } } }`;

const PRESIGN_POST = `mutation PresignPost($bucket: String!, $key: String, $maxBytes: SafeInt!, $contentType: String, $contentTypePrefix: String) {
  presignPost(bucket: $bucket, key: $key, maxBytes: $maxBytes, contentType: $contentType, contentTypePrefix: $contentTypePrefix) {
    url maxBytes fields { key value } } }`;

const RULES = `query Rules($bucket: String!) { bucket(name: $bucket) { name uploadRules { maxBytes contentTypes } } }`;

/** The `*` rule: one part of 5 MiB and 10 bytes more, so a total over it needs two parts. */
const STAR_MAX = 5 * MiB + 10;

describe.each(testStores())('upload rules on $name', (store) => {
  const s3 = s3Client(store);
  /** maxBytes 1000, image/* and application/pdf. */
  const photos = uniqueBucket('rules-photos');
  /** Only text/* types, no size rule of its own. */
  const docs = uniqueBucket('rules-docs');
  /** An empty rule: frees the bucket from `*`. */
  const free = uniqueBucket('rules-free');
  /** No rule of its own: the `*` rule holds. */
  const other = uniqueBucket('rules-other');
  const photosRule = { bucket: photos, maxBytes: 1000, contentTypes: ['image/*', 'application/pdf'] };
  const starRule = { bucket: '*', maxBytes: STAR_MAX, contentTypes: [] };
  const env = {
    UPLOAD_RULES: JSON.stringify({
      [photos]: { maxBytes: 1000, contentTypes: ['Image/*', 'application/pdf'] },
      [docs]: { contentTypes: ['text/*'] },
      [free]: {},
      '*': { maxBytes: `${STAR_MAX}` },
    }),
    UPLOAD_PART_SIZE: '5MiB',
  };
  let app: TestServer;

  beforeAll(async () => {
    // One part a ListParts page, so `complete` must follow the listing to count every part.
    app = await startServer(store, env, { listPageSize: 1 });
    for (const bucket of [photos, docs, free, other]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await app.close();
    for (const bucket of [photos, docs, free, other]) await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** uploadObject with a file part of this type (none: a Blob's own default). */
  async function upload(
    variables: Record<string, unknown>,
    bytes: Uint8Array,
    type?: string,
  ): Promise<GqlResponse<{ uploadObject: { key: string; size: number; contentType: string | null } }>> {
    return sendFile(UPLOAD, variables, new Blob([Uint8Array.from(bytes)], type ? { type } : {}));
  }

  async function sendFile<T>(query: string, variables: Record<string, unknown>, file: Blob): Promise<GqlResponse<T>> {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', file, 'file.bin');
    const res = await fetch(app.url, { method: 'POST', body: form, headers: { 'x-graphql-csrf': '1' } });
    return answerOf<T>(res);
  }

  /** The object is not in the store, and no multipart upload is left under its key. */
  async function expectNothingStored(bucket: string, key: string) {
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
      ok: false,
      status: 404,
    });
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    expect(uploads.Uploads ?? []).toEqual([]);
  }

  const firstError = (res: { errors?: GqlError[] }) => res.errors?.[0];

  async function stored(bucket: string, key: string) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: head.ContentLength, contentType: head.ContentType };
  }

  describe('uploadObject', () => {
    it('stores a file of exactly maxBytes of an allowed type (any case, parameters ignored)', async () => {
      const res = await upload({ bucket: photos, key: 'at-limit.png' }, await randomBytes(1000, 'p1'), 'image/png');
      expect(res.errors).toBeUndefined();
      expect(await stored(photos, 'at-limit.png')).toEqual({ size: 1000, contentType: 'image/png' });
      const typed = await upload(
        { bucket: photos, key: 'typed.pdf', contentType: 'Application/PDF; charset=binary' },
        await randomBytes(10, 'p2'),
      );
      expect(typed.errors).toBeUndefined();
    });

    it('one byte over maxBytes is PAYLOAD_TOO_LARGE with the rule, and nothing is stored', async () => {
      const res = await upload({ bucket: photos, key: 'over.png' }, await randomBytes(1001, 'p3'), 'image/png');
      expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(res)!.extensions).toMatchObject({ argument: 'file', rule: photosRule });
      expect(firstError(res)!.message).toContain('1000 bytes');
      await expectNothingStored(photos, 'over.png');
    });

    it('a type the rule does not allow is BAD_USER_INPUT, from the argument or the file part', async () => {
      const byArgument = await upload(
        { bucket: photos, key: 'wrong-arg.txt', contentType: 'text/plain' },
        await randomBytes(10, 'p4'),
        'image/png',
      );
      expect(codes(byArgument)).toEqual(['BAD_USER_INPUT']);
      expect(firstError(byArgument)!.extensions).toMatchObject({ argument: 'contentType', rule: photosRule });
      await expectNothingStored(photos, 'wrong-arg.txt');

      const byPart = await upload({ bucket: photos, key: 'wrong-part.txt' }, await randomBytes(10, 'p5'), 'text/plain');
      expect(codes(byPart)).toEqual(['BAD_USER_INPUT']);
      expect(firstError(byPart)!.extensions).toMatchObject({ argument: 'file', rule: photosRule });
      expect(firstError(byPart)!.message).toContain('"text/plain"');
      await expectNothingStored(photos, 'wrong-part.txt');
    });

    it('the * rule stops a stream one byte over while it is being sent in parts, leaving nothing', async () => {
      const res = await upload({ bucket: other, key: 'big.bin' }, await randomBytes(STAR_MAX + 1, 'o1'));
      expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(res)!.extensions!.rule).toEqual(starRule);
      await expectNothingStored(other, 'big.bin');
      const ok = await upload({ bucket: other, key: 'fits.bin' }, await randomBytes(STAR_MAX, 'o2'));
      expect(ok.errors).toBeUndefined();
      expect((await stored(other, 'fits.bin')).size).toBe(STAR_MAX);
    });

    it('a named rule wins over * whole: an empty rule frees its bucket', async () => {
      const res = await upload({ bucket: free, key: 'big.txt' }, await randomBytes(STAR_MAX + 1, 'f1'), 'text/plain');
      expect(res.errors).toBeUndefined();
      expect((await stored(free, 'big.txt')).size).toBe(STAR_MAX + 1);
    });
  });

  describe('multipart', () => {
    async function create(bucket: string, key: string, contentType?: string) {
      const res = await app.gql<{ multipart: { create: { uploadId: string } } }>(CREATE, { bucket, key, contentType });
      return { res, uploadId: res.data?.multipart.create.uploadId };
    }

    it('create refuses a type the rule does not allow, or none, and starts no upload', async () => {
      for (const contentType of ['text/plain', undefined]) {
        const { res } = await create(photos, 'refused.txt', contentType);
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(firstError(res)!.extensions).toMatchObject({ argument: 'contentType', rule: photosRule });
      }
      await expectNothingStored(photos, 'refused.txt');
    });

    it('uploadPart refuses a part over maxBytes, with size given or spooled, and stores no part', async () => {
      const key = 'parts.jpg';
      const { uploadId } = await create(photos, key, 'image/jpeg');
      expect(uploadId).toBeDefined();
      const file = new Blob([Uint8Array.from(await randomBytes(1001, 'm1'))]);
      for (const size of [1001, undefined]) {
        const res = await sendFile(UPLOAD_PART, { bucket: photos, key, uploadId, partNumber: 1, size }, file);
        expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
        expect(firstError(res)!.extensions).toMatchObject({ argument: 'file', rule: photosRule });
      }
      expect(await app.store.listParts(photos, key, uploadId!)).toEqual([]);
      const ok = await sendFile(
        UPLOAD_PART,
        { bucket: photos, key, uploadId, partNumber: 1 },
        new Blob([Uint8Array.from(await randomBytes(1000, 'm2'))]),
      );
      expect(ok.errors).toBeUndefined();
      const done = await app.gql(COMPLETE, { bucket: photos, key, uploadId });
      expect(done.errors).toBeUndefined();
      expect(await stored(photos, key)).toEqual({ size: 1000, contentType: 'image/jpeg' });
    });

    it('presignPart is given; complete holds the total to maxBytes and aborts the upload when over', async () => {
      const key = 'direct.jpg';
      const { uploadId } = await create(photos, key, 'image/jpeg');
      const signed = await app.gql<{ multipart: { presignPart: { url: string } } }>(PRESIGN_PART, {
        bucket: photos,
        key,
        uploadId,
        partNumber: 1,
      });
      expect(signed.errors).toBeUndefined();
      const put = await fetch(signed.data!.multipart.presignPart.url, {
        method: 'PUT',
        body: Uint8Array.from(await randomBytes(1001, 'd1')),
      });
      expect(put.status).toBe(200);
      const res = await app.gql(COMPLETE, { bucket: photos, key, uploadId });
      expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(res)!.extensions).toMatchObject({ argument: 'parts', rule: photosRule });
      expect(firstError(res)!.message).toContain('1001 bytes');
      await expectNothingStored(photos, key);
    });

    /** An upload into `other` (the * rule) of a 5 MiB part and then `tail` bytes, each sent through the server. */
    async function twoParts(key: string, tail: number) {
      const { uploadId } = await create(other, key);
      const parts: { partNumber: number; etag: string }[] = [];
      for (const [partNumber, size] of [
        [1, 5 * MiB],
        [2, tail],
      ] as const) {
        const res = await sendFile<{ multipart: { uploadPart: { etag: string } } }>(
          UPLOAD_PART,
          { bucket: other, key, uploadId, partNumber, size },
          new Blob([Uint8Array.from(await randomBytes(size, `${key}-${partNumber}`))]),
        );
        expect(res.errors).toBeUndefined();
        parts.push({ partNumber, etag: res.data!.multipart.uploadPart.etag });
      }
      return { uploadId: uploadId!, parts };
    }

    it('complete counts every page of the parts listing, with parts given or not', async () => {
      for (const withParts of [false, true]) {
        const key = `total-${withParts}.bin`;
        const { uploadId, parts } = await twoParts(key, 11);
        const res = await app.gql(COMPLETE, { bucket: other, key, uploadId, parts: withParts ? parts : undefined });
        expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
        expect(firstError(res)!.extensions!.rule).toEqual(starRule);
        await expectNothingStored(other, key);
      }
      const { uploadId, parts } = await twoParts('total-fits.bin', 10);
      const ok = await app.gql(COMPLETE, { bucket: other, key: 'total-fits.bin', uploadId, parts });
      expect(ok.errors).toBeUndefined();
      expect((await stored(other, 'total-fits.bin')).size).toBe(STAR_MAX);
    });

    it('complete refuses a part whose ETag is not the uploaded one, as INVALID_PART', async () => {
      const key = 'etag.jpg';
      const { uploadId } = await create(photos, key, 'image/jpeg');
      const part = await sendFile<{ multipart: { uploadPart: { etag: string } } }>(
        UPLOAD_PART,
        { bucket: photos, key, uploadId, partNumber: 1 },
        new Blob([Uint8Array.from(await randomBytes(10, 'e1'))]),
      );
      const etag = part.data!.multipart.uploadPart.etag;
      const wrong = `${etag.slice(0, -1)}${etag.endsWith('0') ? '1' : '0'}`;
      const res = await app.gql(COMPLETE, { bucket: photos, key, uploadId, parts: [{ partNumber: 1, etag: wrong }] });
      expect(codes(res)).toEqual(['INVALID_PART']);
      expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: photos, Key: key })))).toMatchObject({
        status: 404,
      });
    });
  });

  describe('copyObject', () => {
    const put = (key: string, size: number, type: string) =>
      randomBytes(size, key).then((body) =>
        s3.send(new PutObjectCommand({ Bucket: free, Key: key, Body: body, ContentType: type })),
      );
    beforeAll(async () => {
      await put('src/big.png', 1001, 'image/png');
      await put('src/note.txt', 10, 'text/plain');
      await put('src/fits.png', 1000, 'image/png');
    });

    const copy = (sourceKey: string, key: string) =>
      app.gql(COPY, { sourceBucket: free, sourceKey, bucket: photos, key });

    it("holds the source's size and type to the destination's rule before copying", async () => {
      const big = await copy('src/big.png', 'copy-big.png');
      expect(codes(big)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(big)!.extensions).toMatchObject({ argument: 'sourceKey', rule: photosRule });
      await expectNothingStored(photos, 'copy-big.png');

      const note = await copy('src/note.txt', 'copy-note.txt');
      expect(codes(note)).toEqual(['BAD_USER_INPUT']);
      expect(firstError(note)!.extensions).toMatchObject({ argument: 'sourceKey', rule: photosRule });
      await expectNothingStored(photos, 'copy-note.txt');

      const fits = await copy('src/fits.png', 'copy-fits.png');
      expect(fits.errors).toBeUndefined();
      expect(await stored(photos, 'copy-fits.png')).toEqual({ size: 1000, contentType: 'image/png' });
    });

    it('refuses a source replaced between its HEAD and the copy (CopySourceIfMatch), storing nothing', async () => {
      await put('src/swapped.png', 1000, 'image/png');
      let swapped = false;
      // Between the server's HEAD of the source (which obeys the rule) and its
      // CopyObject, a writer replaces the source with one the rule refuses.
      const proxy = await startStoreProxy(store.endpoint, async (req) => {
        if (req.method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined && !swapped) {
          swapped = true;
          await put('src/swapped.png', 5000, 'image/png');
        }
      });
      const racing = await startServer({ endpoint: proxy.endpoint, credentials: store.credentials }, env);
      try {
        const res = await racing.gql(COPY, {
          sourceBucket: free,
          sourceKey: 'src/swapped.png',
          bucket: photos,
          key: 'copy-swapped.png',
        });
        expect(swapped).toBe(true);
        if (per(store, 'copyObject.copySourceConditions', { aws: true, deviation: false })) {
          expect(codes(res)).toEqual(['BAD_USER_INPUT']);
          expect(firstError(res)!.message).toContain('changed while it was being copied');
          expect(firstError(res)!.extensions).toMatchObject({ argument: 'sourceKey' });
          await expectNothingStored(photos, 'copy-swapped.png');
        } else {
          // moto copies whatever the source is now: the rule is bypassed there.
          expect(res.errors).toBeUndefined();
          expect(await stored(photos, 'copy-swapped.png')).toEqual({ size: 5000, contentType: 'image/png' });
        }
      } finally {
        await racing.close();
        await proxy.close();
      }
    });
  });

  describe('presign', () => {
    it('refuses a PUT under a maxBytes rule, pointing to presignPost; a GET is given', async () => {
      const res = await app.gql(PRESIGN, { bucket: photos, key: 'p.png', method: 'PUT', contentType: 'image/png' });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(firstError(res)!.message).toContain('presignPost');
      expect(firstError(res)!.extensions).toMatchObject({ argument: 'method', rule: photosRule });
      const get = await app.gql(PRESIGN, { bucket: photos, key: 'p.png' });
      expect(get.errors).toBeUndefined();
    });

    it('a PUT under a content-type rule needs an allowed type, and signs it', async () => {
      const docsRule = { bucket: docs, maxBytes: null, contentTypes: ['text/*'] };
      for (const contentType of [undefined, 'image/png']) {
        const res = await app.gql(PRESIGN, { bucket: docs, key: 'd.txt', method: 'PUT', contentType });
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(firstError(res)!.extensions).toMatchObject({ argument: 'contentType', rule: docsRule });
      }
      const ok = await app.gql<{ presign: { url: string; headers: { key: string; value: string }[] } }>(PRESIGN, {
        bucket: docs,
        key: 'd.txt',
        method: 'PUT',
        contentType: 'text/plain',
      });
      expect(ok.errors).toBeUndefined();
      const { url, headers } = ok.data!.presign;
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('content-type');
      const put = await fetch(url, {
        method: 'PUT',
        body: 'hello',
        headers: Object.fromEntries(headers.map((h) => [h.key, h.value])),
      });
      expect(put.status).toBe(200);
      expect(await stored(docs, 'd.txt')).toEqual({ size: 5, contentType: 'text/plain' });
    });
  });

  describe('presignPost', () => {
    it('refuses a maxBytes above the rule as PAYLOAD_TOO_LARGE, and a type the rule does not allow', async () => {
      const over = await app.gql(PRESIGN_POST, {
        bucket: photos,
        key: 'p.png',
        maxBytes: 1001,
        contentType: 'image/png',
      });
      expect(codes(over)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(over)!.extensions).toMatchObject({ argument: 'maxBytes', rule: photosRule });
      const refusals = [
        { contentType: 'text/plain', argument: 'contentType' },
        { contentType: undefined, argument: 'contentType' },
        { contentTypePrefix: 'application/', argument: 'contentTypePrefix' },
        // A starts-with condition on an exact entry would also let `application/pdfx` in.
        { contentTypePrefix: 'application/pdf', argument: 'contentTypePrefix' },
      ];
      for (const { argument, ...types } of refusals) {
        const res = await app.gql(PRESIGN_POST, { bucket: photos, key: 'p.png', maxBytes: 1000, ...types });
        expect(codes(res), JSON.stringify(types)).toEqual(['BAD_USER_INPUT']);
        expect(firstError(res)!.extensions).toMatchObject({ argument, rule: photosRule });
      }
    });

    it('signs a form within the rule: exactly maxBytes, an allowed type or a type prefix under type/*', async () => {
      for (const types of [{ contentType: 'application/pdf' }, { contentTypePrefix: 'image/' }]) {
        const res = await app.gql<{ presignPost: { maxBytes: number } }>(PRESIGN_POST, {
          bucket: photos,
          key: 'p.png',
          maxBytes: 1000,
          ...types,
        });
        expect(res.errors, JSON.stringify(types)).toBeUndefined();
        expect(res.data!.presignPost.maxBytes).toBe(1000);
      }
      const star = await app.gql(PRESIGN_POST, { bucket: other, key: 'o.bin', maxBytes: STAR_MAX + 1 });
      expect(codes(star)).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(firstError(star)!.extensions).toMatchObject({ rule: starRule });
    });
  });

  describe('Bucket.uploadRules', () => {
    it("answers each bucket's rule: its own, else *; no store call of its own", async () => {
      const rulesOf = async (bucket: string) =>
        (await app.gql<{ bucket: { uploadRules: unknown } }>(RULES, { bucket })).data!.bucket.uploadRules;
      expect(await rulesOf(photos)).toEqual({ maxBytes: 1000, contentTypes: ['image/*', 'application/pdf'] });
      expect(await rulesOf(free)).toEqual({ maxBytes: null, contentTypes: [] });
      expect(await rulesOf(other)).toEqual({ maxBytes: STAR_MAX, contentTypes: [] });

      app.resetCalls();
      await app.gql(`query($bucket: String!) { bucket(name: $bucket) { name } }`, { bucket: photos });
      const without = app.calls.length;
      app.resetCalls();
      await app.gql(RULES, { bucket: photos });
      expect(app.calls.length).toBe(without);
    });
  });
});

describe('Bucket.uploadRules without rules, and for a reader', () => {
  const store = testStores()[0]!;
  const s3 = s3Client(store);
  let bucket: string;
  let app: TestServer;
  const token = 'reader-token-0123456789';

  beforeAll(async () => {
    bucket = uniqueBucket('rules-read');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('is null where no rule holds', async () => {
    app = await startServer(store);
    try {
      const res = await app.gql<{ bucket: { uploadRules: unknown } }>(RULES, { bucket });
      expect(res.errors).toBeUndefined();
      expect(res.data!.bucket.uploadRules).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('is readable with read access on the bucket', async () => {
    app = await startServer(store, {
      API_KEYS: JSON.stringify({ keys: [{ name: 'reader', token, grants: [{ bucket, role: 'read' }] }] }),
      UPLOAD_RULES: JSON.stringify({ '*': { contentTypes: ['image/png'] } }),
    });
    try {
      const res = await app.gql<{ bucket: { uploadRules: unknown } }>(
        RULES,
        { bucket },
        { authorization: `Bearer ${token}` },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.bucket.uploadRules).toEqual({ maxBytes: null, contentTypes: ['image/png'] });
    } finally {
      await app.close();
    }
  });
});
