/**
 * Request authentication of the embedded S3 store: AWS Signature Version 4 in
 * the Authorization header or in a presigned query string, as S3 checks it.
 *
 * The canonical request is built by @smithy/signature-v4 itself (the code the
 * SDK signs with), from an HttpRequest rebuilt out of the incoming request:
 * exactly the headers the client signed, the path as the client sent it (S3
 * does not encode it again: uriEscapePath false) and the query re-encoded per
 * RFC 3986. Only the HMAC chain is computed here, synchronously, with
 * node:crypto, and signatures are compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4, createScope, getCanonicalHeaders } from '@smithy/signature-v4';
import {
  RequestBody,
  S3AuthError,
  isVerifiableChecksum,
  parseHeaderChecksum,
  type BodyDecoderOptions,
  type ChunkSigning,
} from './chunked.js';
import type { RequestTarget } from './target.js';

export { S3AuthError } from './chunked.js';

/** The region the store answers for unless told otherwise, as S3's global endpoint. */
export const DEFAULT_REGION = 'us-east-1';

export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface VerifiedRequest {
  accessKeyId: string;
  presigned: boolean;
  /** x-amz-content-sha256 as sent (hex digest, 'UNSIGNED-PAYLOAD', 'STREAMING-...'), 'UNSIGNED-PAYLOAD' for presigned URLs unless the URL signs a hash. */
  payloadHash: string;
  /** Lower-case names of the headers the signature covers. */
  signedHeaders: string[];
}

