import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError, HTTP_STATUS, type ErrorCode } from '../errors.js';

/** The body of every error answer outside GraphQL, shaped like a GraphQL error response. */
export interface ErrorBody {
  errors: [{ message: string; extensions: { code: ErrorCode } }];
}

export const errorBody = (code: ErrorCode, message: string): ErrorBody => ({
  errors: [{ message, extensions: { code } }],
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
    sendJson(res, status, errorBody(err.code, err.message), {
      ...(err.code === 'UNAUTHENTICATED' ? { 'www-authenticate': 'Bearer' } : {}),
      ...headers,
    });
    return;
  }
  log.error({ err: errorDetails(err) }, 'unexpected error');
  sendJson(res, 500, errorBody('INTERNAL_SERVER_ERROR', 'Unexpected error.'), headers);
}

/** What the log keeps of an error: its name, message, stack and the cause's, never request headers. */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  if (err.cause !== undefined) out.cause = errorDetails(err.cause);
  return out;
}
