import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable, Transform, Writable, pipeline } from 'node:stream';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ChecksumAlgorithm,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestBody } from '../../src/embedded/auth/body.js';
import { createChecksum } from '../../src/embedded/auth/checksums.js';
import { MAX_LINE_BYTES } from '../../src/embedded/auth/chunked.js';
import { verifyRequest, type VerifiedRequest } from '../../src/embedded/auth/sigv4.js';
import type { StoreCredentials } from '../../src/embedded/credentials.js';
import { S3Error } from '../../src/embedded/errors.js';
import { parseTarget } from '../../src/embedded/http/target.js';

const execFileAsync = promisify(execFile);

const CREDS: StoreCredentials = { accessKeyId: 'EMBEDDEDTESTKEY', secretAccessKey: 'test/Secret+Key=with/odd+chars' };
/** The example pair of the AWS documentation, for its published signatures. */
const DOC_CREDS: StoreCredentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const BUCKET = 'bucket';
const KEYS = [
  'plain.txt',
  'with space/and+plus.txt',
  'percent%25 and %41/x',
  'ünïcödé/日本語 ✓.bin',
  'a/b/c/deep',
  "odd!'()*~$&@=;:,?#[] chars",
];

// ---------------------------------------------------------------------------
// A store-like server on loopback that authenticates with the module under test

interface Outcome {
  method: string;
  target: string;
  verified?: VerifiedRequest;
  error?: { code: string; status: number; message: string; phase: 'auth' | 'body' };
  sha256?: string;
  bytes?: number;
  checksums?: Record<string, string>;
  maxBuffered?: number;
}

const store = {
  creds: CREDS,
  region: 'us-east-1',
  now: undefined as Date | undefined,
  slowConsumer: false,
  outcomes: [] as Outcome[],
};

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown): void {
  const { code, status, message } =
    error instanceof S3Error ? error : { code: 'InternalError', status: 500, message: String(error) };
  // The body was not (fully) read: the connection cannot carry another request.
  if (!req.complete) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>test</RequestId></Error>`,
  );
}

function authenticate(
  req: http.IncomingMessage,
  res: http.ServerResponse,
): { outcome: Outcome; verified: VerifiedRequest } | undefined {
  const outcome: Outcome = { method: req.method!, target: req.url! };
  store.outcomes.push(outcome);
  try {
    const verified = verifyRequest(req, parseTarget(req.url!), store.creds, {
      region: store.region,
      ...(store.now ? { now: store.now } : {}),
    });
    outcome.verified = verified;
    return { outcome, verified };
  } catch (error) {
    if (!(error instanceof S3Error)) throw error;
    outcome.error = { code: error.code, status: error.status, message: error.message, phase: 'auth' };
    sendError(req, res, error);
    return undefined;
  }
}

function serve(req: http.IncomingMessage, res: http.ServerResponse, outcome: Outcome, verified: VerifiedRequest): void {
  const url = new URL(req.url!, 'http://store.invalid');
  if (req.method === 'PUT' || req.method === 'POST') {
    const body = requestBody(req, verified);
    const hash = createHash('sha256');
    let bytes = 0;
    let maxBuffered = 0;
    const sink = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        maxBuffered = Math.max(maxBuffered, body.readableLength + body.writableLength + req.readableLength);
        if (store.slowConsumer) setTimeout(callback, 1);
        else callback();
      },
    });
    pipeline(body, sink, (error) => {
      outcome.maxBuffered = maxBuffered;
      if (error) {
        const e = error instanceof S3Error ? error : new S3Error('InternalError', String(error));
        outcome.error = { code: e.code, status: e.status, message: e.message, phase: 'body' };
        if (!res.headersSent && !res.destroyed) sendError(req, res, e);
        return;
      }
      outcome.sha256 = hash.digest('hex');
      outcome.bytes = bytes;
      outcome.checksums = { ...body.checksums };
      if (url.searchParams.has('delete')) {
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>',
        );
        return;
      }
      res.writeHead(200, { ETag: `"${outcome.sha256.slice(0, 32)}"` });
      res.end();
    });
    return;
  }
  if (url.searchParams.get('list-type') === '2') {
    const prefix = url.searchParams.get('prefix') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${BUCKET}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`,
    );
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'text/plain',
    'Content-Length': '5',
    ETag: '"5d41402abc4b2a76b9719d911017c592"',
  });
  res.end(req.method === 'HEAD' ? undefined : 'hello');
}

const server = http.createServer((req, res) => {
  const authenticated = authenticate(req, res);
  if (authenticated) serve(req, res, authenticated.outcome, authenticated.verified);
});
// Expect: 100-continue: authenticate before asking the client for the body.
server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
  const authenticated = authenticate(req, res);
  if (!authenticated) return;
  res.writeContinue();
  serve(req, res, authenticated.outcome, authenticated.verified);
});

let endpoint = '';
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  store.creds = CREDS;
  store.region = 'us-east-1';
  store.now = undefined;
  store.slowConsumer = false;
  store.outcomes.length = 0;
});

function lastOutcome(): Outcome {
  const outcome = store.outcomes.at(-1);
  if (!outcome) throw new Error('the server saw no request');
  return outcome;
}

async function settledOutcome(): Promise<Outcome> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const outcome = store.outcomes.at(-1);
    if (outcome && (outcome.error || outcome.sha256 || outcome.method === 'GET' || outcome.method === 'HEAD'))
      return outcome;
    if (Date.now() > deadline) throw new Error('the server did not finish the request');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------
// Clients

function client(config: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDS,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });
}

/** Changes the request after the SDK signed it. */
type Middleware = Parameters<S3Client['middlewareStack']['addRelativeTo']>[0];
type Next = (args: { request: unknown }) => Promise<unknown>;

