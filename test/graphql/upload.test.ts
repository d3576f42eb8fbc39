/**
 * uploadObject through the real HTTP server with the GraphQL multipart
 * request spec, against every test store: bytes checked by SHA-256 in the
 * store, content type and metadata as stored, the size limit (exactly at it
 * passes, one byte over fails and leaves nothing), and invalid arguments
 * refused before anything reaches the store.
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { FileUpload } from 'graphql-upload-minimal';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, listingCursorsOf } from '../../src/graphql/context.js';
import { AppError } from '../../src/core/errors.js';
import { uploadObject } from '../../src/graphql/resolvers/object.js';
import { digestOf, MiB, randomBytes, sha256Of } from '../support/data.js';
import { createTestBucket, outcomeOf, removeBucket, s3Client, testStores, uniqueBucket } from '../support/stores.js';
import {
  UploadObjectDocument,
  type UploadObjectMutation,
  type UploadObjectMutationVariables,
} from './__generated__/graphql.js';
import { answerOf, codes, startServer, type GqlResponse, type TestServer } from '../support/app.js';

/** Part size 5 MiB (the minimum), so a file at the limit goes to the store as a two-part upload. */
const MAX_UPLOAD = 6 * MiB;

type UploadVariables = Omit<UploadObjectMutationVariables, 'file'>;

/** A file part with these bytes (copied into a Blob, as a browser would hold a picked file). */
const blob = (bytes: Uint8Array, type?: string) => new Blob([Uint8Array.from(bytes)], type ? { type } : {});

