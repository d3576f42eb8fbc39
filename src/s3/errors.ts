import { AppError } from '../core/errors.js';

/**
 * Turns whatever a store call threw (an S3 service exception, a network or
 * timeout error from the HTTP handler, a deserialisation failure) into an
 * AppError carrying one of the contract's codes.
 *
 * Messages are written here, never copied from the store, so they reveal no
 * endpoint, credential, request id or stack; they only name the bucket, key
 * or upload id the caller gave. The original error stays as `cause` for the
 * server's log.
 *
 * A 400 whose code says an argument was refused (InvalidArgument,
 * InvalidRequest, KeyTooLongError, MetadataTooLarge, MinIO's
 * XMinioInvalidObjectName) and a 414 or 431 (a key, prefix or token too long
 * for the store's HTTP server) are the caller's: BAD_USER_INPUT, not logged as
 * faults. Any other 400 (a HEAD's 400 without a body, MalformedXML,
 * AuthorizationHeaderMalformed for a wrong region) may be the server's own
 * fault and stays INTERNAL_SERVER_ERROR, which the operator hears of.
 */

export interface ErrorContext {
  bucket?: string;
  key?: string;
  uploadId?: string;
}

/** Network failures that mean "the store could not be reached in time". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** S3 error codes that say the store is overloaded or briefly unavailable. */
const UNAVAILABLE_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'TimeoutError',
  'Throttling',
  'ThrottlingException',
]);

/** The store refused the server's own credentials or clock: a misconfiguration. */
const CREDENTIAL_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'RequestTimeTooSkewed',
  'AuthorizationHeaderMalformed',
  'InvalidSecurity',
]);

interface SdkLikeError {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/** The HTTP status the store answered with, when it answered at all. */
export function storeStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SdkLikeError;
  return e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
}

/** The S3 error code (`NoSuchKey`, `SlowDown`…), or the error's name. */
export function s3ErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SdkLikeError;
  if (typeof e.Code === 'string' && e.Code !== '') return e.Code;
  if (typeof e.name === 'string' && e.name !== '' && e.name !== 'Error') return e.name;
  return undefined;
}

/** True when err (or an error it wraps) is a network failure or timeout. */
function isUnreachable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const e = err as SdkLikeError;
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError') return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnreachable(inner, depth + 1))) return true;
  return e.cause !== undefined && isUnreachable(e.cause, depth + 1);
}

const quote = (text: string) => JSON.stringify(text);

function what(context: ErrorContext): string {
  if (context.key !== undefined && context.bucket !== undefined) {
    return `object ${quote(context.key)} in bucket ${quote(context.bucket)}`;
  }
  if (context.bucket !== undefined) return `bucket ${quote(context.bucket)}`;
  return 'the object store';
}

