import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { Logger } from 'pino';
import { authorizeOperation } from '../../security/access.js';
import type { Caller } from '../../security/auth.js';
import { AppError, badInput } from '../../core/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { GetOptions, GetResult, ObjectHead, Store } from '../../s3/store.js';
import { bucketName, objectKey } from '../../core/validation.js';
import type { Admission } from '../admission.js';
import { keepVary, sendError, statusOf } from '../respond.js';

export const OBJECTS_PREFIX = '/objects/';

/**
 * Headers of every object answer: the browser must not guess a type (an
 * uploaded HTML file must not run as a page of this origin), and a page
 * served from here gets no scripts and an origin of its own.
 */
export const SAFETY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
} as const;

/**
 * The bucket and key of `/objects/{bucket}/{key...}`: every segment is
 * percent-decoded on its own, so a key may hold `/` (as a separator or as
 * `%2F`), `+` (a literal plus), `%` (as `%25`), spaces and any Unicode.
 */
export function parseObjectPath(pathname: string): { bucket: string; key: string } {
  const rest = pathname.slice(OBJECTS_PREFIX.length);
  const slash = rest.indexOf('/');
  const rawBucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawKey = slash === -1 ? '' : rest.slice(slash + 1);
  const decode = (segment: string, argument: string) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw badInput(argument, 'is not validly percent-encoded UTF-8');
    }
  };
  const bucket = bucketName(decode(rawBucket, 'bucket'), 'bucket');
  if (rawKey === '') throw badInput('key', 'is missing: the path is /objects/{bucket}/{key}');
  const key = objectKey(
    rawKey
      .split('/')
      .map((segment) => decode(segment, 'key'))
      .join('/'),
    'key',
  );
  return { bucket, key };
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

/** A single `bytes=` range (S3 serves one range per request); anything else is ignored, as HTTP allows. */
export function singleRange(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first !== '' && last !== '' && BigInt(first) > BigInt(last)) return undefined;
  return `bytes=${first}-${last}`;
}

/** An HTTP date, or undefined when the header is missing or not a date (then it is ignored). */
function httpDate(header: string | undefined): Date | undefined {
  if (header === undefined) return undefined;
  const time = Date.parse(header);
  return Number.isNaN(time) ? undefined : new Date(time);
}

const opaqueTag = (tag: string) => tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/** Does an If-Match / If-None-Match list name `etag` (weak comparison; `*` matches any)? */
function listMatches(header: string, etag: string): boolean {
  return header.split(',').some((tag) => tag.trim() === '*' || opaqueTag(tag) === etag);
}

/**
 * The answer the conditional headers ask for given the object's current
 * state (RFC 9110, section 13.2.2): 412, 304, or undefined to serve it.
 */
export function preconditionStatus(
  headers: IncomingMessage['headers'],
  etag: string,
  lastModified: Date | undefined,
): 304 | 412 | undefined {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const ifMatch = headers['if-match'];
  const ifUnmodifiedSince = httpDate(headers['if-unmodified-since']);
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, etag)) return 412;
  } else if (ifUnmodifiedSince && lastModified && seconds(lastModified) > seconds(ifUnmodifiedSince)) {
    return 412;
  }
  const ifNoneMatch = headers['if-none-match'];
  const ifModifiedSince = httpDate(headers['if-modified-since']);
  if (ifNoneMatch !== undefined) {
    if (listMatches(ifNoneMatch, etag)) return 304;
  } else if (ifModifiedSince && lastModified && seconds(lastModified) <= seconds(ifModifiedSince)) {
    return 304;
  }
  return undefined;
}

/** RFC 6266 / 8187 `attachment` disposition with the key's last segment as the file name. */
export function attachmentDisposition(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1) || 'download';
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** Header values as the store gave them, dropped when they could not be sent as HTTP header text. */
const headerText = (value: string | undefined) =>
  value !== undefined && value !== '' && /^[\t\x20-\x7e]*$/.test(value) ? value : undefined;

interface Representation {
  etag?: string | undefined;
  lastModified?: Date | undefined;
  contentType?: string | undefined;
  contentLength?: number | undefined;
  cacheControl?: string | undefined;
  contentEncoding?: string | undefined;
  contentDisposition?: string | undefined;
}

function representationHeaders(
  r: Representation,
  key: string,
  download: boolean,
  privateAnswer: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {
    ...SAFETY_HEADERS,
    'accept-ranges': 'bytes',
    ...notModifiedHeaders(r, privateAnswer),
  };
  headers['content-type'] = headerText(r.contentType) ?? 'application/octet-stream';
  if (r.contentLength !== undefined) headers['content-length'] = String(r.contentLength);
  const contentEncoding = headerText(r.contentEncoding);
  if (contentEncoding) headers['content-encoding'] = contentEncoding;
  const disposition = download ? attachmentDisposition(key) : headerText(r.contentDisposition);
  if (disposition) headers['content-disposition'] = disposition;
  return headers;
}

