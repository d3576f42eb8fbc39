/**
 * POST Object on the embedded store, beyond what test/graphql/presign-post
 * checks against every store: forms signed with @aws-sdk/s3-presigned-post
 * with other conditions than presignPost writes, and forms built by hand
 * (a policy signed here with SigV4's key derivation, a body streamed piece by
 * piece as curl sends it). What is stored is read back with the SDK, and the
 * store's tmp/ shows that the file streams to disk and that nothing is left
 * of a refused one.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILENAME_VARIABLE } from '../../src/core/s3-rules.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/embedded/index.js';
import { eventually } from '../support/app.js';
import { expectedDigest, MiB, randomChunks, sha256Of } from '../support/data.js';

let root: string;
let store: EmbeddedStore;
let s3: S3Client;
const BUCKET = 'forms';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'embedded-post-'));
  store = await startEmbeddedStore({ dataDir: join(root, 'data'), port: 0 });
  s3 = new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: store.credentials,
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  s3?.destroy();
  await store?.close();
  await rm(root, { recursive: true, force: true });
});

const tmpFiles = () => readdir(join(root, 'data', 'tmp'));

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

function sign(options: Omit<PresignedPostOptions, 'Bucket'>) {
  return createPresignedPost(s3, { Bucket: BUCKET, ...options });
}

/** A form of `fields` (in order), then `file` as the file, unless `file` is undefined. */
function formOf(fields: Record<string, string>, file?: Blob | string, after: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  if (file !== undefined) form.append('file', typeof file === 'string' ? new Blob([file]) : file, 'f.txt');
  for (const [key, value] of Object.entries(after)) form.append(key, value);
  return form;
}

const post = (url: string, body: FormData | string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers });

async function codeOf(res: Response): Promise<string> {
  return /<Code>([^<]*)<\/Code>/.exec(await res.text())?.[1] ?? `HTTP ${res.status}`;
}