function tamper(s3: S3Client, change: (request: HttpRequest) => void): S3Client {
  const middleware = (next: Next) => async (args: { request: unknown }) => {
    if (HttpRequest.isInstance(args.request)) change(args.request);
    return next(args);
  };
  s3.middlewareStack.addRelativeTo(middleware as unknown as Middleware, {
    relation: 'after',
    toMiddleware: 'httpSigningMiddleware',
    name: 'tamperAfterSigning',
    override: true,
  });
  return s3;
}

async function sdkError(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('the request was accepted');
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A Readable of `size` pseudo-random bytes in `piece`-sized buffers, and its sha256. */
function randomStream(size: number, piece = 256 * 1024): { stream: () => Readable; sha256: string } {
  const data = randomBytes(size);
  return {
    sha256: sha256(data),
    stream: () =>
      Readable.from(
        (function* () {
          for (let offset = 0; offset < size; offset += piece) yield data.subarray(offset, offset + piece);
        })(),
      ),
  };
}

function decodedKey(target: string): string {
  const path = target.split('?')[0]!;
  return decodeURIComponent(path.slice(`/${BUCKET}/`.length));
}

// ---------------------------------------------------------------------------
// Hand-made requests: an independent SigV4 implementation and aws-chunked encoder

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKeyFor(creds: StoreCredentials, date: string, region: string, service = 's3'): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), service), 'aws4_request');
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function isoBasic(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
}

interface HandRequest {
  method: string;
  path: string;
  query?: [string, string][];
  headers: Record<string, string>;
  payloadHash: string;
  date?: Date;
  region?: string;
  service?: string;
  creds?: StoreCredentials;
  /** Sign with the Date header instead of x-amz-date. */
  useDateHeader?: boolean;
  /** Header names left out of the signature. */
  unsigned?: string[];
}

interface Signed {
  headers: Record<string, string>;
  target: string;
  signature: string;
  signingKey: Buffer;
  longDate: string;
  scope: string;
}

/** Signs a request by hand: our own canonical request, independent of @smithy/signature-v4. */
function handSign(request: HandRequest): Signed {
  const date = request.date ?? new Date();
  const region = request.region ?? 'us-east-1';
  const creds = request.creds ?? CREDS;
  const longDate = isoBasic(date);
  const shortDate = longDate.slice(0, 8);
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...request.headers };
  if (request.useDateHeader) headers.date = date.toUTCString();
  else headers['x-amz-date'] = longDate;
  if (request.payloadHash !== '') headers['x-amz-content-sha256'] ??= request.payloadHash;
  const unsigned = new Set(request.unsigned ?? []);
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => !unsigned.has(name))
    .sort();
  const canonicalHeaders = names.map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const query = (request.query ?? [])
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .sort()
    .join('&');
  const canonical = [request.method, request.path, query, canonicalHeaders, names.join(';'), request.payloadHash].join(
    '\n',
  );
  const scope = `${shortDate}/${region}/${request.service ?? 's3'}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', longDate, scope, sha256(canonical)].join('\n');
  const signingKey = signingKeyFor(creds, shortDate, region, request.service);
  const signature = hmac(signingKey, stringToSign).toString('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return { headers, target: query ? `${request.path}?${query}` : request.path, signature, signingKey, longDate, scope };
}

/** aws-chunked framing with chained chunk signatures (and a signed trailer), per the AWS documentation. */
function signedChunks(
  signed: Pick<Signed, 'signingKey' | 'longDate' | 'scope' | 'signature'>,
  chunks: Buffer[],
  trailer?: { name: string; value: string },
): Buffer {
  const parts: Buffer[] = [];
  let previous = signed.signature;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      signed.longDate,
      signed.scope,
      previous,
      sha256(''),
      sha256(data),
    ].join('\n');
    previous = hmac(signed.signingKey, stringToSign).toString('hex');
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`), data);
    if (data.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (trailer) {
    const canonical = `${trailer.name}:${trailer.value}\n`;
    const stringToSign = ['AWS4-HMAC-SHA256-TRAILER', signed.longDate, signed.scope, previous, sha256(canonical)].join(
      '\n',
    );
    const signature = hmac(signed.signingKey, stringToSign).toString('hex');
    parts.push(Buffer.from(`${trailer.name}:${trailer.value}\r\nx-amz-trailer-signature:${signature}\r\n\r\n`));
  } else {
    parts.push(Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function unsignedChunks(chunks: Buffer[], trailer: { name: string; value: string }): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from(`0\r\n${trailer.name}:${trailer.value}\r\n\r\n`));
  return Buffer.concat(parts);
}

/** The checksum the store computes for header or trailer `name` over `parts`, in order. */
async function checksumOf(name: string, ...parts: Buffer[]): Promise<Buffer> {
  const checksum = createChecksum(name);
  for (const part of parts) checksum.update(part);
  return Buffer.from(await checksum.digest());
}

function crc32Base64(data: Buffer): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(data), 0);
  return sum.toString('base64');
}

interface RawResponse {
  status: number;
  code: string | undefined;
  body: string;
}

/** Sends exactly these headers and body bytes. */
function rawRequest(
  method: string,
  target: string,
  headers: Record<string, string | string[]>,
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, code: /<Code>(.*?)<\/Code>/.exec(text)?.[1], body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function sendSignedChunks(options: {
  chunks: Buffer[];
  trailer?: { name: string; value: string };
  mutate?: (body: Buffer) => Buffer;
  decodedLength?: number;
}): Promise<{ response: RawResponse; outcome: Outcome }> {
  const decoded = options.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(options.decodedLength ?? decoded),
  };
  if (options.trailer) headers['x-amz-trailer'] = options.trailer.name;
  const signed = handSign({
    method: 'PUT',
    path: `/${BUCKET}/signed-chunks`,
    headers,
    payloadHash: options.trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  });
  let body = signedChunks(signed, options.chunks, options.trailer);
  if (options.mutate) body = options.mutate(body);
  const response = await rawRequest(
    'PUT',
    signed.target,
    { ...signed.headers, 'content-length': String(body.length) },
    body,
  );
  return { response, outcome: await settledOutcome() };
}

