/**
 * The embedded store's S3 REST API over node:http, path-style (`/bucket/key`).
 *
 * The request target is parsed once (target.ts) and that result is both
 * routed and verified. Every request but a CORS preflight is authenticated
 * by `verifyRequest` (auth.ts) before anything else happens, and every
 * request body is read through `requestBody`, which removes aws-chunked
 * framing and verifies signatures and checksums. With `Expect: 100-continue` the interim 100 is
 * sent only once the request has been authenticated and checked (bucket,
 * key, upload), right before its body is read.
 *
 * CORS: a bucket without a CORS configuration answers as if it had
 * DEFAULT_CORS_RULE (any origin, every method and header, ETag and the other
 * useful headers exposed), so browsers can use presigned URLs against a fresh
 * `npm start` without set-up; GetBucketCors still answers
 * NoSuchCORSConfiguration for it. AWS instead refuses such preflights (403).
 * Once a bucket has rules, they apply as S3 applies them. Nothing is
 * reachable without a signature or a presigned URL either way. CORS is
 * answered before authentication, so a missing bucket answers as a bucket
 * without rules: a preflight must not tell which buckets exist.
 *
 * Logging: one debug line per request (id, operation, method, bucket, key,
 * status, duration); never headers, query strings or signatures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  DEFAULT_REGION,
  headerValue,
  requestBody,
  S3AuthError,
  verifyRequest,
  type StoreCredentials,
  type VerifiedRequest,
} from './auth.js';
import {
  errors,
  etagMatches,
  isValidBucketName,
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_USER_METADATA_BYTES,
  S3Error,
  userMetadataBytes,
  validateKey,
  type CopySource,
  type CorsRule,
  type ListItem,
  type ObjectHeaders,
  type ObjectMeta,
  type Storage,
  type WriteConditions,
} from './storage.js';
import { parseTarget } from './target.js';
import {
  corsConfigurationXml,
  CORS_METHODS,
  errorXml,
  parseCompleteMultipartUpload,
  parseCorsConfiguration,
  parseCreateBucketConfiguration,
  parseDelete,
  renderXml,
  urlEncodeKey,
  type XmlElement,
} from './xml.js';

const DEFAULT_CORS_RULE: CorsRule = {
  allowedOrigins: ['*'],
  allowedMethods: [...CORS_METHODS],
  allowedHeaders: ['*'],
  exposeHeaders: [
    'ETag',
    'Content-Range',
    'Content-Disposition',
    'Content-Encoding',
    'Accept-Ranges',
    'x-amz-request-id',
    'x-amz-id-2',
    'x-amz-version-id',
    'x-amz-mp-parts-count',
    'x-amz-checksum-crc32',
    'x-amz-checksum-crc32c',
    'x-amz-checksum-crc64nvme',
    'x-amz-checksum-sha1',
    'x-amz-checksum-sha256',
  ],
  maxAgeSeconds: 3000,
};

const MAX_LIST = 1000;
const MAX_BUCKETS_PAGE = 10_000;
/** Request documents: CreateBucketConfiguration and CORS are small; 1000 keys or 10000 parts are not. */
const SMALL_DOC_LIMIT = 64 * 1024;
const DELETE_DOC_LIMIT = 4 * 1024 * 1024;
const COMPLETE_DOC_LIMIT = 8 * 1024 * 1024;
const IO_HIGH_WATER_MARK = 1024 * 1024;

/** Sub-resources S3 has and this store does not implement: NotImplemented rather than a wrong answer. */
const UNSUPPORTED = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'logging',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'versioning',
  'versions',
  'website',
]);

/** What an error answer keeps of the headers a handler may already have set. */
const KEPT_ON_ERROR = new Set(['x-amz-request-id', 'x-amz-id-2', 'server', 'vary', 'connection']);

const CHECKSUM_HEADER = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

/** How long the store waits on a client; see DEFAULT_TIMEOUTS. */
export interface StoreTimeouts {
  /** For a request's headers, from its first byte. */
  headersMs: number;
  /**
   * For the next byte while the store waits on the client mid-request (a
   * stalled upload or a download nobody reads). An inactivity limit, not a
   * cap on the request: a large upload may take hours as long as it moves.
   */
  idleMs: number;
  /** For the next request on an idle keep-alive connection. */
  keepAliveMs: number;
}

/** Node's own headers and keep-alive limits, and a minute of silence mid-request. */
const DEFAULT_TIMEOUTS: StoreTimeouts = { headersMs: 60_000, idleMs: 60_000, keepAliveMs: 5_000 };

export interface S3ServerOptions {
  storage: Storage;
  credentials: StoreCredentials;
  /** The only region signatures may name; default DEFAULT_REGION. */
  region?: string;
  timeouts?: Partial<StoreTimeouts>;
  logger?: Logger;
}

export interface S3Server {
  server: Server;
  /** Waits for the requests in flight (call after closing their connections). */
  drain(): Promise<void>;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  method: string;
  query: URLSearchParams;
  bucket?: string;
  key?: string;
  verified?: VerifiedRequest;
  expectContinue: boolean;
  continued: boolean;
  bodyStarted: boolean;
  op: string;
}

type Handler = (ctx: Ctx) => Promise<void>;

