import { format } from 'node:util';
import { isAsyncIterable, type Plugin, type YogaLogger } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { AppError, ErrorCode } from '../../core/errors.js';
import type { Context } from '../context.js';
import { appErrorOf, isGraphQLError, isRequestError, isUnexpected } from '../errors.js';

/** AppErrors that are the server's or the store's fault (a misconfigured store, an outage): the operator must hear of them. */
const SERVER_FAULTS = new Set<ErrorCode>(['INTERNAL_SERVER_ERROR', 'BACKEND_UNAVAILABLE']);

/** Errors already logged with their request id; Yoga's own logger (`yogaLogger`) skips them. */
const loggedErrors = new WeakSet<object>();

/**
 * Logs every error about to be masked with the request's logger (so with its
 * request id), before masking replaces it, and every AppError that is the
 * server's or the store's fault (INTERNAL_SERVER_ERROR, BACKEND_UNAVAILABLE:
 * a store that refuses the server's credentials, an outage) once per
 * request. The logger's `err` serializer keeps no stack. Runs before Yoga's
 * masking plugin. It takes no options.
 */
export function useUnexpectedErrorLog(): Plugin<Context> {
  return {
    onExecute({ args }) {
      const ctx = args.contextValue as Context;
      return {
        onExecuteDone({ result }) {
          if (isAsyncIterable(result)) return;
          const faults = new Set<AppError>();
          for (const error of result.errors ?? []) {
            const path = error.path?.join('.');
            const app = appErrorOf(error);
            if (app && SERVER_FAULTS.has(app.code)) {
              // One line per failure, not one per field it failed (a listing's objects share one).
              if (!faults.has(app)) ctx.logger.error({ err: app, code: app.code, path }, app.message);
              faults.add(app);
              continue;
            }
            if (app || isRequestError(error)) continue;
            loggedErrors.add(error);
            ctx.logger.error({ err: error.originalError ?? error, path }, 'unexpected error in a GraphQL resolver');
          }
        },
      };
    },
  };
}

/**
 * Yoga's log lines (its `logging` option), through pino. Yoga logs every
 * error its masking replaced: AppErrors and request errors are not news, and
 * errors already logged with their request id by `useUnexpectedErrorLog` are
 * not logged twice.
 */
export function yogaLogger(logger: Logger): YogaLogger {
  return {
    debug: (...args: unknown[]) => logger.debug(format(...args)),
    info: (...args: unknown[]) => logger.info(format(...args)),
    warn: (...args: unknown[]) => logger.warn(format(...args)),
    error: (...args: unknown[]) => {
      const [first] = args;
      if (!(first instanceof Error)) {
        logger.error(format(...args));
        return;
      }
      if (loggedErrors.has(first) || !isUnexpected(first)) return;
      const original = isGraphQLError(first) ? (first.originalError ?? first) : first;
      logger.error({ err: original }, 'unexpected error in a GraphQL request');
    },
  };
}