// ---------------------------------------------------------------------------

describe('header-signed requests from @aws-sdk/client-s3', () => {
  it('verifies PutObject, GetObject, HeadObject, ListObjectsV2 and DeleteObjects for awkward keys', async () => {
    const s3 = client();
    for (const key of KEYS) {
      const body = `content of ${key}`;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: { note: 'a b' } }));
      const outcome = lastOutcome();
      expect(outcome.error).toBeUndefined();
      expect(decodedKey(outcome.target)).toBe(key);
      expect(outcome.verified).toMatchObject({
        accessKeyId: CREDS.accessKeyId,
        presigned: false,
        payloadHash: sha256(body),
      });
      expect(outcome.sha256).toBe(sha256(body));

      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=0-4' }));
      expect(await got.Body!.transformToString()).toBe('hello');
      expect(decodedKey(lastOutcome().target)).toBe(key);
      await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(lastOutcome().verified?.payloadHash).toBe(sha256(''));
    }

    const listed = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: 'a/b',
        StartAfter: 'a/b ü+%=&',
        ContinuationToken: 'tok/en+=',
      }),
    );
    expect(listed.Prefix).toBe('a/b');
    expect(lastOutcome().target).toContain('prefix=a%2Fb');
    expect(lastOutcome().verified?.signedHeaders).toContain('host');

    await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: KEYS.map((Key) => ({ Key })) } }));
    const deleted = lastOutcome();
    expect(deleted.error).toBeUndefined();
    expect(Object.keys(deleted.checksums ?? {})).toEqual(['x-amz-checksum-crc32']);
  });

  it('accepts only its own region in the credential scope', async () => {
    const foreign = await sdkError(
      client({ region: 'eu-west-3' }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })),
    );
    expect(foreign).toEqual({ name: 'AuthorizationHeaderMalformed', status: 400 });
    expect(lastOutcome().error?.message).toBe(
      "The authorization header is malformed; the region 'eu-west-3' is wrong; expecting 'us-east-1'",
    );
    store.region = 'eu-west-3';
    await client({ region: 'eu-west-3' }).send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'k' }));
    expect(lastOutcome().error).toBeUndefined();
    expect(await sdkError(client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })))).toEqual({
      name: 'AuthorizationHeaderMalformed',
      status: 400,
    });
  });

  it('rejects a tampered path, query, header or body', async () => {
    const path = await sdkError(
      tamper(client(), (r) => (r.path += 'x')).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'key' })),
    );
    expect(path).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });

    const query = await sdkError(
      tamper(client(), (r) => (r.query.prefix = 'other')).send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'a/b' }),
      ),
    );
    expect(query).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });

    const signedHeader = await sdkError(
      tamper(client(), (r) => (r.headers['x-amz-meta-note'] = 'changed')).send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x', Metadata: { note: 'original' } }),
      ),
    );
    expect(signedHeader).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });

    const unsignedHeader = await sdkError(
      tamper(client(), (r) => (r.headers['x-amz-acl'] = 'public-read')).send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x' }),
      ),
    );
    expect(unsignedHeader).toEqual({ name: 'AccessDenied', status: 403 });
    expect(lastOutcome().error?.message).toContain('x-amz-acl');

    const body = await sdkError(
      tamper(client(), (r) => (r.body = 'tampered!')).send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'original!' }),
      ),
    );
    expect(body).toEqual({ name: 'XAmzContentSHA256Mismatch', status: 400 });
    expect(lastOutcome().error?.phase).toBe('body');
  });

  it('rejects a wrong secret (before 100-continue) and an unknown key id', async () => {
    const { stream } = randomStream(3 * 1024 * 1024);
    const wrongSecret = await sdkError(
      client({ credentials: { ...CREDS, secretAccessKey: 'not-the-secret' } }).send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'big', Body: stream(), ContentLength: 3 * 1024 * 1024 }),
      ),
    );
    expect(wrongSecret).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(lastOutcome().error?.phase).toBe('auth');

    const unknownKey = await sdkError(
      client({ credentials: { accessKeyId: 'SOMEONEELSE', secretAccessKey: CREDS.secretAccessKey } }).send(
        new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }),
      ),
    );
    expect(unknownKey).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
  });

  it('enforces a 15 minute clock skew', async () => {
    store.now = new Date(Date.now() + 16 * 60 * 1000);
    const ahead = await sdkError(client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })));
    expect(ahead).toEqual({ name: 'RequestTimeTooSkewed', status: 403 });
    store.now = new Date(Date.now() - 16 * 60 * 1000);
    const behind = await sdkError(client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })));
    expect(behind).toEqual({ name: 'RequestTimeTooSkewed', status: 403 });
    store.now = new Date(Date.now() + 14 * 60 * 1000);
    await client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'k' }));
    expect(lastOutcome().error).toBeUndefined();
  });
});