/** Creates the HTTP server (not yet listening). */
export function createS3Server(options: S3ServerOptions): S3Server {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const api = new S3Api(options, timeouts.idleMs);
  const inFlight = new Set<Promise<void>>();
  // No requestTimeout: it caps a whole request, and uploads of many GiB are
  // legitimately long. Slow clients are cut off by the headers timeout
  // (checked every quarter of it) and the socket inactivity timeout instead.
  const server = createServer({
    highWaterMark: IO_HIGH_WATER_MARK,
    requestTimeout: 0,
    headersTimeout: timeouts.headersMs,
    connectionsCheckingInterval: Math.min(30_000, Math.ceil(timeouts.headersMs / 4)),
  });
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.timeout = timeouts.idleMs;
  const accept = (expectContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const task = api.handle(req, res, expectContinue);
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  };
  server.on('request', accept(false));
  server.on('checkContinue', accept(true));
  return {
    server,
    async drain() {
      await Promise.allSettled([...inFlight]);
    },
  };
}

function quoted(etag: string): string {
  return `"${etag}"`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Header text for arbitrary strings: UTF-8 bytes as latin1 characters; control characters refused. */
function headerText(value: string, name: string): string {
  if (/[\0-\x08\n-\x1f\x7f]/.test(value)) throw errors.invalidArgument(`Invalid value for ${name}`, name, '');
  return /[^\0-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

function parseIntParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  const value = Number(raw.trim());
  if (value < min) throw errors.invalidArgument(`Argument ${name} must be an integer between ${min} and ${max}`, name, raw);
  return Math.min(value, max);
}

function encodingType(query: URLSearchParams): boolean {
  const value = query.get('encoding-type');
  if (value === null) return false;
  if (value.toLowerCase() !== 'url') throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', value);
  return true;
}

function encodeToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const value = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(value) !== token) {
    throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  }
  return value;
}

/** bytes=a-b, bytes=a-, bytes=-n as an inclusive range; undefined to ignore the header (absent or not one valid range). */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1) };
}

/**
 * RFC 7232 / S3 conditional request evaluation. If-Match wins over
 * If-Unmodified-Since, If-None-Match over If-Modified-Since. Returns
 * 'not-modified' (304 for reads), throws PreconditionFailed.
 */
function evaluateConditions(
  get: (name: string) => string | undefined,
  meta: ObjectMeta,
  prefix = '',
): 'ok' | 'not-modified' {
  const lastModified = Math.floor(meta.lastModified / 1000) * 1000;
  const ifMatch = get(`${prefix}if-match`);
  const ifNoneMatch = get(`${prefix}if-none-match`);
  const ifModifiedSince = get(`${prefix}if-modified-since`);
  const ifUnmodifiedSince = get(`${prefix}if-unmodified-since`);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) throw errors.preconditionFailed(`${prefix}If-Match`);
  } else if (ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(since) && lastModified > since) throw errors.preconditionFailed(`${prefix}If-Unmodified-Since`);
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) return 'not-modified';
  } else if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (!Number.isNaN(since) && lastModified <= since) return 'not-modified';
  }
  return 'ok';
}

function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

function corsRuleFor(rules: CorsRule[], origin: string, method: string, requestHeaders: string[]): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), h))),
  );
}

