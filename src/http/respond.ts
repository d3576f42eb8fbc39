import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError, HTTP_STATUS, type ErrorCode } from '../core/errors.js';
import { errorDetails } from '../observability/logger.js';

/** The body of every error answer outside GraphQL, shaped like a GraphQL error response. */
export interface ErrorBody {
  errors: [{ message: string; extensions: { code: ErrorCode; reason?: string } }];
}

export const errorBody = (code: ErrorCode, message: string, reason?: string): ErrorBody => ({
  errors: [{ message, extensions: reason === undefined ? { code } : { code, reason } }],
});

/** Sends `body` as JSON with `status`; a HEAD request gets the headers only. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/**
 * `headers` for `res.writeHead`, with the Vary already set on `res` (CORS's
 * Origin) kept beside theirs: writeHead's own value would replace it.
 */
export function keepVary(res: ServerResponse, headers: Record<string, string>): Record<string, string> {
  const set = res.getHeader('vary');
  if (set === undefined || headers.vary === undefined) return headers;
  return { ...headers, vary: `${String(set)}, ${headers.vary}` };
}

/** Headers an AppError asks for in its `http.headers` extension (e.g. Retry-After), as Yoga applies them. */
function headersOf(err: AppError): Record<string, string> {
  const headers = (err.extensions as { http?: { headers?: unknown } }).http?.headers;
  if (typeof headers !== 'object' || headers === null) return {};
  return Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/**
 * The HTTP status of an AppError: an explicit `httpStatus` or `http.status`
 * extension (e.g. 416 for an unsatisfiable range), else the code's status.
 */
export function statusOf(err: AppError): number {
  const ext = err.extensions as { httpStatus?: unknown; http?: { status?: unknown } };
  const explicit = ext.httpStatus ?? ext.http?.status;
  if (typeof explicit === 'number' && Number.isInteger(explicit) && explicit >= 400 && explicit <= 599) {
    return explicit;
  }
  return HTTP_STATUS[err.code];
}

/**
 * Answers a failed request. An AppError shows its message and code; anything
 * else is logged (with the request id, through `log`) and answered with
 * "Unexpected error." so no internals, stack or secret reach the client.
 * When the headers are already out, the response is cut off instead.
 */
export function sendError(res: ServerResponse, err: unknown, log: Logger, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    log.warn({ err: errorDetails(err) }, 'failed after the response started; closing the connection');
    res.destroy();
    return;
  }
  if (err instanceof AppError) {
    const status = statusOf(err);
    if (status >= 500) log.error({ err: errorDetails(err), code: err.code }, err.message);
    const reason = err.extensions.reason;
    sendJson(res, status, errorBody(err.code, err.message, typeof reason === 'string' ? reason : undefined), {
      ...headersOf(err),
      ...headers,
    });
    return;
  }
  log.error({ err: errorDetails(err) }, 'unexpected error');
  sendJson(res, 500, errorBody('INTERNAL_SERVER_ERROR', 'Unexpected error.'), headers);
}