/** Headers a 304 repeats (RFC 9110, section 15.4.5). */
function notModifiedHeaders(r: Representation, privateAnswer: boolean): Record<string, string> {
  const headers: Record<string, string> = { ...cacheHeaders(headerText(r.cacheControl), privateAnswer) };
  if (r.etag) headers.etag = `"${r.etag}"`;
  if (r.lastModified) headers['last-modified'] = r.lastModified.toUTCString();
  return headers;
}

/** Directives that let a shared cache keep an answer (or that only speak to shared caches); `private` is set anew. */
const SHARED_CACHE_DIRECTIVES = new Set(['public', 'private', 's-maxage', 'proxy-revalidate']);

/**
 * The caching headers of an object answer. Anyone allowed a PUT may store
 * any Cache-Control with an object (`public, max-age=31536000`), so with API
 * keys an answer is always `private` (a shared cache would give it to
 * anyone, RFC 9111 section 3.5) and varies by Authorization; the stored
 * directives for the browser's own cache (max-age, no-cache, ...) are kept.
 * Without keys every caller gets the same answer, and the stored value is
 * sent as it is.
 */
export function cacheHeaders(stored: string | undefined, privateAnswer: boolean): Record<string, string> {
  if (!privateAnswer) return stored === undefined ? {} : { 'cache-control': stored };
  // Split at commas outside quoted strings (`no-cache="a, b"` is one directive).
  const directives = (stored?.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? [])
    .map((directive) => directive.trim())
    .filter(
      (directive) => directive !== '' && !SHARED_CACHE_DIRECTIVES.has(directive.split('=')[0]!.trim().toLowerCase()),
    );
  return { 'cache-control': ['private', ...directives].join(', '), vary: 'Authorization' };
}

/**
 * An If-Range validator as a store precondition: a strong ETag becomes
 * If-Match, an HTTP date If-Unmodified-Since. A weak or malformed validator
 * can never match (RFC 9110, section 13.1.5): null, meaning "send it all".
 */
function ifRangeCondition(header: string): Pick<GetOptions, 'ifMatch' | 'ifUnmodifiedSince'> | null {
  const validator = header.trim();
  if (/^"[^"]*"$/.test(validator)) return { ifMatch: validator };
  const date = httpDate(validator);
  return date ? { ifUnmodifiedSince: date } : null;
}

/** Counts the bytes of a download into the metrics as they pass. */
class DownloadCounter extends Transform {
  constructor(private readonly metrics: Metrics) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.metrics.bytesDownloaded(chunk.length);
    callback(null, chunk);
  }
}

interface ObjectRouteDeps {
  store: Store;
  metrics: Metrics;
  /** API keys are configured: an answer is for its caller alone (see `cacheHeaders`). */
  privateAnswers: boolean;
}

/** Lifetime of the presigned GET a `?redirect=1` answer points to: long enough to follow, short enough not to share. */
export const REDIRECT_URL_SECONDS = 60;

const isOn = (value: string | null) => value === '1' || value === 'true';

/**
 * `GET …?redirect=1`: 307 to a presigned GET of the object, so the bytes come
 * from the store itself. The caller has been authorised like any download;
 * `?download=1` becomes the store's `response-content-disposition`, as the
 * streaming answer sets Content-Disposition. Range and conditional headers
 * go with the followed request to the store, which honours them itself.
 */
async function redirectToStore(
  res: ServerResponse,
  bucket: string,
  key: string,
  download: boolean,
  store: Store,
): Promise<void> {
  const { url } = await store.presignGet(bucket, key, REDIRECT_URL_SECONDS, {
    ...(download && { responseContentDisposition: attachmentDisposition(key) }),
  });
  res.writeHead(307, { location: url, 'cache-control': 'no-store', 'content-length': '0' }).end();
}

const preconditionFailed = () =>
  new AppError('BAD_USER_INPUT', 'A precondition (If-Match or If-Unmodified-Since) failed.', { httpStatus: 412 });

/**
 * `GET` / `HEAD /objects/{bucket}/{key}` for an authenticated caller with
 * `read` on the bucket: streams the object with its validators, honours a
 * single Range (206), If-None-Match / If-Modified-Since (304) and If-Match /
 * If-Unmodified-Since (412); `?download=1` asks the browser to save it;
 * `?redirect=1` on a GET answers 307 to a presigned GET instead (a HEAD
 * ignores it: the URL is signed for GET).
 * Throws AppError before the response starts; the caller answers those.
 */
