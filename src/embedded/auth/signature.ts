/**
 * The SigV4 signature itself, shared by both ways of sending it (sigv4.ts):
 * the credential scope, the signed headers, the timestamp, and the
 * signature computed over the canonical request and compared.
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
import type { StoreCredentials } from '../credentials.js';
import { S3Error } from '../errors.js';
import type { RequestTarget } from '../http/target.js';

/** The region the store answers for unless told otherwise, as S3's global endpoint. */
export const DEFAULT_REGION = 'us-east-1';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 's3';
const TERMINATOR = 'aws4_request';
/** A sha256 payload hash or a signature. */
export const HEX_256 = /^[0-9a-fA-F]{64}$/;
const ISO_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** What the signature covers of the request target: the path as sent and the decoded query. */
export type SignedTarget = Pick<RequestTarget, 'path' | 'query'>;

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

export function malformed(scheme: Scheme, detail: string): S3Error {
  return scheme === 'header'
    ? new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`)
    : new S3Error('AuthorizationQueryParametersError', detail);
}

export function unsupportedMechanism(): S3Error {
  return new S3Error(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  );
}

function signatureDoesNotMatch(): S3Error {
  return new S3Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
}

function credentialPrefix(scheme: Scheme): string {
  return scheme === 'header' ? 'the Credential is mal-formed; ' : 'Error parsing the X-Amz-Credential parameter; ';
}

export function parseCredential(value: string, scheme: Scheme): Credential {
  const prefix = credentialPrefix(scheme);
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((part) => part === '')) {
    throw malformed(scheme, `${prefix}expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date))
    throw malformed(
      scheme,
      `${prefix}incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`,
    );
  if (service !== SERVICE)
    throw malformed(scheme, `${prefix}incorrect service "${service}". This endpoint belongs to "${SERVICE}".`);
  if (terminator !== TERMINATOR)
    throw malformed(scheme, `${prefix}incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`);
  return { accessKeyId, date, region };
}

/** S3 serves one region per endpoint and names it in the error, so that clients can re-sign. */
export function checkRegion(credential: Credential, region: string, scheme: Scheme): void {
  if (credential.region === region) return;
  const detail = `the region '${credential.region}' is wrong; expecting '${region}'`;
  throw scheme === 'header'
    ? new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, {
        Region: region,
      })
    : new S3Error('AuthorizationQueryParametersError', `${credentialPrefix(scheme)}${detail}`, { Region: region });
}

export function parseSignedHeaders(value: string, scheme: Scheme): string[] {
  const names = value.split(';');
  if (names.some((name) => !HEADER_NAME.test(name))) {
    throw malformed(scheme, 'the SignedHeaders list must be lower-case header names separated by ";".');
  }
  if (!names.includes('host')) throw malformed(scheme, 'the SignedHeaders list must include "host".');
  return names;
}

/** 20130524T000000Z as a Date, or undefined when it is not a valid timestamp. */
export function parseIsoBasic(value: string): Date | undefined {
  const match = ISO_BASIC.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60
    ? date
    : undefined;
}

export function toIsoBasic(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKey(secretAccessKey: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), SERVICE), TERMINATOR);
}

/** A POST policy's signature: the HMAC of the base64 policy document with the credential's signing key. */
export function policySignature(secretAccessKey: string, credential: Credential, policy: string): Buffer {
  return hmac(signingKey(secretAccessKey, credential.date, credential.region), policy);
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

export function checkUnsignedAmzHeaders(req: IncomingMessage, signed: ReadonlySet<string>): void {
  const unsigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') && !signed.has(name));
  if (unsigned.length > 0) {
    throw new S3Error(
      'AccessDenied',
      `There were headers present in the request which were not signed: ${unsigned.sort().join(', ')}`,
    );
  }
}

/** Rebuilds the canonical request, computes the signature and compares it in constant time. Returns the signing key. */
export function checkSignature(
  req: IncomingMessage,
  target: SignedTarget,
  creds: StoreCredentials,
  input: SignatureInput,
): Buffer {
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
  const stringToSign = [
    ALGORITHM,
    longDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const key = signingKey(creds.secretAccessKey, input.credential.date, input.credential.region);
  const expected = hmac(key, stringToSign);
  if (!HEX_256.test(input.signature) || !timingSafeEqual(expected, Buffer.from(input.signature, 'hex'))) {
    throw signatureDoesNotMatch();
  }
  return key;
}

export function checkAccessKey(credential: Credential, creds: StoreCredentials): void {
  if (credential.accessKeyId !== creds.accessKeyId) {
    throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
}