function setCorsOrigin(res: ServerResponse, rule: CorsRule, origin: string): void {
  const any = rule.allowedOrigins.includes('*');
  res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
  if (!any) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (rule.exposeHeaders.length > 0) res.setHeader('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '));
  res.setHeader('Vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}

class S3Api {
  private readonly storage: Storage;
  private readonly credentials: StoreCredentials;
  private readonly region: string;
  private readonly idleMs: number;
  private readonly logger: Logger | undefined;
  private readonly owner: XmlElement;

  constructor(options: S3ServerOptions, idleMs: number) {
    this.storage = options.storage;
    this.credentials = options.credentials;
    this.region = options.region ?? DEFAULT_REGION;
    this.idleMs = idleMs;
    this.logger = options.logger;
    this.owner = {
      ID: createHash('sha256').update(options.credentials.accessKeyId).digest('hex'),
      DisplayName: 'embedded',
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const started = process.hrtime.bigint();
    const ctx: Ctx = {
      req,
      res,
      requestId: randomBytes(8).toString('hex').toUpperCase(),
      method: req.method ?? 'GET',
      query: new URLSearchParams(),
      expectContinue,
      continued: false,
      bodyStarted: false,
      op: 'Unknown',
    };
    res.setHeader('x-amz-request-id', ctx.requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    res.setHeader('Server', 'EmbeddedS3');
    try {
      await this.dispatch(ctx);
    } catch (err) {
      this.sendError(ctx, err);
    } finally {
      this.logger?.debug(
        {
          requestId: ctx.requestId,
          op: ctx.op,
          method: ctx.method,
          bucket: ctx.bucket,
          key: ctx.key,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        's3 request',
      );
    }
  }

  private async dispatch(ctx: Ctx): Promise<void> {
    // One parse, read by both the router and the signature check.
    const target = parseTarget(ctx.req.url ?? '/');
    ctx.query = target.query;
    if (target.bucket !== undefined) ctx.bucket = target.bucket;
    if (target.key !== undefined) ctx.key = target.key;

    if (ctx.method === 'OPTIONS') {
      ctx.op = 'PreflightRequest';
      this.preflight(ctx);
      return;
    }
    this.applyCors(ctx);
    const [op, handler] = this.route(ctx);
    ctx.op = op;
    ctx.verified = verifyRequest(ctx.req, target, this.credentials, { region: this.region });
    await handler.call(this, ctx);
  }

  private route(ctx: Ctx): [string, Handler] {
    const { method, query } = ctx;
    for (const name of query.keys()) {
      if (UNSUPPORTED.has(name)) return ['NotImplemented', this.notImplemented];
    }
    if (ctx.bucket === undefined) {
      if (method === 'GET') return ['ListBuckets', this.listBuckets];
      return ['MethodNotAllowed', this.methodNotAllowed];
    }
    const copy = ctx.req.headers['x-amz-copy-source'] !== undefined;
    if (ctx.key === undefined) {
      switch (method) {
        case 'GET':
          if (query.has('location')) return ['GetBucketLocation', this.getBucketLocation];
          if (query.has('cors')) return ['GetBucketCors', this.getBucketCors];
          if (query.has('uploads')) return ['ListMultipartUploads', this.listMultipartUploads];
          if (query.get('list-type') === '2') return ['ListObjectsV2', this.listObjectsV2];
          if (query.has('list-type')) return ['InvalidArgument', this.invalidListType];
          return ['ListObjects', this.listObjectsV1];
        case 'HEAD':
          return ['HeadBucket', this.headBucket];
        case 'PUT':
          if (query.has('cors')) return ['PutBucketCors', this.putBucketCors];
          return ['CreateBucket', this.createBucket];
        case 'DELETE':
          if (query.has('cors')) return ['DeleteBucketCors', this.deleteBucketCors];
          return ['DeleteBucket', this.deleteBucket];
        case 'POST':
          if (query.has('delete')) return ['DeleteObjects', this.deleteObjects];
          return ['NotImplemented', this.notImplemented];
        default:
          return ['MethodNotAllowed', this.methodNotAllowed];
      }
    }
    switch (method) {
      case 'GET':
        if (query.has('uploadId')) return ['ListParts', this.listParts];
        return ['GetObject', this.getObject];
      case 'HEAD':
        return ['HeadObject', this.getObject];
      case 'PUT':
        if (query.has('uploadId') || query.has('partNumber')) {
          return copy ? ['UploadPartCopy', this.uploadPartCopy] : ['UploadPart', this.uploadPart];
        }
        return copy ? ['CopyObject', this.copyObject] : ['PutObject', this.putObject];
      case 'DELETE':
        if (query.has('uploadId')) return ['AbortMultipartUpload', this.abortMultipartUpload];
        return ['DeleteObject', this.deleteObject];
      case 'POST':
        if (query.has('uploads')) return ['CreateMultipartUpload', this.createMultipartUpload];
        if (query.has('uploadId')) return ['CompleteMultipartUpload', this.completeMultipartUpload];
        return ['MethodNotAllowed', this.methodNotAllowed];
      default:
        return ['MethodNotAllowed', this.methodNotAllowed];
    }
  }

  /* ------------------------------------------------------------ plumbing -- */

  private send(ctx: Ctx, status: number, body?: string, headers: Record<string, string> = {}): void {
    const { res } = ctx;
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (body === undefined || ctx.method === 'HEAD') {
      if (status !== 204 && status !== 304) res.setHeader('Content-Length', body === undefined ? '0' : Buffer.byteLength(body));
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/xml');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }

  private sendXml(ctx: Ctx, root: string, body: XmlElement, headers: Record<string, string> = {}): void {
    this.send(ctx, 200, renderXml(root, body), headers);
  }

  private sendError(ctx: Ctx, err: unknown): void {
    const { req, res } = ctx;
    let error: S3Error;
    if (err instanceof S3Error) error = err;
    else if (err instanceof S3AuthError) error = new S3Error(err.code, err.message, err.status, err.details);
    else {
      if (isClientGone(err, req)) {
        res.destroy();
        return;
      }
      this.logger?.error({ err, requestId: ctx.requestId, op: ctx.op }, 'embedded store: internal error');
      error = errors.internal();
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body nobody read is drained by node after the answer (the client may
    // still be sending it, and reads the answer once done). A client waiting
    // for 100 Continue will not send it, and a body abandoned half-way cannot
    // be resynchronised: those connections close.
    if (!req.complete && hasBody(req) && ((ctx.expectContinue && !ctx.continued) || ctx.bodyStarted)) {
      res.setHeader('Connection', 'close');
    }
    for (const name of res.getHeaderNames()) {
      if (!KEPT_ON_ERROR.has(name) && !name.startsWith('access-control-')) res.removeHeader(name);
    }
    if (error.code === 'InvalidRange' && error.details.ActualObjectSize !== undefined) {
      res.setHeader('Content-Range', `bytes */${error.details.ActualObjectSize}`);
    }
    const resource = `/${ctx.bucket ?? ''}${ctx.key === undefined ? '' : `/${ctx.key}`}`;
    this.send(ctx, error.status, errorXml(error.code, error.message, resource, ctx.requestId, error.details));
  }

  /** The decoded request body; sends 100 Continue first when the client waits for it. */
  private body(ctx: Ctx) {
    if (ctx.expectContinue && !ctx.continued) {
      ctx.res.writeContinue();
      ctx.continued = true;
    }
    ctx.bodyStarted = true;
    const body = requestBody(ctx.req, ctx.verified!);
    // A small body can end (and fail its checks) before its consumer attaches,
    // e.g. while the temp file opens: keep the error on the stream, where
    // pipeline and for-await find it, instead of letting it go uncaught.
    body.on('error', () => undefined);
    return body;
  }

  private async readDocument(ctx: Ctx, limit: number): Promise<Buffer> {
    const tooBig = () => new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', 400);
    const declared = declaredLength(ctx.req);
    if (declared !== undefined && declared > limit) throw tooBig();
    const body = this.body(ctx);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.destroy();
        throw tooBig();
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Store work that neither reads nor writes the connection (copying,
   * assembling parts) can outlast the idle timeout, which is there for
   * silent clients: it is off while the store works.
   */
  private async storeWork<T>(ctx: Ctx, work: () => Promise<T>): Promise<T> {
    const { socket } = ctx.req;
    socket.setTimeout(0);
    try {
      return await work();
    } finally {
      if (!socket.destroyed) socket.setTimeout(this.idleMs);
    }
  }

  private requireBucket(ctx: Ctx): string {
    this.storage.headBucket(ctx.bucket!);
    return ctx.bucket!;
  }

  private objectHeaders(ctx: Ctx): ObjectHeaders {
    const { req } = ctx;
    const headers: ObjectHeaders = {
      contentType: headerValue(req, 'content-type') || 'binary/octet-stream',
      metadata: {},
    };
    const encoding = headerValue(req, 'content-encoding')
      ?.split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked')
      .join(',');
    if (encoding) headers.contentEncoding = encoding;
    const disposition = headerValue(req, 'content-disposition');
    if (disposition !== undefined) headers.contentDisposition = disposition;
    const language = headerValue(req, 'content-language');
    if (language !== undefined) headers.contentLanguage = language;
    const cacheControl = headerValue(req, 'cache-control');
    if (cacheControl !== undefined) headers.cacheControl = cacheControl;
    const expires = headerValue(req, 'expires');
    if (expires !== undefined) headers.expires = expires;
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith('x-amz-meta-') && name.length > 'x-amz-meta-'.length) {
        headers.metadata[name.slice('x-amz-meta-'.length)] = headerValue(req, name)!;
      }
    }
    if (userMetadataBytes(headers.metadata) > MAX_USER_METADATA_BYTES) {
      throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', 400, {
        MaxSizeAllowed: String(MAX_USER_METADATA_BYTES),
      });
    }
    return headers;
  }

  private contentMd5(ctx: Ctx): Buffer | undefined {
    const value = headerValue(ctx.req, 'content-md5');
    if (value === undefined) return undefined;
    const digest = Buffer.from(value.trim(), 'base64');
    if (digest.length !== 16 || digest.toString('base64') !== value.trim()) {
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.', 400);
    }
    return digest;
  }

  private writeConditions(ctx: Ctx): WriteConditions | undefined {
    const ifMatch = headerValue(ctx.req, 'if-match');
    const ifNoneMatch = headerValue(ctx.req, 'if-none-match');
    if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', 501, {
        Header: 'If-None-Match',
      });
    }
    return {
      ...(ifMatch !== undefined ? { ifMatch } : {}),
      ...(ifNoneMatch !== undefined ? { ifNoneMatch: '*' } : {}),
    };
  }

  /** Checks the declared size of an upload before its body is read. */
  private checkDeclaredSize(ctx: Ctx, max: number): number | undefined {
    const declared = declaredLength(ctx.req);
    if (declared !== undefined && declared > max) throw errors.entityTooLarge(max);
    return declared;
  }

  private checkVersionId(ctx: Ctx): void {
    const versionId = ctx.query.get('versionId');
    if (versionId !== null && versionId !== 'null') {
      throw errors.invalidArgument('Invalid version id specified', 'versionId', versionId);
    }
  }

  private setChecksumHeaders(ctx: Ctx, checksums: Record<string, string>): void {
    for (const [name, value] of Object.entries(checksums)) {
      if (CHECKSUM_HEADER.test(name)) ctx.res.setHeader(name, value);
    }
  }

  /* ----------------------------------------------------------------- CORS -- */

  /**
   * A missing bucket answers as a bucket without rules: CORS is evaluated
   * before authentication, and must not tell anyone which buckets exist.
   */
  private corsRules(bucket: string): CorsRule[] {
    return (this.storage.hasBucket(bucket) ? this.storage.getBucketCors(bucket) : undefined) ?? [DEFAULT_CORS_RULE];
  }

  private applyCors(ctx: Ctx): void {
    const origin = headerValue(ctx.req, 'origin');
    if (origin === undefined || ctx.bucket === undefined) return;
    const rule = corsRuleFor(this.corsRules(ctx.bucket), origin, ctx.method, []);
    if (rule) setCorsOrigin(ctx.res, rule, origin);
  }

  private preflight(ctx: Ctx): void {
    const origin = headerValue(ctx.req, 'origin');
    const method = headerValue(ctx.req, 'access-control-request-method');
    if (origin === undefined || method === undefined) {
      throw new S3Error(
        'BadRequest',
        'Insufficient information. Origin request header and Access-Control-Request-Method needed.',
        400,
      );
    }
    if (ctx.bucket === undefined) {
      throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this endpoint.', 403);
    }
    const rules = this.corsRules(ctx.bucket);
    const requested = (headerValue(ctx.req, 'access-control-request-headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    const rule = corsRuleFor(rules, origin, method, requested);
    if (!rule) {
      throw new S3Error(
        'AccessForbidden',
        'CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.',
        403,
        { Method: method, ResourceType: ctx.key === undefined ? 'BUCKET' : 'OBJECT' },
      );
    }
    setCorsOrigin(ctx.res, rule, origin);
    ctx.res.setHeader('Access-Control-Allow-Methods', rule.allowedMethods.join(', '));
    if (requested.length > 0) ctx.res.setHeader('Access-Control-Allow-Headers', requested.join(', '));
    if (rule.maxAgeSeconds !== undefined) ctx.res.setHeader('Access-Control-Max-Age', String(rule.maxAgeSeconds));
    this.send(ctx, 200);
  }

  /* ------------------------------------------------------------- generic -- */

  private async notImplemented(): Promise<void> {
    throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', 501);
  }

  private async methodNotAllowed(ctx: Ctx): Promise<void> {
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, {
      Method: ctx.method,
      ResourceType: ctx.bucket === undefined ? 'SERVICE' : ctx.key === undefined ? 'BUCKET' : 'OBJECT',
    });
  }

  private async invalidListType(ctx: Ctx): Promise<void> {
    throw errors.invalidArgument('Invalid List Type specified in Request', 'list-type', ctx.query.get('list-type') ?? '');
  }

  /* ------------------------------------------------------------- buckets -- */

  private async listBuckets(ctx: Ctx): Promise<void> {
    const prefix = ctx.query.get('prefix') ?? '';
    const max = parseIntParam(ctx.query, 'max-buckets', MAX_BUCKETS_PAGE, 1, MAX_BUCKETS_PAGE);
    const token = ctx.query.get('continuation-token');
    const after = token === null ? undefined : decodeToken(token);
    const all = this.storage.listBuckets().filter((b) => b.name.startsWith(prefix) && (after === undefined || b.name > after));
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    this.sendXml(ctx, 'ListAllMyBucketsResult', {
      Owner: this.owner,
      Buckets: {
        Bucket: page.map((b) => ({
          Name: b.name,
          CreationDate: b.creationDate.toISOString(),
          BucketRegion: b.locationConstraint ?? this.region,
        })),
      },
      ContinuationToken: truncated ? encodeToken(page[page.length - 1]!.name) : undefined,
      Prefix: ctx.query.has('prefix') ? prefix : undefined,
    });
  }

  private async createBucket(ctx: Ctx): Promise<void> {
    const bucket = ctx.bucket!;
    if (!isValidBucketName(bucket)) {
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: bucket });
    }
    const config = parseCreateBucketConfiguration(await this.readDocument(ctx, SMALL_DOC_LIMIT));
    await this.storage.createBucket(bucket, config.locationConstraint);
    this.send(ctx, 200, undefined, { Location: `/${bucket}` });
  }

  private async headBucket(ctx: Ctx): Promise<void> {
    const info = this.storage.headBucket(ctx.bucket!);
    this.send(ctx, 200, undefined, { 'x-amz-bucket-region': info.locationConstraint ?? this.region });
  }

  private async deleteBucket(ctx: Ctx): Promise<void> {
    await this.storage.deleteBucket(ctx.bucket!);
    this.send(ctx, 204);
  }

  private async getBucketLocation(ctx: Ctx): Promise<void> {
    const info = this.storage.headBucket(ctx.bucket!);
    // A bucket in us-east-1 has the empty constraint, as on S3.
    const location = info.locationConstraint ?? (this.region === DEFAULT_REGION ? '' : this.region);
    this.sendXml(ctx, 'LocationConstraint', { '#text': location });
  }

  private async getBucketCors(ctx: Ctx): Promise<void> {
    const rules = this.storage.getBucketCors(ctx.bucket!);
    if (!rules) {
      throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist', 404, { BucketName: ctx.bucket! });
    }
    this.send(ctx, 200, corsConfigurationXml(rules));
  }

  private async putBucketCors(ctx: Ctx): Promise<void> {
    this.requireBucket(ctx);
    this.requireIntegrityHeader(ctx);
    const rules = parseCorsConfiguration(await this.readDocument(ctx, SMALL_DOC_LIMIT));
    await this.storage.putBucketCors(ctx.bucket!, rules);
    this.send(ctx, 200);
  }

  private async deleteBucketCors(ctx: Ctx): Promise<void> {
    await this.storage.putBucketCors(ctx.bucket!, undefined);
    this.send(ctx, 204);
  }

  /** DeleteObjects and PutBucketCors need Content-MD5 or a flexible checksum (header or trailer). */
  private requireIntegrityHeader(ctx: Ctx): void {
    const { headers } = ctx.req;
    const trailer = headerValue(ctx.req, 'x-amz-trailer') ?? '';
    const present =
      headers['content-md5'] !== undefined ||
      Object.keys(headers).some((name) => CHECKSUM_HEADER.test(name)) ||
      trailer.split(',').some((name) => CHECKSUM_HEADER.test(name.trim().toLowerCase()));
    if (!present) {
      throw errors.invalidRequest('Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
    }
  }

  /* ------------------------------------------------------------- listing -- */

  private contents(item: Extract<ListItem, { type: 'object' }>, encode: (s: string) => string, owner: boolean): XmlElement {
    const { entry } = item;
    return {
      Key: encode(entry.key),
      LastModified: isoDate(entry.lastModified),
      ETag: quoted(entry.etag),
      Size: entry.size,
      ...(owner ? { Owner: this.owner } : {}),
      StorageClass: 'STANDARD',
    };
  }

  private listParams(ctx: Ctx) {
    const encode = encodingType(ctx.query);
    return {
      prefix: ctx.query.get('prefix') ?? '',
      delimiter: ctx.query.get('delimiter') ?? '',
      maxKeys: parseIntParam(ctx.query, 'max-keys', MAX_LIST, 0, MAX_LIST),
      encoded: encode,
      encode: encode ? urlEncodeKey : (s: string) => s,
    };
  }

  private async listObjectsV2(ctx: Ctx): Promise<void> {
    const { prefix, delimiter, maxKeys, encoded, encode } = this.listParams(ctx);
    const token = ctx.query.get('continuation-token');
    const startAfter = ctx.query.get('start-after');
    const after = token !== null ? decodeToken(token) : (startAfter ?? undefined);
    const page = await this.storage.listObjects(this.requireBucket(ctx), {
      prefix,
      delimiter,
      maxKeys,
      ...(after !== undefined ? { after } : {}),
    });
    const last = page.items[page.items.length - 1];
    const owner = ctx.query.get('fetch-owner') === 'true';
    this.sendXml(ctx, 'ListBucketResult', {
      Name: ctx.bucket!,
      Prefix: encode(prefix),
      Delimiter: delimiter === '' ? undefined : encode(delimiter),
      MaxKeys: maxKeys,
      EncodingType: encoded ? 'url' : undefined,
      KeyCount: page.items.length,
      IsTruncated: page.truncated,
      ContinuationToken: token ?? undefined,
      NextContinuationToken:
        page.truncated && last ? encodeToken(last.type === 'object' ? last.entry.key : last.prefix) : undefined,
      StartAfter: startAfter === null ? undefined : encode(startAfter),
      Contents: page.items.flatMap((i) => (i.type === 'object' ? [this.contents(i, encode, owner)] : [])),
      CommonPrefixes: page.items.flatMap((i) => (i.type === 'prefix' ? [{ Prefix: encode(i.prefix) }] : [])),
    });
  }

  private async listObjectsV1(ctx: Ctx): Promise<void> {
    const { prefix, delimiter, maxKeys, encoded, encode } = this.listParams(ctx);
    const marker = ctx.query.get('marker') ?? '';
    const page = await this.storage.listObjects(this.requireBucket(ctx), {
      prefix,
      delimiter,
      maxKeys,
      ...(marker !== '' ? { after: marker } : {}),
    });
    const last = page.items[page.items.length - 1];
    this.sendXml(ctx, 'ListBucketResult', {
      Name: ctx.bucket!,
      Prefix: encode(prefix),
      Marker: encode(marker),
      NextMarker:
        page.truncated && delimiter !== '' && last ? encode(last.type === 'object' ? last.entry.key : last.prefix) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : encode(delimiter),
      EncodingType: encoded ? 'url' : undefined,
      IsTruncated: page.truncated,
      Contents: page.items.flatMap((i) => (i.type === 'object' ? [this.contents(i, encode, true)] : [])),
      CommonPrefixes: page.items.flatMap((i) => (i.type === 'prefix' ? [{ Prefix: encode(i.prefix) }] : [])),
    });
  }

  private async deleteObjects(ctx: Ctx): Promise<void> {
    this.requireBucket(ctx);
    this.requireIntegrityHeader(ctx);
    const request = parseDelete(await this.readDocument(ctx, DELETE_DOC_LIMIT));
    const plain = request.objects.filter((o) => o.versionId === undefined || o.versionId === 'null');
    const results = await this.storage.deleteObjects(
      ctx.bucket!,
      plain.map((o) => o.key),
    );
    const failed = new Map(results.filter((r) => r.error).map((r) => [r.key, r.error!]));
    const deleted: XmlElement[] = [];
    const errorsOut: XmlElement[] = [];
    for (const object of request.objects) {
      const error =
        object.versionId !== undefined && object.versionId !== 'null'
          ? errors.invalidArgument('Invalid version id specified')
          : failed.get(object.key);
      if (error) {
        errorsOut.push({ Key: object.key, VersionId: object.versionId, Code: error.code, Message: error.message });
      } else if (!request.quiet) {
        deleted.push({ Key: object.key, VersionId: object.versionId });
      }
    }
    this.sendXml(ctx, 'DeleteResult', { Deleted: deleted, Error: errorsOut });
  }

  /* ------------------------------------------------------------- objects -- */

  private async putObject(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const key = ctx.key!;
    validateKey(key);
    const headers = this.objectHeaders(ctx);
    const contentMd5 = this.contentMd5(ctx);
    const conditions = this.writeConditions(ctx);
    const expectedSize = this.checkDeclaredSize(ctx, MAX_OBJECT_SIZE);
    const body = this.body(ctx);
    const meta = await this.storage.putObject(bucket, key, body, headers, {
      ...(contentMd5 ? { contentMd5 } : {}),
      ...(expectedSize !== undefined ? { expectedSize } : {}),
      ...(conditions ? { conditions } : {}),
      checksums: () => pickChecksums(body.checksums),
    });
    this.setChecksumHeaders(ctx, meta.checksums ?? {});
    this.send(ctx, 200, undefined, { ETag: quoted(meta.etag) });
  }

  private async getObject(ctx: Ctx): Promise<void> {
    const { req, res, query } = ctx;
    const bucket = this.requireBucket(ctx);
    this.checkVersionId(ctx);
    const partParam = query.get('partNumber');
    const rangeHeader = headerValue(req, 'range');
    if (partParam !== null && rangeHeader !== undefined) {
      throw errors.invalidRequest('Cannot specify both Range header and partNumber query parameter');
    }
    const overrides: Array<[string, string]> = [];
    for (const [param, name] of [
      ['response-content-type', 'Content-Type'],
      ['response-content-language', 'Content-Language'],
      ['response-expires', 'Expires'],
      ['response-cache-control', 'Cache-Control'],
      ['response-content-disposition', 'Content-Disposition'],
      ['response-content-encoding', 'Content-Encoding'],
    ] as const) {
      const value = query.get(param);
      if (value !== null) overrides.push([name, headerText(value, param)]);
    }
    const object = await this.storage.openObject(bucket, ctx.key!);
    let streaming = false;
    try {
      const { meta } = object;
      if (evaluateConditions((name) => headerValue(req, name), meta) === 'not-modified') {
        this.send(ctx, 304, undefined, { ETag: quoted(meta.etag), 'Last-Modified': httpDate(meta.lastModified) });
        return;
      }
      let range: { start: number; end: number } | undefined;
      let partsCount: number | undefined;
      if (partParam !== null) {
        const partNumber = parseIntParam(query, 'partNumber', 1, 1, 10_000);
        const sizes = meta.partSizes ?? [meta.size];
        if (partNumber > sizes.length) {
          throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', 416, {
            PartNumberRequested: String(partNumber),
            ActualPartCount: String(sizes.length),
          });
        }
        const start = sizes.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
        range = { start, end: start + sizes[partNumber - 1]! - 1 };
        if (meta.partSizes) partsCount = meta.partSizes.length;
      } else {
        const parsed = parseRange(rangeHeader, meta.size);
        if (parsed === 'unsatisfiable') {
          throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, {
            RangeRequested: rangeHeader ?? '',
            ActualObjectSize: String(meta.size),
          });
        }
        range = parsed;
      }
      res.statusCode = range ? 206 : 200;
      res.setHeader('Content-Type', meta.contentType);
      if (meta.contentEncoding !== undefined) res.setHeader('Content-Encoding', meta.contentEncoding);
      if (meta.contentDisposition !== undefined) res.setHeader('Content-Disposition', meta.contentDisposition);
      if (meta.contentLanguage !== undefined) res.setHeader('Content-Language', meta.contentLanguage);
      if (meta.cacheControl !== undefined) res.setHeader('Cache-Control', meta.cacheControl);
      if (meta.expires !== undefined) res.setHeader('Expires', meta.expires);
      for (const [name, value] of Object.entries(meta.metadata)) res.setHeader(`x-amz-meta-${name}`, value);
      for (const [name, value] of overrides) res.setHeader(name, value);
      res.setHeader('ETag', quoted(meta.etag));
      res.setHeader('Last-Modified', httpDate(meta.lastModified));
      res.setHeader('Accept-Ranges', 'bytes');
      if (partsCount !== undefined) res.setHeader('x-amz-mp-parts-count', String(partsCount));
      if (!range && headerValue(req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && meta.checksums) {
        this.setChecksumHeaders(ctx, meta.checksums);
        res.setHeader('x-amz-checksum-type', 'FULL_OBJECT');
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? meta.size - 1;
      if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${meta.size}`);
      res.setHeader('Content-Length', String(end - start + 1));
      if (ctx.method === 'HEAD') {
        res.end();
        return;
      }
      streaming = true;
      await object.writeTo(res, start, end);
    } finally {
      if (!streaming) await object.close();
    }
  }

  private async deleteObject(ctx: Ctx): Promise<void> {
    this.checkVersionId(ctx);
    await this.storage.deleteObject(this.requireBucket(ctx), ctx.key!);
    this.send(ctx, 204);
  }

  /** x-amz-copy-source: `[/]bucket/key[?versionId=...]`, URL-encoded. */
  private copySource(ctx: Ctx, range: boolean): CopySource {
    const raw = headerValue(ctx.req, 'x-amz-copy-source')!;
    const q = raw.indexOf('?');
    const path = (q === -1 ? raw : raw.slice(0, q)).replace(/^\//, '');
    if (q !== -1) {
      const versionId = new URLSearchParams(raw.slice(q + 1)).get('versionId');
      if (versionId !== null && versionId !== 'null') {
        throw errors.invalidArgument('Invalid version id specified', 'x-amz-copy-source', raw);
      }
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      throw errors.invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
    }
    const slash = decoded.indexOf('/');
    if (slash <= 0 || slash === decoded.length - 1) {
      throw errors.invalidArgument('Invalid copy source object key', 'x-amz-copy-source', raw);
    }
    const source: CopySource = {
      bucket: decoded.slice(0, slash),
      key: decoded.slice(slash + 1),
      check: (meta) => {
        if (evaluateConditions((name) => headerValue(ctx.req, name), meta, 'x-amz-copy-source-') === 'not-modified') {
          throw errors.preconditionFailed('x-amz-copy-source-If-None-Match');
        }
      },
    };
    if (!this.storage.hasBucket(source.bucket)) throw errors.noSuchBucket(source.bucket);
    if (range) {
      const value = headerValue(ctx.req, 'x-amz-copy-source-range');
      if (value !== undefined) {
        const match = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
        if (!match || Number(match[2]) < Number(match[1])) {
          throw errors.invalidArgument(
            'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
            'x-amz-copy-source-range',
            value,
          );
        }
        source.range = { start: Number(match[1]), end: Number(match[2]) };
      }
    }
    return source;
  }

  private async copyObject(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const key = ctx.key!;
    validateKey(key);
    const source = this.copySource(ctx, false);
    const directive = (headerValue(ctx.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') {
      throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
    }
    if (source.bucket === bucket && source.key === key && directive !== 'REPLACE') {
      throw errors.invalidRequest(
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const headers = directive === 'REPLACE' ? this.objectHeaders(ctx) : undefined;
    const meta = await this.storeWork(ctx, () => this.storage.copyObject(source, bucket, key, headers));
    this.sendXml(ctx, 'CopyObjectResult', { LastModified: isoDate(meta.lastModified), ETag: quoted(meta.etag) });
  }

  /* ----------------------------------------------------------- multipart -- */

  private async createMultipartUpload(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const upload = await this.storage.createMultipartUpload(bucket, ctx.key!, this.objectHeaders(ctx));
    this.sendXml(ctx, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: upload.key, UploadId: upload.uploadId });
  }

  private partTarget(ctx: Ctx): { bucket: string; uploadId: string; partNumber: number } {
    const bucket = this.requireBucket(ctx);
    const uploadId = ctx.query.get('uploadId');
    const part = ctx.query.get('partNumber');
    if (uploadId === null || part === null) {
      throw errors.invalidRequest('UploadPart needs both the uploadId and the partNumber query parameters');
    }
    if (!/^\d{1,5}$/.test(part) || Number(part) < 1 || Number(part) > 10_000) {
      throw errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', part);
    }
    this.storage.assertUpload(bucket, ctx.key!, uploadId);
    return { bucket, uploadId, partNumber: Number(part) };
  }

  private async uploadPart(ctx: Ctx): Promise<void> {
    const { bucket, uploadId, partNumber } = this.partTarget(ctx);
    const contentMd5 = this.contentMd5(ctx);
    const expectedSize = this.checkDeclaredSize(ctx, MAX_PART_SIZE);
    const body = this.body(ctx);
    const part = await this.storage.uploadPart(bucket, ctx.key!, uploadId, partNumber, body, {
      ...(contentMd5 ? { contentMd5 } : {}),
      ...(expectedSize !== undefined ? { expectedSize } : {}),
    });
    this.setChecksumHeaders(ctx, body.checksums);
    this.send(ctx, 200, undefined, { ETag: quoted(part.etag) });
  }

  private async uploadPartCopy(ctx: Ctx): Promise<void> {
    const { bucket, uploadId, partNumber } = this.partTarget(ctx);
    const source = this.copySource(ctx, true);
    const part = await this.storeWork(ctx, () => this.storage.uploadPartCopy(bucket, ctx.key!, uploadId, partNumber, source));
    this.sendXml(ctx, 'CopyPartResult', { LastModified: isoDate(part.lastModified), ETag: quoted(part.etag) });
  }

  private async listParts(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const uploadId = ctx.query.get('uploadId')!;
    const maxParts = parseIntParam(ctx.query, 'max-parts', MAX_LIST, 0, MAX_LIST);
    const marker = parseIntParam(ctx.query, 'part-number-marker', 0, 0, 10_000);
    const page = await this.storage.listParts(bucket, ctx.key!, uploadId, { partNumberMarker: marker, maxParts });
    this.sendXml(ctx, 'ListPartsResult', {
      Bucket: bucket,
      Key: ctx.key!,
      UploadId: uploadId,
      Initiator: this.owner,
      Owner: this.owner,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.nextPartNumberMarker,
      MaxParts: maxParts,
      IsTruncated: page.truncated,
      Part: page.parts.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: isoDate(p.lastModified),
        ETag: quoted(p.etag),
        Size: p.size,
      })),
    });
  }

  private async listMultipartUploads(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const encoded = encodingType(ctx.query);
    const encode = encoded ? urlEncodeKey : (s: string) => s;
    const prefix = ctx.query.get('prefix') ?? '';
    const delimiter = ctx.query.get('delimiter') ?? '';
    const keyMarker = ctx.query.get('key-marker') ?? '';
    const uploadIdMarker = ctx.query.get('upload-id-marker') ?? '';
    const maxUploads = parseIntParam(ctx.query, 'max-uploads', MAX_LIST, 0, MAX_LIST);
    const page = this.storage.listMultipartUploads(bucket, {
      prefix,
      delimiter,
      maxUploads,
      ...(keyMarker !== '' ? { keyMarker } : {}),
      ...(keyMarker !== '' && uploadIdMarker !== '' ? { uploadIdMarker } : {}),
    });
    this.sendXml(ctx, 'ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: encode(keyMarker),
      UploadIdMarker: uploadIdMarker,
      NextKeyMarker: page.nextKeyMarker === undefined ? undefined : encode(page.nextKeyMarker),
      NextUploadIdMarker: page.nextUploadIdMarker,
      Delimiter: delimiter === '' ? undefined : encode(delimiter),
      Prefix: encode(prefix),
      EncodingType: encoded ? 'url' : undefined,
      MaxUploads: maxUploads,
      IsTruncated: page.truncated,
      Upload: page.uploads.map((u) => ({
        Key: encode(u.key),
        UploadId: u.uploadId,
        Initiator: this.owner,
        Owner: this.owner,
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.initiated),
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
    });
  }

  private async completeMultipartUpload(ctx: Ctx): Promise<void> {
    const bucket = this.requireBucket(ctx);
    const key = ctx.key!;
    const uploadId = ctx.query.get('uploadId')!;
    this.storage.assertUpload(bucket, key, uploadId);
    const conditions = this.writeConditions(ctx);
    const parts = parseCompleteMultipartUpload(await this.readDocument(ctx, COMPLETE_DOC_LIMIT));
    const meta = await this.storeWork(ctx, () => this.storage.completeMultipartUpload(bucket, key, uploadId, parts, conditions));
    const host = headerValue(ctx.req, 'host') ?? 'localhost';
    const location = `http://${host}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    this.sendXml(ctx, 'CompleteMultipartUploadResult', {
      Location: location,
      Bucket: bucket,
      Key: key,
      ETag: quoted(meta.etag),
    });
  }

  private async abortMultipartUpload(ctx: Ctx): Promise<void> {
    await this.storage.abortMultipartUpload(this.requireBucket(ctx), ctx.key!, ctx.query.get('uploadId')!);
    this.send(ctx, 204);
  }
}

/** The flexible checksums a verified body carried (Content-MD5 excluded: it is not returned as a checksum). */
function pickChecksums(checksums: Record<string, string>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(checksums)) if (CHECKSUM_HEADER.test(name)) picked[name] = value;
  return picked;
}

function hasBody(req: IncomingMessage): boolean {
  const length = headerValue(req, 'content-length');
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

/** The payload length the client announced: x-amz-decoded-content-length for aws-chunked, else Content-Length. */
function declaredLength(req: IncomingMessage): number | undefined {
  const decoded = headerValue(req, 'x-amz-decoded-content-length');
  const sha = headerValue(req, 'x-amz-content-sha256') ?? '';
  const raw = sha.startsWith('STREAMING-') ? decoded : headerValue(req, 'content-length');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

function isClientGone(err: unknown, req: IncomingMessage): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    req.socket.destroyed
  );
}