async function serveObject(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  caller: Caller,
  deps: ObjectRouteDeps,
  log: Logger,
): Promise<void> {
  const { bucket, key } = parseObjectPath(path);
  authorizeOperation(caller, req.method === 'HEAD' ? 'HEAD /objects/{bucket}/{key}' : 'GET /objects/{bucket}/{key}', {
    bucket,
  });
  const download = isOn(query.get('download'));
  if (req.method !== 'HEAD' && isOn(query.get('redirect'))) {
    return redirectToStore(res, bucket, key, download, deps.store);
  }

  if (req.method === 'HEAD') {
    const head = await deps.store.headObject(bucket, key);
    if (!head)
      throw new AppError(
        'NO_SUCH_KEY',
        `object ${JSON.stringify(key)} in bucket ${JSON.stringify(bucket)} does not exist`,
      );
    const r = fromHead(head);
    const precondition = preconditionStatus(req.headers, r.etag ?? '', r.lastModified);
    if (precondition === 412) throw preconditionFailed();
    if (precondition === 304) {
      res.writeHead(304, keepVary(res, notModifiedHeaders(r, deps.privateAnswers))).end();
      return;
    }
    res.writeHead(200, keepVary(res, representationHeaders(r, key, download, deps.privateAnswers))).end();
    return;
  }

  const headers = req.headers;
  const conditions: GetOptions = {
    ifMatch: headers['if-match'],
    ifNoneMatch: headers['if-none-match'],
    ifUnmodifiedSince: headers['if-match'] === undefined ? httpDate(headers['if-unmodified-since']) : undefined,
    ifModifiedSince: headers['if-none-match'] === undefined ? httpDate(headers['if-modified-since']) : undefined,
  };
  // If-Range: the range only if the object is still the version the client has, else all of it.
  // It goes to the store as a precondition with the range; when that fails, the whole object is fetched.
  let range = singleRange(headers.range);
  let ifRange: Pick<GetOptions, 'ifMatch' | 'ifUnmodifiedSince'> | undefined;
  const ifRangeHeader = headerValue(headers['if-range']);
  if (
    range &&
    ifRangeHeader !== undefined &&
    conditions.ifMatch === undefined &&
    conditions.ifUnmodifiedSince === undefined
  ) {
    const condition = ifRangeCondition(ifRangeHeader);
    if (condition) ifRange = condition;
    else range = undefined;
  }
  let result: GetResult;
  try {
    try {
      result = await deps.store.getObject(bucket, key, { ...conditions, ...ifRange, range });
    } catch (err) {
      if (!(ifRange && err instanceof AppError && statusOf(err) === 412)) throw err;
      result = await deps.store.getObject(bucket, key, conditions);
    }
  } catch (err) {
    const size = err instanceof AppError && statusOf(err) === 416 ? err.extensions.objectSize : undefined;
    if (typeof size !== 'number') throw err;
    sendError(res, err, log, { 'content-range': `bytes */${size}` });
    return;
  }

  if (result.status === 304) {
    result.body?.destroy();
    res.writeHead(304, keepVary(res, notModifiedHeaders(result, deps.privateAnswers))).end();
    return;
  }
  const out = representationHeaders(result, key, download, deps.privateAnswers);
  if (result.status === 206 && result.contentRange) out['content-range'] = result.contentRange;
  res.writeHead(result.status, keepVary(res, out));
  if (!result.body) {
    res.end();
    return;
  }
  const downloadEnded = deps.metrics.downloadStarted();
  // Which side failed first decides how the failure is logged: the error the pipeline reports does not tell
  // (Node 24 reports the store stream's "aborted" after the pipeline destroys it for a departed client).
  const body = result.body;
  let storeFailed = false;
  body.once('error', () => (storeFailed = true));
  body.once('close', () => (storeFailed ||= !body.readableEnded));
  let clientGone = false;
  // One listener for both: a response already carries close listeners of the server, the drain and the pipeline.
  res.once('close', () => {
    downloadEnded();
    clientGone = !res.writableFinished && !storeFailed;
  });
  pipeline(body, new DownloadCounter(deps.metrics), res, (err) => {
    if (!err) return;
    if (clientGone) log.debug({ bucket, key }, 'client went away during a download');
    else log.warn({ bucket, key, err: { message: err.message } }, 'download stream failed');
  });
}

function fromHead(head: ObjectHead): Representation {
  return {
    etag: head.etag,
    lastModified: head.lastModified,
    contentType: head.contentType,
    contentLength: head.size,
    cacheControl: head.cacheControl,
    contentEncoding: head.contentEncoding,
    contentDisposition: head.contentDisposition,
  };
}

/**
 * The `/objects` route (GET and HEAD; the server answers other methods):
 * the request is authenticated and charged one to its client's rate limit
 * (`Admission`) before anything is read, then `serveObject` answers it
 * inside its store-call budget (a second GET after a failed If-Range is
 * charged when it ends).
 */
export async function objectsRoute(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
  deps: { store: Store; metrics: Metrics; admission: Admission },
  log: Logger,
): Promise<void> {
  const admitted = await deps.admission.admit(req, 'objects');
  const { identity } = admitted;
  if (identity.error) throw identity.error;
  const objectDeps = { store: deps.store, metrics: deps.metrics, privateAnswers: deps.admission.keyring.enabled };
  const caller = identity.caller;
  return admitted.budgeted(() => serveObject(req, res, path, new URLSearchParams(query), caller, objectDeps, log));
}