describe('aws-chunked uploads from @aws-sdk/client-s3', () => {
  const SIZE = 6 * 1024 * 1024 + 12345;

  it('streams several MiB byte-exact with WHEN_SUPPORTED (unsigned payload, crc32 trailer)', async () => {
    const data = randomStream(SIZE);
    await client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'big/supported', Body: data.stream(), ContentLength: SIZE }),
    );
    const outcome = lastOutcome();
    expect(outcome.verified?.payloadHash).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(outcome.bytes).toBe(SIZE);
    expect(outcome.sha256).toBe(data.sha256);
    expect(Object.keys(outcome.checksums ?? {})).toEqual(['x-amz-checksum-crc32']);
  });

  it('streams several MiB byte-exact with WHEN_REQUIRED (UNSIGNED-PAYLOAD)', async () => {
    const data = randomStream(SIZE);
    await client({ requestChecksumCalculation: 'WHEN_REQUIRED' }).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'big/required', Body: data.stream(), ContentLength: SIZE }),
    );
    const outcome = lastOutcome();
    expect(outcome.verified?.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(outcome.bytes).toBe(SIZE);
    expect(outcome.sha256).toBe(data.sha256);
  });

  it('keeps buffering bounded while a slow consumer reads a 16 MiB upload', async () => {
    store.slowConsumer = true;
    const size = 16 * 1024 * 1024;
    const data = randomStream(size, 1024 * 1024);
    await client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'big/slow', Body: data.stream(), ContentLength: size }),
    );
    const outcome = lastOutcome();
    expect(outcome.sha256).toBe(data.sha256);
    expect(outcome.maxBuffered).toBeGreaterThan(0);
    expect(outcome.maxBuffered).toBeLessThan(2 * 1024 * 1024);
  });

  it.each(['CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[])(
    'verifies a %s trailer and header',
    async (algorithm) => {
      const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const data = randomStream(700 * 1024, 100 * 1024);
      await client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }).send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `sum/${algorithm}`,
          Body: data.stream(),
          ContentLength: 700 * 1024,
          ChecksumAlgorithm: algorithm,
        }),
      );
      expect(lastOutcome().sha256).toBe(data.sha256);
      expect(Object.keys(lastOutcome().checksums ?? {})).toEqual([name]);

      await client().send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `sum/${algorithm}`,
          Body: 'in a header',
          ChecksumAlgorithm: algorithm,
        }),
      );
      expect(Object.keys(lastOutcome().checksums ?? {})).toEqual([name]);

      expect(lastOutcome().checksums?.[name]).toBeDefined();
    },
  );

  function rewriteBody(change: (chunk: Buffer, offset: number) => Buffer): (r: HttpRequest) => void {
    return (r) => {
      let offset = 0;
      const original = r.body as Readable;
      r.body = original.pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            const changed = change(Buffer.from(chunk), offset);
            offset += chunk.length;
            callback(null, changed);
          },
        }),
      );
    };
  }

  it('rejects a corrupted chunk and a wrong trailer checksum', async () => {
    const data = randomStream(1024 * 1024);
    const corrupted = await sdkError(
      tamper(
        client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }),
        rewriteBody((chunk, offset) => {
          const at = 100_000 - offset;
          if (at >= 0 && at < chunk.length) chunk[at] = chunk[at]! ^ 0xff;
          return chunk;
        }),
      ).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'corrupt', Body: data.stream(), ContentLength: 1024 * 1024 })),
    );
    expect(corrupted).toEqual({ name: 'BadDigest', status: 400 });

    const wrongTrailer = await sdkError(
      tamper(
        client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }),
        rewriteBody((chunk) => {
          const text = chunk.toString('latin1');
          return text.startsWith('x-amz-checksum-crc32:') ? Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n') : chunk;
        }),
      ).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'trailer', Body: data.stream(), ContentLength: 1024 * 1024 })),
    );
    expect(wrongTrailer).toEqual({ name: 'BadDigest', status: 400 });
    expect(lastOutcome().error?.message).toContain('CRC32');
  });
});