function build(err: unknown, context: ErrorContext): AppError {
  const name = s3ErrorName(err);
  const status = storeStatusOf(err);
  const bucketText = context.bucket !== undefined ? `bucket ${quote(context.bucket)}` : 'the bucket';
  const keyText =
    context.key !== undefined
      ? `object ${quote(context.key)}${context.bucket !== undefined ? ` in bucket ${quote(context.bucket)}` : ''}`
      : 'the object';

  switch (name) {
    case 'NoSuchBucket':
      return new AppError('NO_SUCH_BUCKET', `${bucketText} does not exist`);
    case 'NoSuchKey':
      return new AppError('NO_SUCH_KEY', `${keyText} does not exist`);
    case 'NotFound':
      // A bare 404 (HEAD has no body): the key when one was asked for, else the bucket.
      return context.key !== undefined
        ? new AppError('NO_SUCH_KEY', `${keyText} does not exist`)
        : new AppError('NO_SUCH_BUCKET', `${bucketText} does not exist`);
    case 'NoSuchUpload':
      return new AppError(
        'NO_SUCH_UPLOAD',
        `multipart upload ${context.uploadId !== undefined ? `${quote(context.uploadId)} ` : ''}does not exist (unknown, completed or aborted)`,
      );
    case 'BucketAlreadyExists':
    case 'BucketAlreadyOwnedByYou':
      return new AppError('BUCKET_ALREADY_EXISTS', `${bucketText} already exists`);
    case 'BucketNotEmpty':
      return new AppError('BUCKET_NOT_EMPTY', `${bucketText} is not empty`);
    case 'InvalidPart':
      return new AppError('INVALID_PART', 'a part named in the request was not uploaded, or its ETag does not match');
    case 'InvalidPartOrder':
      return new AppError('INVALID_PART', 'the parts must be listed in ascending part number order');
    case 'EntityTooSmall':
      return new AppError('INVALID_PART', "a part other than the last is smaller than the store's minimum part size");
    case 'EntityTooLarge':
    case 'MaxMessageLengthExceeded':
      return new AppError('PAYLOAD_TOO_LARGE', "the upload is larger than the store's maximum size");
    case 'InvalidRange':
      return new AppError('BAD_USER_INPUT', `the requested range is not satisfiable for ${keyText}`, {
        argument: 'range',
        httpStatus: 416,
      });
    case 'PreconditionFailed':
      return new AppError('BAD_USER_INPUT', `a precondition (If-Match or If-Unmodified-Since) failed for ${keyText}`, {
        httpStatus: 412,
      });
    case 'InvalidBucketName':
      return new AppError('BAD_USER_INPUT', `${bucketText} is not a valid bucket name for the store`, {
        argument: 'bucket',
      });
    case 'KeyTooLongError':
      return new AppError('BAD_USER_INPUT', 'the key is longer than the store allows', { argument: 'key' });
    case 'XMinioInvalidObjectName':
      return new AppError('BAD_USER_INPUT', 'the key is not a valid object name for the store', { argument: 'key' });
    case 'MetadataTooLarge':
      return new AppError('BAD_USER_INPUT', 'the metadata is larger than the store allows', { argument: 'metadata' });
    case 'InvalidArgument':
    case 'InvalidRequest':
      // The store's own message may quote the value it refused, or its internals: only its (public) error code is named.
      return new AppError('BAD_USER_INPUT', `the object store refused an argument of the request (${name})`);
  }

  if (name !== undefined && CREDENTIAL_NAMES.has(name)) {
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      'the object store rejected the server’s credentials or permissions; the operator must check the store configuration',
    );
  }
  if (isUnreachable(err) || (name !== undefined && UNAVAILABLE_NAMES.has(name))) {
    return new AppError('BACKEND_UNAVAILABLE', `${what(context)} could not be reached in time; try again later`);
  }
  if (status === 414 || status === 431) {
    // URI Too Long, Request Header Fields Too Large: a key, prefix or token too long for the store's HTTP server.
    return new AppError('BAD_USER_INPUT', 'an argument of the request is too long for the object store');
  }
  if (status === 502 || status === 503 || status === 504) {
    return new AppError('BACKEND_UNAVAILABLE', `${what(context)} is unavailable; try again later`);
  }
  if (status === 404 && name === undefined) {
    return context.key !== undefined
      ? new AppError('NO_SUCH_KEY', `${keyText} does not exist`)
      : new AppError('NO_SUCH_BUCKET', `${bucketText} does not exist`);
  }
  if (status === 401 || status === 403) {
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      'the object store rejected the server’s credentials or permissions; the operator must check the store configuration',
    );
  }
  if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501) {
    return new AppError('INTERNAL_SERVER_ERROR', 'the object store does not support this operation');
  }
  return new AppError('INTERNAL_SERVER_ERROR', 'the object store returned an unexpected error');
}

/**
 * The one mapping from store failures to AppError. An AppError passes through
 * unchanged; anything else becomes one, keeping the original as `cause`.
 */
export function toAppError(err: unknown, context: ErrorContext = {}): AppError {
  if (err instanceof AppError) return err;
  const appError = build(err, context);
  appError.cause = err;
  return appError;
}

/** How a failed call is mapped: the context to name, or a mapping of its own (still ending in toAppError). */
export type ErrorMapping = ErrorContext | ((err: unknown) => AppError | Promise<AppError>);

/**
 * Runs one store call (SDK commands, a paginator loop, an upload's parts, a
 * presigner) and maps whatever it throws: the one `catch` every store call
 * ends in.
 */
export async function call<T>(mapping: ErrorMapping, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw typeof mapping === 'function' ? await mapping(e) : toAppError(e, mapping);
  }
}