describe.each(testStores())('uploadObject on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  let bucket: string;

  beforeAll(async () => {
    app = await startServer(store, {
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      UPLOAD_PART_SIZE: '5MiB',
      UPLOAD_QUEUE_SIZE: '2',
    });
    bucket = await createTestBucket(s3, 'gql-upload');
  });

  afterAll(async () => {
    await app.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  /** One multipart request: operations, map, then the file part. */
  async function upload(
    variables: UploadVariables,
    file: Blob,
    filename = 'file.bin',
  ): Promise<GqlResponse<UploadObjectMutation>> {
    const form = new FormData();
    form.set(
      'operations',
      JSON.stringify({ query: UploadObjectDocument.toString(), variables: { ...variables, file: null } }),
    );
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', file, filename);
    const res = await fetch(app.url, { method: 'POST', body: form, headers: { 'x-graphql-csrf': '1' } });
    return answerOf(res);
  }

  async function stored(key: string) {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return {
      contentType: out.ContentType,
      metadata: out.Metadata,
      digest: await sha256Of(out.Body as AsyncIterable<Uint8Array>),
    };
  }

  it('stores a small file byte for byte with the file part type and metadata', async () => {
    const body = await randomBytes(70 * 1024, 'small');
    const res = await upload(
      {
        bucket,
        key: 'up/small.md',
        metadata: [
          { key: 'Origin', value: 'test suite' },
          { key: 'x-n', value: '1' },
        ],
      },
      blob(body, 'text/markdown'),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.uploadObject).toMatchObject({
      key: 'up/small.md',
      size: body.length,
      bucket: { name: bucket },
      contentType: 'text/markdown',
      metadata: [
        { key: 'origin', value: 'test suite' },
        { key: 'x-n', value: '1' },
      ],
    });
    expect(await stored('up/small.md')).toEqual({
      contentType: 'text/markdown',
      metadata: { origin: 'test suite', 'x-n': '1' },
      digest: digestOf(body),
    });
  });

  it('the contentType argument wins over the type of the file part', async () => {
    const res = await upload(
      { bucket, key: 'up/typed.txt', contentType: 'text/plain; charset=utf-8' },
      new Blob(['héllo'], { type: 'application/x-whatever' }),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.uploadObject.contentType).toBe('text/plain; charset=utf-8');
    expect((await stored('up/typed.txt')).contentType).toBe('text/plain; charset=utf-8');
  });

  it('streams a file of exactly the upload limit to the store in parts, byte for byte', async () => {
    const body = await randomBytes(MAX_UPLOAD, 'at-limit');
    const res = await upload({ bucket, key: 'up/large.bin' }, blob(body));
    expect(res.errors).toBeUndefined();
    expect(res.data!.uploadObject.size).toBe(MAX_UPLOAD);
    expect(res.data!.uploadObject.etag).toMatch(/-2$/);
    expect((await stored('up/large.bin')).digest).toEqual(digestOf(body));
  });

  it('one byte over the limit is PAYLOAD_TOO_LARGE and leaves nothing in the store', async () => {
    const body = await randomBytes(MAX_UPLOAD + 1, 'over-limit');
    const res = await upload({ bucket, key: 'up/too-large.bin' }, blob(body));
    expect(codes(res)).toEqual(['PAYLOAD_TOO_LARGE']);
    expect(res.errors![0]!.path).toEqual(['uploadObject']);
    expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'up/too-large.bin' })))).toMatchObject({
      ok: false,
      status: 404,
    });
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(open.Uploads ?? []).toEqual([]);
  });

  it('a missing bucket is NO_SUCH_BUCKET', async () => {
    const res = await upload({ bucket: uniqueBucket('gql-missing'), key: 'x.txt' }, new Blob(['x']));
    expect(codes(res)).toEqual(['NO_SUCH_BUCKET']);
  });

  it.each([
    ['bucket', { bucket: 'Not_A_Bucket', key: 'k' }],
    ['key', { key: '' }],
    ['contentType', { key: 'k', contentType: 'text' }],
    ['metadata[0].key', { key: 'k', metadata: [{ key: 'bad key', value: 'v' }] }],
    [
      'metadata[1].value',
      {
        key: 'k',
        metadata: [
          { key: 'a', value: 'ok' },
          { key: 'b', value: 'line\nbreak' },
        ],
      },
    ],
    [
      'metadata[1].key',
      {
        key: 'k',
        metadata: [
          { key: 'Same', value: '1' },
          { key: 'same', value: '2' },
        ],
      },
    ],
    ['metadata', { key: 'k', metadata: [{ key: 'big', value: 'x'.repeat(2046) }] }],
  ])('refuses a bad %s with BAD_USER_INPUT, reading no file into the store', async (argument, variables) => {
    app.resetCalls();
    const res = await upload({ bucket, ...variables }, blob(await randomBytes(256 * 1024, 'refused')));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.argument).toBe(argument);
    expect(app.calls).toEqual([]);
  });

  it('a file variable sent as JSON instead of a multipart file is BAD_USER_INPUT', async () => {
    app.resetCalls();
    const res = await app.gql(UploadObjectDocument, { bucket, key: 'k', file: 'not a file' as unknown as Blob });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.message).toMatch(/\$file/);
    expect(app.calls).toEqual([]);
  });

  describe('with the bare streams of graphql-upload-minimal', () => {
    /** graphql-upload-minimal's HttpError: an Error with an HTTP status. */
    const httpError = (status: number, message: string) => Object.assign(new Error(message), { status, expose: true });

    const fileOf = (createReadStream: () => Readable): Promise<FileUpload> =>
      Promise.resolve({
        filename: 'f.bin',
        fieldName: '0',
        mimetype: 'application/octet-stream',
        encoding: '7bit',
        createReadStream,
      } as unknown as FileUpload);

    const call = (key: string, file: Promise<FileUpload>) => {
      const ctx = createContext(
        {
          config: app.config,
          store: app.store,
          logger: pino({ level: 'silent' }),
          cursors: listingCursorsOf(app.config),
        },
        new Request('http://127.0.0.1/graphql'),
      );
      return uploadObject({ bucket, key, file }, ctx).then(
        () => 'stored',
        (err: unknown) => (err instanceof AppError ? `${err.code}: ${err.message}` : `unexpected: ${String(err)}`),
      );
    };

    const absent = async (key: string) =>
      expect(await outcomeOf(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
        ok: false,
        status: 404,
      });

    it('a stream failing with its 413 "exceeds the size limit" error is PAYLOAD_TOO_LARGE and stores nothing', async () => {
      const stream = new Readable({ read() {} });
      stream.push(Buffer.alloc(64 * 1024, 1));
      setImmediate(() => stream.destroy(httpError(413, 'File truncated as it exceeds the 65536 byte size limit.')));
      expect(
        await call(
          'bare/errored.bin',
          fileOf(() => stream),
        ),
      ).toMatch(/^PAYLOAD_TOO_LARGE: file: /);
      await absent('bare/errored.bin');
    });

    it('a stream that busboy stopped at its limit (then ended as if whole) is PAYLOAD_TOO_LARGE and stores nothing', async () => {
      const stream = new Readable({ read() {} });
      stream.push(Buffer.alloc(1024, 2));
      setImmediate(() => {
        stream.emit('limit');
        stream.push(null);
      });
      expect(
        await call(
          'bare/truncated.bin',
          fileOf(() => stream),
        ),
      ).toMatch(/^PAYLOAD_TOO_LARGE: /);
      await absent('bare/truncated.bin');
    });

    it('createReadStream refusing with 413, and a file missing from the request (400), are reported as such', async () => {
      const refusing = fileOf(() => {
        throw httpError(413, 'File truncated as it exceeds the 10 byte size limit.');
      });
      expect(await call('bare/refused.bin', refusing)).toMatch(/^PAYLOAD_TOO_LARGE: /);
      const missing = Promise.reject(httpError(400, 'File missing in the request.'));
      expect(await call('bare/missing.bin', missing)).toBe('BAD_USER_INPUT: file: File missing in the request.');
    });
  });
});
