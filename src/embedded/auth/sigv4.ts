/**
 * Request authentication of the embedded S3 store: AWS Signature Version 4 in
 * the Authorization header or in a presigned query string, as S3 checks it.
 * The signature itself is computed and compared in signature.ts; the body it
 * announces (x-amz-content-sha256) is read by body.ts.
 */
import type { IncomingMessage } from 'node:http';
import { createScope } from '@smithy/signature-v4';
import { MAX_PRESIGN_EXPIRES_SECONDS } from '../../core/s3-rules.js';
import type { StoreCredentials } from '../credentials.js';
import { S3Error } from '../errors.js';
import { headerValue } from '../http/headers.js';
import type { ChunkSigning } from './chunked.js';
import {
  ALGORITHM,
  DEFAULT_REGION,
  HEX_256,
  SERVICE,
  checkAccessKey,
  checkRegion,
  checkSignature,
  checkUnsignedAmzHeaders,
  malformed,
  parseCredential,
  parseIsoBasic,
  parseSignedHeaders,
  toIsoBasic,
  unsupportedMechanism,
  type SignedTarget,
} from './signature.js';

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

const MAX_SKEW_MS = 15 * 60 * 1000;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const STREAMING_MODES = new Set([STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);
const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;

/** The chunk-signing context of each verified request; kept off the object so it never reaches a log. */
const chunkSigning = new WeakMap<VerifiedRequest, ChunkSigning>();

/** The chunk-signing context verifyRequest kept for this very object, if its chunks are signed. */
export function chunkSigningOf(verified: VerifiedRequest): ChunkSigning | undefined {
  return chunkSigning.get(verified);
}

function checkPayloadHash(value: string | undefined): string {
  if (value === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (value === UNSIGNED_PAYLOAD || STREAMING_MODES.has(value) || HEX_256.test(value)) return value;
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) throw unsupportedMechanism();
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
  );
}

function checkStreamingHeaders(req: IncomingMessage, payloadHash: string): void {
  if (!STREAMING_MODES.has(payloadHash)) return;
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  if (decoded !== undefined && (!/^\d{1,16}$/.test(decoded) || !Number.isSafeInteger(Number(decoded)))) {
    throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.');
  }
  if (payloadHash === STREAMING_SIGNED) return;
  for (const name of trailerNames(req)) {
    if (!name.startsWith('x-amz-checksum-') && name !== 'content-md5') {
      throw new S3Error('InvalidRequest', `The trailing header ${name} is not supported; only checksums may trail.`);
    }
  }
}

export function trailerNames(req: IncomingMessage): string[] {
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
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type');
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
    throw malformed(
      'header',
      'the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
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
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  if (toIsoBasic(signedAt).slice(0, 8) !== credential.date) {
    throw malformed('header', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_SKEW_MS) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
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

function verifyPresigned(
  req: IncomingMessage,
  target: SignedTarget,
  creds: StoreCredentials,
  now: Date,
  region: string,
): VerifiedRequest {
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
    throw malformed('query', "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  const expires = params.get('X-Amz-Expires')!;
  if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1) {
    throw malformed('query', 'X-Amz-Expires must be a positive integer number of seconds.');
  }
  if (Number(expires) > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw malformed(
      'query',
      `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_EXPIRES_SECONDS}`,
    );
  }
  if (toIsoBasic(signedAt).slice(0, 8) !== credential.date) {
    throw malformed('query', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  // A date up to MAX_SKEW_MS ahead is clock skew, but it must not stretch a
  // URL's life: the end of validity is never more than a week from now, so a
  // week-long URL dated ahead is not valid yet until its X-Amz-Date comes.
  const expiresAt = signedAt.getTime() + Number(expires) * 1000;
  if (
    signedAt.getTime() - now.getTime() > MAX_SKEW_MS ||
    expiresAt - now.getTime() > MAX_PRESIGN_EXPIRES_SECONDS * 1000
  ) {
    throw new S3Error('AccessDenied', 'Request is not valid yet');
  }
  if (now.getTime() > expiresAt) throw new S3Error('AccessDenied', 'Request has expired');

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
 * Verifies SigV4 in the Authorization header or in a presigned query string. Throws S3Error.
 * `target` is the request target from parseTarget (http/target.ts), the very result the request is
 * then routed by: the signature is checked over exactly what will be acted on.
 */
export function verifyRequest(
  req: IncomingMessage,
  target: SignedTarget,
  creds: StoreCredentials,
  opts: VerifyOptions = {},
): VerifiedRequest {
  const now = opts.now ?? new Date();
  const region = opts.region ?? DEFAULT_REGION;
  const authorization = headerValue(req, 'authorization');
  const params = target.query;
  const v4Query = params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential') || params.has('X-Amz-Signature');
  const v2Query = params.has('AWSAccessKeyId') && params.has('Signature');
  if (authorization !== undefined && (v4Query || v2Query)) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (authorization !== undefined) return verifyHeaderAuth(req, target, creds, authorization.trim(), now, region);
  if (v4Query) return verifyPresigned(req, target, creds, now, region);
  if (v2Query) throw unsupportedMechanism();
  throw new S3Error('AccessDenied', 'Access Denied');
}