describe('presigned URLs from @aws-sdk/s3-request-presigner', () => {
  it('verifies GET and PUT URLs for awkward keys', async () => {
    store.region = 'ap-southeast-2';
    const s3 = client({ region: 'ap-southeast-2' });
    for (const key of KEYS) {
      const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
      const response = await fetch(get);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('hello');
      expect(lastOutcome().verified).toMatchObject({ presigned: true, payloadHash: 'UNSIGNED-PAYLOAD' });
      expect(decodedKey(lastOutcome().target)).toBe(key);

      const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
      const body = `presigned ${key}`;
      expect((await fetch(put, { method: 'PUT', body })).status).toBe(200);
      expect(lastOutcome().sha256).toBe(sha256(body));
    }
  });

  it('accepts the empty-body checksum WHEN_SUPPORTED puts into PUT URLs', async () => {
    const url = await getSignedUrl(
      client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }),
      new PutObjectCommand({ Bucket: BUCKET, Key: 'k' }),
      { expiresIn: 60 },
    );
    expect(url).toContain('x-amz-checksum-crc32=');
    expect((await fetch(url, { method: 'PUT', body: 'not empty' })).status).toBe(200);
    expect(lastOutcome().sha256).toBe(sha256('not empty'));
  });

  it('rejects tampered, expired, premature and malformed URLs', async () => {
    const s3 = client();
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'a b/c' }), { expiresIn: 120 });
    const code = async (target: string, init?: RequestInit): Promise<[number, string | undefined]> => {
      const response = await fetch(target, init);
      return [response.status, /<Code>(.*?)<\/Code>/.exec(await response.text())?.[1]];
    };

    expect(await code(url.replace('/a%20b/c', '/a%20b/d'))).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await code(`${url}&extra=1`)).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await code(url.replace('X-Amz-Expires=120', 'X-Amz-Expires=121'))).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await code(url.replace(/X-Amz-Signature=[0-9a-f]{8}/, 'X-Amz-Signature=00000000'))).toEqual([
      403,
      'SignatureDoesNotMatch',
    ]);
    expect(await code(url.replace('X-Amz-Expires=120', 'X-Amz-Expires=604801'))).toEqual([
      400,
      'AuthorizationQueryParametersError',
    ]);
    expect(await code(url.replace('X-Amz-Expires=120', 'X-Amz-Expires=0'))).toEqual([
      400,
      'AuthorizationQueryParametersError',
    ]);
    expect(await code(url.replace(/&X-Amz-Date=[^&]+/, ''))).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(await code(url.replace(CREDS.accessKeyId, 'SOMEONEELSE'))).toEqual([403, 'InvalidAccessKeyId']);
    expect(await code(url.replace('%2Fs3%2F', '%2Fsqs%2F'))).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(await code(url, { headers: { 'x-amz-server-side-encryption': 'AES256' } })).toEqual([403, 'AccessDenied']);
    expect(await code(url, { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x' } })).toEqual([
      400,
      'InvalidArgument',
    ]);
    expect(await code(url)).toEqual([200, undefined]);

    store.now = new Date(Date.now() + 121_000);
    expect(await code(url)).toEqual([403, 'AccessDenied']);
    expect(lastOutcome().error?.message).toBe('Request has expired');

    store.now = undefined;
    const future = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), {
      expiresIn: 3600,
      signingDate: new Date(Date.now() + 30 * 60 * 1000),
    });
    expect(await code(future)).toEqual([403, 'AccessDenied']);
    expect(lastOutcome().error?.message).toBe('Request is not valid yet');

    const week = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), {
      expiresIn: 604_800,
      signingDate: new Date(Date.now() - 6 * 24 * 3600 * 1000),
    });
    expect(await code(week)).toEqual([200, undefined]);

    const foreign = await getSignedUrl(
      client({ region: 'eu-north-1' }),
      new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }),
      { expiresIn: 60 },
    );
    expect(await code(foreign)).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(lastOutcome().error?.message).toBe(
      "Error parsing the X-Amz-Credential parameter; the region 'eu-north-1' is wrong; expecting 'us-east-1'",
    );
  });

  it('ends a presigned URL at most seven days after it is first accepted, whatever its X-Amz-Date', async () => {
    const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000 + 10 * 60 * 1000);
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), {
      expiresIn: 604_800,
      signingDate,
    });
    const at = async (offsetMs: number) => {
      store.now = new Date(signingDate.getTime() + offsetMs);
      return (await fetch(url)).status === 200 ? 'ok' : lastOutcome().error?.message;
    };
    // Within the clock skew but ahead: it would end more than a week from now.
    expect(await at(-10 * 60 * 1000)).toBe('Request is not valid yet');
    expect(await at(-1000)).toBe('Request is not valid yet');
    expect(await at(0)).toBe('ok');
    expect(await at(604_800_000)).toBe('ok');
    expect(await at(604_801_000)).toBe('Request has expired');
    // A shorter URL dated ahead within the skew is still accepted at once.
    store.now = undefined;
    const hour = await getSignedUrl(client(), new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), {
      expiresIn: 3600,
      signingDate,
    });
    expect((await fetch(hour)).status).toBe(200);
  });
});