interface StreamOptions {
  halfway: Promise<void>;
  signal?: AbortSignal;
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** The fields of a form whose policy document is `policy` as is, signed with the store's key. */
function handSigned(policy: string, key: string): Record<string, string> {
  const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = date.slice(0, 8);
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${store.credentials.secretAccessKey}`, day), 'us-east-1'), 's3'),
    'aws4_request',
  );
  const encoded = Buffer.from(policy).toString('base64');
  return {
    key,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': `${store.credentials.accessKeyId}/${day}/us-east-1/s3/aws4_request`,
    'x-amz-date': date,
    policy: encoded,
    'x-amz-signature': hmac(signingKey, encoded).toString('hex'),
  };
}

describe('POST Object on the embedded store', () => {
  it('answers 204 without success_action_status and 200 when asked, with the ETag', async () => {
    const plain = await sign({ Key: 'status/204.txt' });
    const res204 = await post(plain.url, formOf(plain.fields, 'a'));
    expect(res204.status).toBe(204);
    expect(res204.headers.get('etag')).toBe('"0cc175b9c0f1b6a831c399e269772661"');
    const ok = await sign({ Key: 'status/200.txt', Fields: { success_action_status: '200' } });
    const res200 = await post(ok.url, formOf(ok.fields, 'b'));
    expect(res200.status).toBe(200);
    expect(await exists('status/200.txt')).toBe(true);
  });

  it('ignores x-ignore-* fields and the fields after the file; field names are case-insensitive', async () => {
    const signed = await sign({ Key: 'fields/ignored.txt' });
    const fields = Object.fromEntries(Object.entries(signed.fields).map(([k, v]) => [k.toUpperCase(), v]));
    const res = await post(
      signed.url,
      formOf({ ...fields, 'x-ignore-tracking': '1' }, 'kept', { 'x-amz-meta-late': 'not covered' }),
    );
    expect(res.status).toBe(204);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'fields/ignored.txt' }));
    expect(head.Metadata).toEqual({});
  });

  it.each([
    ['no file', (f: Record<string, string>) => formOf(f), 'InvalidArgument'],
    ['an empty key', (f: Record<string, string>) => formOf({ ...f, key: '' }, 'x'), 'AccessDenied'],
    ['no key field', ({ key: _, ...f }: Record<string, string>) => formOf(f, 'x'), 'InvalidArgument'],
    ['a field given twice', (f: Record<string, string>) => formOf({ ...f, KEY: f.key! }, 'x'), 'InvalidArgument'],
    ['no policy', (f: Record<string, string>) => formOf({ key: f.key! }, 'x'), 'AccessDenied'],
    ['no signature', ({ 'X-Amz-Signature': _, ...f }: Record<string, string>) => formOf(f, 'x'), 'InvalidArgument'],
    [
      'too many bytes before the file',
      (f: Record<string, string>) => formOf({ ...f, 'x-ignore-pad': 'p'.repeat(21 * 1024) }, 'x'),
      'MaxPostPreDataLengthExceeded',
    ],
    [
      'another region',
      (f: Record<string, string>) =>
        formOf({ ...f, 'X-Amz-Credential': f['X-Amz-Credential']!.replace('us-east-1', 'eu-west-1') }, 'x'),
      'InvalidArgument',
    ],
    [
      'another algorithm',
      (f: Record<string, string>) => formOf({ ...f, 'X-Amz-Algorithm': 'AWS4-HMAC-SHA1' }, 'x'),
      'InvalidArgument',
    ],
    [
      'a bucket field naming another bucket',
      (f: Record<string, string>) => formOf({ ...f, bucket: 'other' }, 'x'),
      'InvalidArgument',
    ],
  ])('refuses a form with %s and stores nothing', async (_name, build, code) => {
    const signed = await sign({ Key: 'refused/x.txt' });
    const res = await post(signed.url, build(signed.fields));
    expect(await codeOf(res)).toBe(code);
    expect(await exists('refused/x.txt')).toBe(false);
  });

  it('refuses a body that is not multipart/form-data with MalformedPOSTRequest', async () => {
    const signed = await sign({ Key: 'refused/plain.txt' });
    const res = await post(signed.url, 'key=refused%2Fplain.txt', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(await codeOf(res)).toBe('MalformedPOSTRequest');
    const cut = await post(signed.url, '--b\r\nContent-Disposition: form-data; name="key"\r\n\r\nx', {
      'content-type': 'multipart/form-data; boundary=b',
    });
    expect(await codeOf(cut)).toBe('MalformedPOSTRequest');
  });

  it('refuses a policy that is not a valid document, even when signed, with InvalidPolicyDocument', async () => {
    for (const policy of ['not json', '{"conditions": []}', '{"expiration": "2999-01-01T00:00:00Z"}']) {
      const res = await post(`${store.endpoint}/${BUCKET}`, formOf(handSigned(policy, 'refused/doc.txt'), 'x'));
      expect(await codeOf(res)).toBe('InvalidPolicyDocument');
    }
    expect(await exists('refused/doc.txt')).toBe(false);
  });

  it('holds the file to every content-length-range of the policy, checked on the stored key after the file name is put in', async () => {
    const policy = JSON.stringify({
      expiration: new Date(Date.now() + 60_000).toISOString(),
      conditions: [
        { bucket: BUCKET },
        ['starts-with', '$key', 'ranged/'],
        ['content-length-range', 2, 10],
        ['content-length-range', '0', '5'],
        ['eq', '$x-amz-algorithm', 'AWS4-HMAC-SHA256'],
        ['starts-with', '$x-amz-credential', ''],
        ['starts-with', '$x-amz-date', ''],
      ],
    });
    const fields = handSigned(policy, `ranged/${FILENAME_VARIABLE}`);
    const form = (body: string) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      f.append('file', new Blob([body]), `${body.length}.txt`);
      return f;
    };
    expect(await codeOf(await post(`${store.endpoint}/${BUCKET}`, form('123456')))).toBe('EntityTooLarge');
    expect(await codeOf(await post(`${store.endpoint}/${BUCKET}`, form('1')))).toBe('EntityTooSmall');
    expect((await post(`${store.endpoint}/${BUCKET}`, form('12345'))).status).toBe(204);
    expect(await exists('ranged/5.txt')).toBe(true);
    expect(await exists('ranged/6.txt')).toBe(false);
    expect(await exists('ranged/1.txt')).toBe(false);
  });

  /** Sends a form as curl does, its file streamed; the file stops at 8 MiB until `halfway` resolves. */
  function streamForm(fields: Record<string, string>, url: string, size: number, options: StreamOptions) {
    const boundary = 'form-boundary-0123456789';
    const head = Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const fileHead = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    async function* body() {
      yield Buffer.from(head + fileHead);
      let sent = 0;
      for await (const chunk of randomChunks(size, 'streamed-form')) {
        yield chunk;
        sent += chunk.length;
        if (sent === 8 * MiB) await options.halfway;
      }
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.toWeb(Readable.from(body())) as ReadableStream<Uint8Array>,
      duplex: 'half',
      signal: options.signal,
    } as RequestInit);
  }

  /** Whether a file in tmp/ holds at least `size` bytes. */
  async function writing(size: number): Promise<boolean> {
    const files = await tmpFiles();
    const sizes = await Promise.all(files.map((f) => stat(join(root, 'data', 'tmp', f)).then((s) => s.size)));
    return sizes.some((written) => written >= size);
  }

  it('streams the file to disk as it arrives, and removes it when the form outgrows its limit', async () => {
    const signed = await sign({ Key: 'stream/big.bin', Conditions: [['content-length-range', 0, 12 * MiB]] });
    let release!: () => void;
    const halfway = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sending = streamForm(signed.fields, signed.url, 12 * MiB + 256 * 1024, { halfway });
    // Before the request has ended, most of what was sent is already in a file in tmp/.
    expect(await eventually(() => writing(4 * MiB), 10_000)).toBe(true);
    release();
    const res = await sending;
    expect(await codeOf(res)).toBe('EntityTooLarge');
    expect(await exists('stream/big.bin')).toBe(false);
    expect(await eventually(async () => (await tmpFiles()).length === 0)).toBe(true);
  });

  it('keeps nothing of a form whose client goes away mid-file', async () => {
    const signed = await sign({ Key: 'stream/gone.bin' });
    const abort = new AbortController();
    const sending = streamForm(signed.fields, signed.url, 16 * MiB, {
      halfway: new Promise(() => undefined),
      signal: abort.signal,
    });
    expect(await eventually(() => writing(4 * MiB), 10_000)).toBe(true);
    abort.abort();
    await expect(sending).rejects.toThrow();
    expect(await eventually(async () => (await tmpFiles()).length === 0)).toBe(true);
    expect(await exists('stream/gone.bin')).toBe(false);
  });

  it('stores a 12 MiB streamed form byte-exact', async () => {
    const signed = await sign({ Key: 'stream/exact.bin', Conditions: [['content-length-range', 0, 12 * MiB]] });
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    for await (const chunk of randomChunks(12 * MiB, 'exact-form')) chunks.push(new Uint8Array(chunk));
    const res = await post(signed.url, formOf(signed.fields, new Blob(chunks)));
    expect(res.status).toBe(204);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'stream/exact.bin' }));
    expect(await sha256Of(got.Body as AsyncIterable<Uint8Array>)).toEqual(await expectedDigest(12 * MiB, 'exact-form'));
  });

  it("answers a browser's form POST with CORS headers by the bucket's rules", async () => {
    const signed = await sign({ Key: 'cors/x.txt' });
    const origin = 'https://app.example';
    const open = await post(signed.url, formOf(signed.fields, 'x'), { origin });
    expect(open.status).toBe(204);
    // No rules: as on S3, no origin is granted (a form POST needs no preflight, so it is stored all the same,
    // but the page cannot read the answer).
    expect(open.headers.get('access-control-allow-origin')).toBeNull();

    await s3.send(
      new PutBucketCorsCommand({
        Bucket: BUCKET,
        CORSConfiguration: {
          CORSRules: [
            { AllowedOrigins: [origin], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], ExposeHeaders: ['ETag'] },
          ],
        },
      }),
    );
    const again = await sign({ Key: 'cors/y.txt' });
    const allowed = await post(again.url, formOf(again.fields, 'y'), { origin });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowed.headers.get('access-control-expose-headers')).toBe('ETag');
    const refused = await post(again.url, formOf(again.fields, 'y'), { origin: 'https://elsewhere.example' });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // A failed policy carries the CORS headers too, so the page can read why.
    const denied = await post(again.url, formOf({ ...again.fields, key: 'cors/z.txt' }, 'z'), { origin });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBe(origin);
  });
});
