import { format } from 'node:util';
import { GraphQLError, type ValidationRule } from 'graphql';
import { createYoga, isAsyncIterable, type Plugin, type YogaLogger } from 'graphql-yoga';
import type { Logger } from 'pino';
import { createContext, type Context, type ContextDeps, type ServerContext } from './context.js';
import { useStoreCallLimit } from './plugins/cost.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { useOperationMetrics } from './plugins/metrics.js';
import { useDocumentLimits } from './plugins/limits.js';
import type { Metrics } from '../observability/metrics.js';
import { schema } from './schema/index.js';

/** What GraphiQL opens with: the buckets, and the first level of each. */
export const GRAPHIQL_DEFAULT_QUERY = `# s3-graphql: buckets and objects in S3-compatible storage.
# Press the run button. The Docs panel lists every query and mutation.

query BucketsAndObjects {
  buckets {
    name
    createdAt
    objects(first: 20, delimiter: "/") {
      prefixes
      edges {
        node {
          key
          size
          lastModified
          url(expiresIn: 600)
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
`;

const CONTRACT_CODES = new Set<string>(ERROR_CODES);

/**
 * Whether `error` is a GraphQLError. Checked by its tag, not `instanceof`:
 * `graphql` ships CommonJS and ESM builds, and a loader may give Yoga's
 * executor one and this module the other (vitest does).
 */
function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && Object.prototype.toString.call(error) === '[object GraphQLError]';
}

/** The AppError an error is, or was raised from (through GraphQL's wrapping). */
function appErrorOf(error: unknown): AppError | undefined {
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
function isRequestError(error: unknown): error is GraphQLError {
  if (!isGraphQLError(error) || error.path !== undefined) return false;
  let current: unknown = error.originalError;
  while (isGraphQLError(current)) current = current.originalError;
  return current === undefined || current === null;
}

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

const isUnexpected = (error: unknown) => appErrorOf(error) === undefined && !isRequestError(error);

/** AppErrors that are the server's or the store's fault (a misconfigured store, an outage): the operator must hear of them. */
const SERVER_FAULTS = new Set<ErrorCode>(['INTERNAL_SERVER_ERROR', 'BACKEND_UNAVAILABLE']);

/** Errors already logged with their request id; Yoga's own logger skips them. */
const loggedErrors = new WeakSet<object>();

/**
 * Logs every error about to be masked with the request's logger (so with its
 * request id), before masking replaces it, and every AppError that is the
 * server's or the store's fault (INTERNAL_SERVER_ERROR, BACKEND_UNAVAILABLE:
 * a store that refuses the server's credentials, an outage) once per
 * request. The logger's `err` serializer keeps no stack. Runs before Yoga's
 * masking plugin.
 */
function useUnexpectedErrorLog(): Plugin<Context> {
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
 * Refuses the introspection meta-fields `__schema` and `__type` (what
 * graphql's NoSchemaIntrospectionCustomRule does, judged by field name alone:
 * that rule checks types with `instanceof`, which fails when a loader gives
 * it another copy of `graphql` than the schema's).
 */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(
        new GraphQLError(`GraphQL introspection is disabled on this server, but the operation asks for "${name}".`, { nodes: node }),
      );
    }
  },
});

/** graphql's "Did you mean ...?" hints, which name fields, arguments and types of the schema. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * Validation: introspection refused when it is off, and validation errors
 * (which Yoga returns without masking) given the contract's BAD_USER_INPUT
 * code instead of Yoga's GRAPHQL_VALIDATION_FAILED. Runs before Yoga's own
 * validation hook, which keeps a code that is already set. With
 * introspection off, the schema is not revealed through suggestions either.
 */
function useValidation(introspection: boolean): Plugin<Context> {
  return {
    onValidate({ addValidationRule }) {
      if (!introspection) addValidationRule(noIntrospection);
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result) {
          (error.extensions as Record<string, unknown>).code ??= 'BAD_USER_INPUT' satisfies ErrorCode;
          if (!introspection) error.message = error.message.replace(SUGGESTION, '');
        }
      };
    },
  };
}

/**
 * Yoga's log lines, through pino. Yoga logs every error its masking replaced:
 * AppErrors and request errors are not news, and errors already logged with
 * their request id by `useUnexpectedErrorLog` are not logged twice.
 */
function yogaLogger(logger: Logger): YogaLogger {
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

/** What the Yoga app needs: `AppDeps` fits. Without `metrics`, operations are not counted. */
export interface YogaDeps extends ContextDeps {
  metrics?: Metrics;
}

/**
 * The GraphQL endpoint (`/graphql`) as a Yoga instance. `src/http/server.ts`
 * hands requests to it with `yoga.handleNodeRequestAndResponse(req, res,
 * serverContext)`, after replacing `req.body` of multipart requests with
 * graphql-upload-minimal's parsed operations (Yoga's own multipart parser,
 * which buffers files in memory, is off). CSRF and CORS are the server's
 * business; Yoga's CORS handling is off, so other origins get no CORS grant.
 *
 * Limits (from the config): JSON bodies up to MAX_JSON_BODY_BYTES
 * (PAYLOAD_TOO_LARGE past it), batches of up to MAX_BATCH_OPERATIONS
 * operations, the document limits of `src/graphql/plugins/limits.ts`, and the store calls
 * of a request (`src/graphql/plugins/cost.ts`, which also charges the rate limit by them);
 * every refusal happens before anything executes.
 */
export function createYogaApp(deps: YogaDeps) {
  const logger = deps.logger.child({ component: 'graphql' });
  const plugins: Plugin<Context>[] = [useUnexpectedErrorLog()];
  if (deps.metrics) plugins.push(useOperationMetrics(deps.metrics));
  const { config } = deps;
  plugins.push(
    useValidation(config.introspection),
    useDocumentLimits({
      maxDepth: config.maxQueryDepth,
      maxAliases: config.maxQueryAliases,
      maxDirectives: config.maxQueryDirectives,
      maxTokens: config.maxQueryTokens,
    }),
    useStoreCallLimit(schema, {
      maxStoreCalls: config.maxStoreCallsPerRequest,
      maxTokens: config.maxQueryTokens,
      maxBatch: config.maxBatchOperations,
      ratePerMinute: config.rateLimitPerMinute,
    }),
  );
  return createYoga<ServerContext, Context>({
    schema,
    context: ({ request, ...server }) => createContext(deps, request, server),
    multipart: false,
    // JSON and application/graphql bodies (uploads have their own limits in src/http/upload.ts).
    maxRequestBodySize: config.maxJsonBodyBytes,
    batching: config.maxBatchOperations > 1 && { limit: config.maxBatchOperations },
    graphiql: config.graphiql && { defaultQuery: GRAPHIQL_DEFAULT_QUERY, title: 's3-graphql' },
    landingPage: false,
    cors: false,
    logging: yogaLogger(logger),
    maskedErrors: { maskError },
    plugins,
  });
}
