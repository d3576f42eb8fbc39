import { GraphQLError } from 'graphql';
import { AppError, ERROR_CODES, type ErrorCode } from '../core/errors.js';

/**
 * What a GraphQL error is, for masking and logging: an AppError (shown as it
 * is), an error about the request itself (shown with BAD_USER_INPUT), or a
 * server fault (masked).
 */

const CONTRACT_CODES = new Set<string>(ERROR_CODES);

/**
 * Whether `error` is a GraphQLError. Checked by its tag, not `instanceof`:
 * `graphql` ships CommonJS and ESM builds, and a loader may give Yoga's
 * executor one and this module the other (vitest does).
 */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && Object.prototype.toString.call(error) === '[object GraphQLError]';
}

/** The AppError an error is, or was raised from (through GraphQL's wrapping). */
export function appErrorOf(error: unknown): AppError | undefined {
  let current: unknown = error;
  while (isGraphQLError(current)) {
    if (current instanceof AppError) return current;
    current = current.originalError;
  }
  return undefined;
}

/**
 * Errors about the request itself, raised by GraphQL or Yoga before anything
 * ran: syntax, validation, variable coercion, malformed HTTP bodies. They are
 * GraphQL errors all the way down and carry no execution path. (An execution
 * error without an AppError behind it, such as a non-null field resolving to
 * null, has a path: it is a server fault and is masked.)
 */
export function isRequestError(error: unknown): error is GraphQLError {
  if (!isGraphQLError(error) || error.path !== undefined) return false;
  let current: unknown = error.originalError;
  while (isGraphQLError(current)) current = current.originalError;
  return current === undefined || current === null;
}

/** A server fault: neither an AppError nor an error about the request. */
export const isUnexpected = (error: unknown) => appErrorOf(error) === undefined && !isRequestError(error);

/**
 * Yoga's `maskError`: an AppError keeps its message and extensions (its
 * code); errors about the request itself keep their message with code
 * BAD_USER_INPUT; everything else becomes `message` ("Unexpected error.")
 * with code INTERNAL_SERVER_ERROR and no detail.
 */
export function maskError(error: unknown, message: string): Error {
  const app = appErrorOf(error);
  if (app) {
    if (error === app) return app;
    const wrapper = error as GraphQLError;
    return new GraphQLError(wrapper.message, {
      nodes: wrapper.nodes,
      source: wrapper.source,
      positions: wrapper.positions,
      path: wrapper.path,
      extensions: { ...app.extensions },
    });
  }
  if (isRequestError(error)) {
    const code = error.extensions.code;
    if (typeof code === 'string' && CONTRACT_CODES.has(code)) return error;
    // Yoga's own refusals: a body over MAX_JSON_BODY_BYTES is REQUEST_ENTITY_TOO_LARGE; the rest are the request's fault.
    const contractCode: ErrorCode = code === 'REQUEST_ENTITY_TOO_LARGE' ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { ...error.extensions, code: contractCode },
    });
  }
  const wrapper = isGraphQLError(error) ? error : undefined;
  return new GraphQLError(message, {
    nodes: wrapper?.nodes,
    source: wrapper?.source,
    positions: wrapper?.positions,
    path: wrapper?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode },
  });
}
