/**
 * Core: what every layer shares, importing no other layer: the contract's
 * errors (this file), S3's limits and name rules (s3-rules.ts, shared with
 * the embedded store), the API's argument rules (validation.ts), signed
 * listing cursors (cursors.ts), a bounded worker pool (concurrency.ts) and
 * the per-bucket upload rules (upload-rules.ts).
 */
import { GraphQLError } from 'graphql';

/**
 * The error codes of the public contract (`extensions.code`). Nothing but an
 * AppError's message and code is ever shown to a client; anything else is
 * masked as INTERNAL_SERVER_ERROR.
 */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'NO_SUCH_BUCKET',
  'NO_SUCH_KEY',
  'NO_SUCH_UPLOAD',
  'BUCKET_ALREADY_EXISTS',
  'BUCKET_NOT_EMPTY',
  'INVALID_PART',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'BACKEND_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The HTTP status each code maps to on the plain HTTP routes (/objects). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  NO_SUCH_BUCKET: 404,
  NO_SUCH_KEY: 404,
  NO_SUCH_UPLOAD: 404,
  BUCKET_ALREADY_EXISTS: 409,
  BUCKET_NOT_EMPTY: 409,
  INVALID_PART: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  BACKEND_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.name = 'AppError';
    this.code = code;
  }
}

export const badInput = (argument: string, message: string) =>
  new AppError('BAD_USER_INPUT', `${argument}: ${message}`, { argument });

/** PAYLOAD_TOO_LARGE for a multipart upload part of more than `limit` bytes. */
export const partTooLarge = (limit: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `file: the part is larger than the limit of ${limit} bytes`, { argument: 'file' });

/**
 * The HTTP status an error object carries in `status`: the convention of
 * HTTP error objects (http-errors, graphql-upload-minimal and busboy's
 * refusals, the upload's own UploadError), which stream consumers recognise.
 */
export function httpStatusOf(err: unknown): number | undefined {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof status === 'number' ? status : undefined;
}

/** Whether an error object says that what was sent is too large (`status` 413, as PAYLOAD_TOO_LARGE answers). */
export const isPayloadTooLarge = (err: unknown): boolean => httpStatusOf(err) === HTTP_STATUS.PAYLOAD_TOO_LARGE;