describe('hand-made requests', () => {
  it('verifies the path as sent, dot segments and all', async () => {
    for (const path of [`/${BUCKET}/a/../k`, `/${BUCKET}/./x/.`, `/${BUCKET}//double`]) {
      const signed = handSign({ method: 'GET', path, headers: {}, payloadHash: sha256('') });
      expect((await rawRequest('GET', signed.target, signed.headers)).status).toBe(200);
      expect(lastOutcome().target).toBe(path);
    }
    const signed = handSign({ method: 'GET', path: `/${BUCKET}/a/../k`, headers: {}, payloadHash: sha256('') });
    const normalised = await rawRequest('GET', `/${BUCKET}/k`, signed.headers);
    expect([normalised.status, normalised.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('accepts the Date header in place of x-amz-date, repeated headers and ignored unsignable ones', async () => {
    const signed = handSign({
      method: 'GET',
      path: `/${BUCKET}/dated`,
      query: [
        ['list-type', '2'],
        ['prefix', 'a/b'],
        ['marker', ''],
      ],
      headers: { 'x-custom': '  spaced   value ', 'x-repeated': 'one,two' },
      payloadHash: sha256(''),
      useDateHeader: true,
    });
    const response = await rawRequest('GET', signed.target, {
      ...signed.headers,
      'x-repeated': ['one', 'two'],
      'user-agent': 'not signed',
    });
    expect(response.status).toBe(200);
    expect(lastOutcome().verified?.signedHeaders).toContain('date');
  });

  it('rejects missing and unsupported authentication', async () => {
    const anonymous = await rawRequest('GET', `/${BUCKET}/k`, {});
    expect([anonymous.status, anonymous.code]).toEqual([403, 'AccessDenied']);

    const v2 = await rawRequest('GET', `/${BUCKET}/k`, {
      authorization: 'AWS EMBEDDEDTESTKEY:c2lnbmF0dXJl',
      date: new Date().toUTCString(),
    });
    expect([v2.status, v2.code]).toEqual([400, 'InvalidRequest']);

    const bearer = await rawRequest('GET', `/${BUCKET}/k`, { authorization: 'Bearer token' });
    expect([bearer.status, bearer.code]).toEqual([400, 'InvalidArgument']);

    const v2Query = await rawRequest('GET', `/${BUCKET}/k?AWSAccessKeyId=EMBEDDEDTESTKEY&Expires=1&Signature=x`, {});
    expect([v2Query.status, v2Query.code]).toEqual([400, 'InvalidRequest']);

    const noHash = handSign({ method: 'GET', path: `/${BUCKET}/k`, headers: {}, payloadHash: '' });
    const noHashResponse = await rawRequest('GET', noHash.target, noHash.headers);
    expect([noHashResponse.status, noHashResponse.code]).toEqual([400, 'InvalidRequest']);

    const noDate = handSign({ method: 'GET', path: `/${BUCKET}/k`, headers: {}, payloadHash: sha256('') });
    delete noDate.headers['x-amz-date'];
    const noDateResponse = await rawRequest('GET', noDate.target, noDate.headers);
    expect([noDateResponse.status, noDateResponse.code]).toEqual([403, 'AccessDenied']);
  });

  it('rejects malformed authorization headers and foreign services', async () => {
    const ec2 = handSign({ method: 'GET', path: `/${BUCKET}/k`, headers: {}, payloadHash: sha256(''), service: 'ec2' });
    const ec2Response = await rawRequest('GET', ec2.target, ec2.headers);
    expect([ec2Response.status, ec2Response.code]).toEqual([400, 'AuthorizationHeaderMalformed']);

    const ok = handSign({ method: 'GET', path: `/${BUCKET}/k`, headers: {}, payloadHash: sha256('') });
    const withoutSignature = ok.headers.authorization!.replace(/, Signature=.*/, '');
    const malformed = await rawRequest('GET', ok.target, { ...ok.headers, authorization: withoutSignature });
    expect([malformed.status, malformed.code]).toEqual([400, 'AuthorizationHeaderMalformed']);

    const noHost = handSign({
      method: 'GET',
      path: `/${BUCKET}/k`,
      headers: {},
      payloadHash: sha256(''),
      unsigned: ['host'],
    });
    const noHostResponse = await rawRequest('GET', noHost.target, noHost.headers);
    expect([noHostResponse.status, noHostResponse.code]).toEqual([400, 'AuthorizationHeaderMalformed']);

    const yesterday = handSign({ method: 'GET', path: `/${BUCKET}/k`, headers: {}, payloadHash: sha256('') });
    const otherDay = yesterday.headers.authorization!.replace(/Credential=([^/]+)\/\d{8}/, 'Credential=$1/20000101');
    const otherDayResponse = await rawRequest('GET', yesterday.target, {
      ...yesterday.headers,
      authorization: otherDay,
    });
    expect([otherDayResponse.status, otherDayResponse.code]).toEqual([400, 'AuthorizationHeaderMalformed']);

    const ecdsa = handSign({
      method: 'PUT',
      path: `/${BUCKET}/k`,
      headers: {},
      payloadHash: 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
    });
    const ecdsaResponse = await rawRequest('PUT', ecdsa.target, { ...ecdsa.headers, 'content-length': '0' });
    expect([ecdsaResponse.status, ecdsaResponse.code]).toEqual([400, 'InvalidRequest']);
  });

  it('reports a body cut off mid-way as IncompleteBody', async () => {
    const signed = handSign({
      method: 'PUT',
      path: `/${BUCKET}/cut`,
      headers: { 'content-length': '100000' },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const head = Object.entries(signed.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n');
    socket.write(`PUT ${signed.target} HTTP/1.1\r\n${head}\r\n\r\n`);
    socket.write(Buffer.alloc(1000, 1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    const outcome = await settledOutcome();
    expect(outcome.error).toMatchObject({ code: 'IncompleteBody', phase: 'body' });
  });

  it('verifies Content-MD5 and x-amz-checksum-* request headers', async () => {
    const body = Buffer.from('md5 checked');
    const md5 = createHash('md5').update(body).digest('base64');
    const good = handSign({
      method: 'PUT',
      path: `/${BUCKET}/md5`,
      headers: { 'content-md5': md5 },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    expect((await rawRequest('PUT', good.target, good.headers, body)).status).toBe(200);
    expect(lastOutcome().checksums).toEqual({ 'content-md5': md5 });

    const wrong = handSign({
      method: 'PUT',
      path: `/${BUCKET}/md5`,
      headers: { 'content-md5': createHash('md5').update('other').digest('base64') },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const wrongResponse = await rawRequest('PUT', wrong.target, wrong.headers, body);
    expect([wrongResponse.status, wrongResponse.code]).toEqual([400, 'BadDigest']);

    const invalid = handSign({
      method: 'PUT',
      path: `/${BUCKET}/md5`,
      headers: { 'content-md5': 'bm90IG1kNQ==' },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const invalidResponse = await rawRequest('PUT', invalid.target, invalid.headers, body);
    expect([invalidResponse.status, invalidResponse.code]).toEqual([400, 'InvalidDigest']);

    const sha = createHash('sha256').update('other').digest('base64');
    const wrongSha = handSign({
      method: 'PUT',
      path: `/${BUCKET}/sha`,
      headers: { 'x-amz-checksum-sha256': sha },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const wrongShaResponse = await rawRequest('PUT', wrongSha.target, wrongSha.headers, body);
    expect([wrongShaResponse.status, wrongShaResponse.code]).toEqual([400, 'BadDigest']);
    expect(lastOutcome().error?.message).toContain('SHA256');

    const shortSha = handSign({
      method: 'PUT',
      path: `/${BUCKET}/sha`,
      headers: { 'x-amz-checksum-sha256': 'AAAAAA==' },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const shortShaResponse = await rawRequest('PUT', shortSha.target, shortSha.headers, body);
    expect([shortShaResponse.status, shortShaResponse.code]).toEqual([400, 'InvalidRequest']);
  });
});

describe('signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', () => {
  const docData = Buffer.alloc(66_560, 'a');
  const docSignatures = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  const docTrailerSignatures = [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ];
  function docBody(signatures: string[], tail: string): Buffer {
    return Buffer.concat([
      Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
      docData.subarray(0, 65_536),
      Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
      docData.subarray(65_536),
      Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${tail}\r\n`),
    ]);
  }
  const docHeaders = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
  };

  it('decodes the AWS documentation example, signature by signature', async () => {
    store.creds = DOC_CREDS;
    store.now = new Date('2013-05-24T00:03:00Z');
    const headers = {
      ...docHeaders,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      'content-length': '66824',
    };
    const good = await rawRequest('PUT', '/examplebucket/chunkObject.txt', headers, docBody(docSignatures, ''));
    expect(good.status).toBe(200);
    expect(lastOutcome().sha256).toBe(sha256(docData));

    const swapped = await rawRequest(
      'PUT',
      '/examplebucket/chunkObject.txt',
      headers,
      docBody([docSignatures[1]!, docSignatures[0]!, docSignatures[2]!], ''),
    );
    expect([swapped.status, swapped.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('decodes the AWS documentation example with a signed crc32c trailer', async () => {
    store.creds = DOC_CREDS;
    store.now = new Date('2013-05-24T00:03:00Z');
    const trailer =
      'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n';
    const body = docBody(docTrailerSignatures, trailer);
    const headers = {
      ...docHeaders,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer, Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
      'content-length': String(body.length),
    };
    expect((await rawRequest('PUT', '/examplebucket/chunkObject.txt', headers, body)).status).toBe(200);
    expect(lastOutcome().checksums).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });

    const forged = docBody(docTrailerSignatures, trailer.replace('sOO8/Q==', 'AAAAAA=='));
    const forgedResponse = await rawRequest('PUT', '/examplebucket/chunkObject.txt', headers, forged);
    expect([forgedResponse.status, forgedResponse.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(9000)];
  const all = Buffer.concat(chunks);

  it('accepts a good body and rejects tampered data, signatures and framing', async () => {
    const good = await sendSignedChunks({ chunks });
    expect(good.response.status).toBe(200);
    expect(good.outcome.sha256).toBe(sha256(all));

    const flip = (body: Buffer): Buffer => {
      const copy = Buffer.from(body);
      copy[70_000] = copy[70_000]! ^ 1;
      return copy;
    };
    expect((await sendSignedChunks({ chunks, mutate: flip })).outcome.error?.code).toBe('SignatureDoesNotMatch');

    const lastSignature = (body: Buffer): Buffer => {
      const text = body.toString('latin1');
      const at = text.lastIndexOf('chunk-signature=') + 'chunk-signature='.length;
      return Buffer.concat([body.subarray(0, at), Buffer.from('0'.repeat(64)), body.subarray(at + 64)]);
    };
    expect((await sendSignedChunks({ chunks, mutate: lastSignature })).outcome.error?.code).toBe(
      'SignatureDoesNotMatch',
    );

    const unsigned = (body: Buffer): Buffer =>
      Buffer.from(body.toString('latin1').replace(/;chunk-signature=[0-9a-f]{64}/, ''), 'latin1');
    expect((await sendSignedChunks({ chunks, mutate: unsigned })).outcome.error?.code).toBe('InvalidRequest');

    const truncated = (body: Buffer): Buffer => body.subarray(0, body.length - 90);
    expect((await sendSignedChunks({ chunks, mutate: truncated })).outcome.error?.code).toBe('IncompleteBody');

    expect((await sendSignedChunks({ chunks, decodedLength: all.length + 1 })).outcome.error?.code).toBe(
      'IncompleteBody',
    );
    expect((await sendSignedChunks({ chunks, decodedLength: all.length - 1 })).outcome.error?.code).toBe(
      'InvalidRequest',
    );

    const longLine = (body: Buffer): Buffer => Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 1, 'f'), body]);
    expect((await sendSignedChunks({ chunks, mutate: longLine })).outcome.error?.code).toBe('InvalidRequest');
  });

  it('verifies the signed trailer and its checksum', async () => {
    const value = crc32Base64(all);
    const good = await sendSignedChunks({ chunks, trailer: { name: 'x-amz-checksum-crc32', value } });
    expect(good.response.status).toBe(200);
    expect(good.outcome.checksums).toEqual({ 'x-amz-checksum-crc32': value });

    const wrongSum = await sendSignedChunks({ chunks, trailer: { name: 'x-amz-checksum-crc32', value: 'AAAAAA==' } });
    expect(wrongSum.outcome.error?.code).toBe('BadDigest');

    const forged = (body: Buffer): Buffer =>
      Buffer.from(body.toString('latin1').replace(`crc32:${value}`, 'crc32:AAAAAA=='), 'latin1');
    expect(
      (await sendSignedChunks({ chunks, trailer: { name: 'x-amz-checksum-crc32', value }, mutate: forged })).outcome
        .error?.code,
    ).toBe('SignatureDoesNotMatch');

    const noSignature = (body: Buffer): Buffer =>
      Buffer.from(body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
    expect(
      (await sendSignedChunks({ chunks, trailer: { name: 'x-amz-checksum-crc32', value }, mutate: noSignature }))
        .outcome.error?.code,
    ).toBe('SignatureDoesNotMatch');
  });

  it('verifies unsigned chunks with a hand-made trailer', async () => {
    const send = async (body: Buffer, trailer: string): Promise<Outcome> => {
      const signed = handSign({
        method: 'PUT',
        path: `/${BUCKET}/unsigned-chunks`,
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-trailer': trailer,
          'x-amz-decoded-content-length': String(all.length),
        },
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      });
      await rawRequest('PUT', signed.target, { ...signed.headers, 'transfer-encoding': 'chunked' }, body);
      return settledOutcome();
    };
    const crc = await checksumOf('x-amz-checksum-crc32c', all);
    const good = await send(
      unsignedChunks(chunks, { name: 'x-amz-checksum-crc32c', value: crc.toString('base64') }),
      'x-amz-checksum-crc32c',
    );
    expect(good.sha256).toBe(sha256(all));
    expect(good.checksums).toEqual({ 'x-amz-checksum-crc32c': crc.toString('base64') });

    const undeclared = await send(
      unsignedChunks(chunks, { name: 'x-amz-checksum-crc32', value: crc32Base64(all) }),
      'x-amz-checksum-crc32c',
    );
    expect(undeclared.error?.code).toBe('InvalidRequest');
    const invalid = await send(
      unsignedChunks(chunks, { name: 'x-amz-checksum-crc32c', value: 'not base64!' }),
      'x-amz-checksum-crc32c',
    );
    expect(invalid.error?.code).toBe('InvalidRequest');
  });
});

describe('crc32c', () => {
  it('matches the CRC-32C check value', async () => {
    expect((await checksumOf('x-amz-checksum-crc32c', Buffer.from('123456789'))).readUInt32BE(0)).toBe(0xe3069283);
    expect((await checksumOf('x-amz-checksum-crc32c', Buffer.from('1234'), Buffer.from('56789'))).readUInt32BE(0)).toBe(
      0xe3069283,
    );
  });
});

const BOTO3_SCRIPT = `
import hashlib, io, json, sys, urllib.request
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

cfg = json.loads(sys.argv[1])
def make(secret):
    return boto3.client('s3', endpoint_url=cfg['endpoint'], region_name='sa-east-1',
        aws_access_key_id=cfg['key'], aws_secret_access_key=secret,
        config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
s3 = make(cfg['secret'])
out = {'puts': {}, 'presignedGet': [], 'presignedPut': {}}
for key in cfg['keys']:
    body = ('boto3 ' + key).encode()
    s3.put_object(Bucket='bucket', Key=key, Body=body, Metadata={'note': 'a b'})
    out['puts'][key] = hashlib.sha256(body).hexdigest()
    s3.get_object(Bucket='bucket', Key=key)['Body'].read()
    url = s3.generate_presigned_url('get_object', Params={'Bucket': 'bucket', 'Key': key}, ExpiresIn=300)
    out['presignedGet'].append(urllib.request.urlopen(url).status)
    url = s3.generate_presigned_url('put_object', Params={'Bucket': 'bucket', 'Key': key}, ExpiresIn=300)
    body = ('presigned boto3 ' + key).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=body, method='PUT')).read()
    out['presignedPut'][key] = hashlib.sha256(body).hexdigest()
big = bytes(range(256)) * 8192
s3.put_object(Bucket='bucket', Key='boto3/big', Body=io.BytesIO(big))
out['big'] = hashlib.sha256(big).hexdigest()
out['listPrefix'] = s3.list_objects_v2(Bucket='bucket', Prefix='a/b', StartAfter='a/b ü+%=&')['Prefix']
s3.delete_objects(Bucket='bucket', Delete={'Objects': [{'Key': k} for k in cfg['keys']]})
try:
    make('wrong secret').put_object(Bucket='bucket', Key='x', Body=b'x')
except ClientError as e:
    out['wrongSecret'] = e.response['Error']['Code']
print(json.dumps(out))
`;

describe('boto3', () => {
  it('signs headers and presigned URLs the module accepts', async () => {
    store.region = 'sa-east-1';
    const { stdout } = await execFileAsync(
      'python3',
      [
        '-c',
        BOTO3_SCRIPT,
        JSON.stringify({ endpoint, key: CREDS.accessKeyId, secret: CREDS.secretAccessKey, keys: KEYS }),
      ],
      { timeout: 20_000 },
    );
    const result = JSON.parse(stdout) as {
      puts: Record<string, string>;
      presignedGet: number[];
      presignedPut: Record<string, string>;
      big: string;
      listPrefix: string;
      wrongSecret: string;
    };
    const errors = store.outcomes.filter((outcome) => outcome.error);
    expect(errors.map((outcome) => outcome.error?.code)).toEqual(['SignatureDoesNotMatch']);
    const received = new Map<string, string[]>();
    for (const outcome of store.outcomes) {
      if (outcome.method !== 'PUT' || !outcome.sha256) continue;
      const key = decodedKey(outcome.target);
      received.set(key, [...(received.get(key) ?? []), outcome.sha256]);
    }
    for (const key of KEYS) {
      expect(received.get(key)).toEqual([result.puts[key], result.presignedPut[key]]);
    }
    expect(received.get('boto3/big')).toEqual([result.big]);
    expect(result.presignedGet).toEqual(KEYS.map(() => 200));
    expect(result.listPrefix).toBe('a/b');
    expect(result.wrongSecret).toBe('SignatureDoesNotMatch');
    const presigned = store.outcomes.filter((outcome) => outcome.verified?.presigned);
    expect(presigned).toHaveLength(KEYS.length * 2);
    const deleted = store.outcomes.find((outcome) => outcome.target.includes('?delete'));
    expect(Object.keys(deleted?.checksums ?? {})).toHaveLength(1);
  });
});

describe('the signer helpers agree with @smithy/signature-v4', () => {
  it('hand signatures equal SDK signatures for the same request', async () => {
    const date = new Date();
    const signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: CREDS,
      sha256: Sha256,
      uriEscapePath: false,
    });
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path: `/${BUCKET}/a%20b`,
      query: { prefix: 'a/b c' },
      headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': sha256('') },
    });
    const sdk = await signer.sign(request, { signingDate: date });
    const hand = handSign({
      method: 'GET',
      path: `/${BUCKET}/a%20b`,
      query: [['prefix', 'a/b c']],
      headers: {},
      payloadHash: sha256(''),
      date,
    });
    expect(sdk.headers.authorization).toBe(hand.headers.authorization);
  });
});