export interface VerifyOptions {
  /** The current time (tests). */
  now?: Date;
  /** The only region a credential scope may name; default DEFAULT_REGION. */
  region?: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const TERMINATOR = 'aws4_request';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_SECONDS = 604_800;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const STREAMING_MODES = new Set([STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);
/** A sha256 payload hash or a signature. */
const HEX_256 = /^[0-9a-fA-F]{64}$/;
const ISO_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;

/** What the signature covers of the request target: the path as sent and the decoded query. */
type SignedTarget = Pick<RequestTarget, 'path' | 'query'>;

/** The chunk-signing context of each verified request; kept off the object so it never reaches a log. */
const chunkSigning = new WeakMap<VerifiedRequest, ChunkSigning>();

/** SignatureV4 exposes its canonical-request builder to subclasses only; S3 never re-encodes the path. */
class S3CanonicalRequest extends SignatureV4 {
  constructor() {
    super({
      service: SERVICE,
      region: DEFAULT_REGION,
      credentials: { accessKeyId: '', secretAccessKey: '' },
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  build(request: HttpRequest, signedHeaders: ReadonlySet<string>, payloadHash: string): string {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(signedHeaders));
    return this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
  }
}

const canonicalizer = new S3CanonicalRequest();

type Scheme = 'header' | 'query';

function malformed(scheme: Scheme, detail: string): S3AuthError {
  return scheme === 'header'
    ? new S3AuthError('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, 400)
    : new S3AuthError('AuthorizationQueryParametersError', detail, 400);
}

function unsupportedMechanism(): S3AuthError {
  return new S3AuthError(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    400,
  );
}

function signatureDoesNotMatch(): S3AuthError {
  return new S3AuthError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
  );
}

/** A request header as one string (repeated headers joined with commas, as HTTP allows). */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
}

function credentialPrefix(scheme: Scheme): string {
  return scheme === 'header' ? 'the Credential is mal-formed; ' : 'Error parsing the X-Amz-Credential parameter; ';
}

function parseCredential(value: string, scheme: Scheme): Credential {
  const prefix = credentialPrefix(scheme);
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((part) => part === '')) {
    throw malformed(scheme, `${prefix}expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date)) throw malformed(scheme, `${prefix}incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  if (service !== SERVICE) throw malformed(scheme, `${prefix}incorrect service "${service}". This endpoint belongs to "${SERVICE}".`);
  if (terminator !== TERMINATOR) throw malformed(scheme, `${prefix}incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`);
  return { accessKeyId, date, region };
}

/** S3 serves one region per endpoint and names it in the error, so that clients can re-sign. */
function checkRegion(credential: Credential, region: string, scheme: Scheme): void {
  if (credential.region === region) return;
  const detail = `the region '${credential.region}' is wrong; expecting '${region}'`;
  throw scheme === 'header'
    ? new S3AuthError('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, 400, { Region: region })
    : new S3AuthError('AuthorizationQueryParametersError', `${credentialPrefix(scheme)}${detail}`, 400, { Region: region });
}

function parseSignedHeaders(value: string, scheme: Scheme): string[] {
  const names = value.split(';');
  if (names.some((name) => !HEADER_NAME.test(name))) {
    throw malformed(scheme, 'the SignedHeaders list must be lower-case header names separated by ";".');
  }
  if (!names.includes('host')) throw malformed(scheme, 'the SignedHeaders list must include "host".');
  return names;
}

/** 20130524T000000Z as a Date, or undefined when it is not a valid timestamp. */
function parseIsoBasic(value: string): Date | undefined {
  const match = ISO_BASIC.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60
    ? date
    : undefined;
}

function toIsoBasic(date: Date): string {
  return date.toISOString().replace(/\.\d{3}/, '').replace(/[-:]/g, '');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKey(secretAccessKey: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), SERVICE), TERMINATOR);
}

function queryBag(query: URLSearchParams): Record<string, string | string[]> {
  const bag: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of query) {
    const existing = bag[key];
    if (existing === undefined) bag[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else bag[key] = [existing, value];
  }
  return bag;
}

interface SignatureInput {
  credential: Credential;
  signedHeaders: string[];
  signature: string;
  signedAt: Date;
  payloadHash: string;
}

function checkUnsignedAmzHeaders(req: IncomingMessage, signed: ReadonlySet<string>): void {
  const unsigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') && !signed.has(name));
  if (unsigned.length > 0) {
    throw new S3AuthError(
      'AccessDenied',
      `There were headers present in the request which were not signed: ${unsigned.sort().join(', ')}`,
      403,
    );
  }
}

/** Rebuilds the canonical request, computes the signature and compares it in constant time. Returns the signing key. */
function checkSignature(req: IncomingMessage, target: SignedTarget, creds: StoreCredentials, input: SignatureInput): Buffer {
  const signed = new Set(input.signedHeaders);
  const headers: Record<string, string> = Object.create(null);
  for (const name of signed) {
    const values = req.headersDistinct[name];
    if (values !== undefined) headers[name] = values.map((value) => value.trim()).join(',');
  }
  // getCanonicalQuery leaves X-Amz-Signature out itself.
  const request = new HttpRequest({
    method: req.method ?? 'GET',
    protocol: 'http:',
    hostname: headers.host ?? '',
    path: target.path,
    query: queryBag(target.query),
    headers,
  });
  const canonicalRequest = canonicalizer.build(request, signed, input.payloadHash);
  const longDate = toIsoBasic(input.signedAt);
  const scope = createScope(input.credential.date, input.credential.region, SERVICE);
  const stringToSign = [ALGORITHM, longDate, scope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  const key = signingKey(creds.secretAccessKey, input.credential.date, input.credential.region);
  const expected = hmac(key, stringToSign);
  if (!HEX_256.test(input.signature) || !timingSafeEqual(expected, Buffer.from(input.signature, 'hex'))) {
    throw signatureDoesNotMatch();
  }
  return key;
}

function checkAccessKey(credential: Credential, creds: StoreCredentials): void {
  if (credential.accessKeyId !== creds.accessKeyId) {
    throw new S3AuthError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
  }
}

function checkPayloadHash(value: string | undefined): string {
  if (value === undefined) {
    throw new S3AuthError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 400);
  }
  if (value === UNSIGNED_PAYLOAD || STREAMING_MODES.has(value) || HEX_256.test(value)) return value;
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) throw unsupportedMechanism();
  throw new S3AuthError(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    400,
  );
}

function checkStreamingHeaders(req: IncomingMessage, payloadHash: string): void {
  if (!STREAMING_MODES.has(payloadHash)) return;
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  if (decoded !== undefined && (!/^\d{1,16}$/.test(decoded) || !Number.isSafeInteger(Number(decoded)))) {
    throw new S3AuthError('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.', 400);
  }
  if (payloadHash === STREAMING_SIGNED) return;
  for (const name of trailerNames(req)) {
    if (!name.startsWith('x-amz-checksum-') && name !== 'content-md5') {
      throw new S3AuthError('InvalidRequest', `The trailing header ${name} is not supported; only checksums may trail.`, 400);
    }
  }
}

function trailerNames(req: IncomingMessage): string[] {
  const value = headerValue(req, 'x-amz-trailer');
  if (value === undefined) return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
}

function verifyHeaderAuth(
  req: IncomingMessage,
  target: SignedTarget,
  creds: StoreCredentials,
  authorization: string,
  now: Date,
  region: string,
): VerifiedRequest {
  const space = authorization.indexOf(' ');
  const algorithm = space === -1 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM) {
    if (algorithm === 'AWS' || algorithm === 'AWS4-ECDSA-P256-SHA256') throw unsupportedMechanism();
    throw new S3AuthError('InvalidArgument', 'Unsupported Authorization Type', 400);
  }
  const components = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw malformed('header', `the authorization component "${trimmed}" is malformed.`);
    const key = trimmed.slice(0, eq);
    if (components.has(key)) throw malformed('header', `the authorization component "${key}" appears twice.`);
    components.set(key, trimmed.slice(eq + 1));
  }
  const credentialValue = components.get('Credential');
  const signedHeadersValue = components.get('SignedHeaders');
  const signature = components.get('Signature');
  if (credentialValue === undefined || signedHeadersValue === undefined || signature === undefined) {
    throw malformed('header', 'the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const credential = parseCredential(credentialValue, 'header');
  checkRegion(credential, region, 'header');
  checkAccessKey(credential, creds);

  const amzDate = headerValue(req, 'x-amz-date');
  const dateHeader = headerValue(req, 'date');
  let signedAt: Date | undefined;
  if (amzDate !== undefined) signedAt = parseIsoBasic(amzDate);
  else if (dateHeader !== undefined) {
    const parsed = Date.parse(dateHeader);
    if (!Number.isNaN(parsed)) signedAt = new Date(Math.floor(parsed / 1000) * 1000);
  }
  if (signedAt === undefined) {
    throw new S3AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header', 403);
  }
  if (toIsoBasic(signedAt).slice(0, 8) !== credential.date) {
    throw malformed('header', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_SKEW_MS) {
    throw new S3AuthError('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403);
  }

  const signedHeaders = parseSignedHeaders(signedHeadersValue, 'header');
  checkUnsignedAmzHeaders(req, new Set(signedHeaders));
  const payloadHash = checkPayloadHash(headerValue(req, 'x-amz-content-sha256'));
  checkStreamingHeaders(req, payloadHash);

  const key = checkSignature(req, target, creds, { credential, signedHeaders, signature, signedAt, payloadHash });
  const verified: VerifiedRequest = {
    accessKeyId: credential.accessKeyId,
    presigned: false,
    payloadHash,
    signedHeaders,
  };
  if (payloadHash === STREAMING_SIGNED || payloadHash === STREAMING_SIGNED_TRAILER) {
    chunkSigning.set(verified, {
      signingKey: key,
      longDate: toIsoBasic(signedAt),
      scope: createScope(credential.date, credential.region, SERVICE),
      seedSignature: signature.toLowerCase(),
    });
  }
  return verified;
}

function verifyPresigned(req: IncomingMessage, target: SignedTarget, creds: StoreCredentials, now: Date, region: string): VerifiedRequest {
  const params = target.query;
  const algorithm = params.get('X-Amz-Algorithm');
  if (algorithm !== null && algorithm !== ALGORITHM) {
    throw malformed('query', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  if (PRESIGN_PARAMS.some((name) => params.getAll(name).length !== 1)) {
    throw malformed(
      'query',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(params.get('X-Amz-Credential')!, 'query');
  checkRegion(credential, region, 'query');
  checkAccessKey(credential, creds);

  const signedAt = parseIsoBasic(params.get('X-Amz-Date')!);
  if (signedAt === undefined) {
    throw malformed('query', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  }
  const expires = params.get('X-Amz-Expires')!;
  if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1) {
    throw malformed('query', 'X-Amz-Expires must be a positive integer number of seconds.');
  }
  if (Number(expires) > MAX_EXPIRES_SECONDS) {
    throw malformed('query', `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_EXPIRES_SECONDS}`);
  }
  if (toIsoBasic(signedAt).slice(0, 8) !== credential.date) {
    throw malformed('query', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  // A date up to MAX_SKEW_MS ahead is clock skew, but it must not stretch a
  // URL's life: the end of validity is never more than a week from now, so a
  // week-long URL dated ahead is not valid yet until its X-Amz-Date comes.
  const expiresAt = signedAt.getTime() + Number(expires) * 1000;
  if (signedAt.getTime() - now.getTime() > MAX_SKEW_MS || expiresAt - now.getTime() > MAX_EXPIRES_SECONDS * 1000) {
    throw new S3AuthError('AccessDenied', 'Request is not valid yet', 403);
  }
  if (now.getTime() > expiresAt) throw new S3AuthError('AccessDenied', 'Request has expired', 403);

  const signedHeaders = parseSignedHeaders(params.get('X-Amz-SignedHeaders')!, 'query');
  checkUnsignedAmzHeaders(req, new Set(signedHeaders));
  let payloadHash = UNSIGNED_PAYLOAD;
  for (const [key, value] of params) {
    if (key.toLowerCase() !== 'x-amz-content-sha256') continue;
    if (value !== UNSIGNED_PAYLOAD && !HEX_256.test(value)) {
      throw malformed('query', 'X-Amz-Content-Sha256 of a presigned URL must be UNSIGNED-PAYLOAD or a sha256 value.');
    }
    payloadHash = value;
  }

  checkSignature(req, target, creds, {
    credential,
    signedHeaders,
    signature: params.get('X-Amz-Signature')!,
    signedAt,
    payloadHash,
  });
  return {
    accessKeyId: credential.accessKeyId,
    presigned: true,
    payloadHash,
    signedHeaders,
  };
}

/**
 * Verifies SigV4 in the Authorization header or in a presigned query string. Throws S3AuthError.
 * `target` is the request target from parseTarget (target.ts), the very result the request is
 * then routed by: the signature is checked over exactly what will be acted on.
 */
export function verifyRequest(req: IncomingMessage, target: SignedTarget, creds: StoreCredentials, opts: VerifyOptions = {}): VerifiedRequest {
  const now = opts.now ?? new Date();
  const region = opts.region ?? DEFAULT_REGION;
  const authorization = headerValue(req, 'authorization');
  const params = target.query;
  const v4Query = params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential') || params.has('X-Amz-Signature');
  const v2Query = params.has('AWSAccessKeyId') && params.has('Signature');
  if (authorization !== undefined && (v4Query || v2Query)) {
    throw new S3AuthError(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      400,
    );
  }
  if (authorization !== undefined) return verifyHeaderAuth(req, target, creds, authorization.trim(), now, region);
  if (v4Query) return verifyPresigned(req, target, creds, now, region);
  if (v2Query) throw unsupportedMechanism();
  throw new S3AuthError('AccessDenied', 'Access Denied', 403);
}

/**
 * The request body as the client meant it: aws-chunked framing decoded
 * (STREAMING-AWS4-HMAC-SHA256-PAYLOAD with per-chunk signatures verified,
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER),
 * trailing and header x-amz-checksum-* (crc32, crc32c, crc64nvme, sha1, sha256,
 * sha512, md5) and Content-MD5 verified, a hex payload hash verified at the end
 * (XAmzContentSHA256Mismatch), x-amz-decoded-content-length checked. Errors are
 * emitted on the returned stream as S3AuthError; keep the data only once 'end'
 * has fired. Streams with bounded memory: backpressure respected, never the
 * whole body buffered, chunk-header and trailer lines at most MAX_LINE_BYTES.
 */
export function requestBody(req: IncomingMessage, verified: VerifiedRequest): RequestBody {
  const mode = verified.payloadHash;
  const streaming = STREAMING_MODES.has(mode);
  const signed = mode === STREAMING_SIGNED || mode === STREAMING_SIGNED_TRAILER;
  const signing = chunkSigning.get(verified);
  if (signed && !signing) {
    throw new TypeError('requestBody needs the very object verifyRequest returned for a request with signed chunks');
  }
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  const options: BodyDecoderOptions = {
    framing: streaming ? 'aws-chunked' : 'none',
    trailer: mode === STREAMING_SIGNED_TRAILER || mode === STREAMING_UNSIGNED_TRAILER,
    declaredTrailers: trailerNames(req),
    headerChecksums: [],
  };
  if (signed) options.signing = signing;
  if (streaming && decoded !== undefined) options.decodedLength = Number(decoded);
  if (HEX_256.test(mode)) options.expectedSha256 = mode;

  let early: S3AuthError | undefined;
  for (const name of Object.keys(req.headers)) {
    if (!isVerifiableChecksum(name)) continue;
    try {
      options.headerChecksums.push(parseHeaderChecksum(name, headerValue(req, name)!));
    } catch (error) {
      early = error as S3AuthError;
      break;
    }
  }

  const body = new RequestBody(options);
  if (early) {
    body.destroy(early);
    return body;
  }
  // A request that closes before its last byte (client gone, connection reset)
  // never ends the pipe: fail the body so the consumer discards what it has.
  const onClose = (): void => {
    if (!req.complete) body.destroy(new S3AuthError('IncompleteBody', 'The request body was cut off before its end.', 400));
  };
  req.on('close', onClose);
  body.once('close', () => req.off('close', onClose));
  req.pipe(body);
  return body;
}
