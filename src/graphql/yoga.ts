/**
 * The GraphQL layer: the schema (schema/), its resolvers (resolvers/), the
 * per-request context and loaders, and the Yoga plugins (plugins/, one per
 * file) that limit, count and log what a request asks for. It enters through
 * `createYogaApp`, which `src/http/routes/graphql.ts` hands requests to.
 */
import { createYoga, type Plugin } from 'graphql-yoga';
import type { DocumentNode } from 'graphql';
import { createContext, listingCursorsOf, type Context, type ContextDeps, type ServerContext } from './context.js';
import { documentCache } from './documents.js';
import { maskError } from './errors.js';
import { useAccessNotes } from './plugins/use-access-notes.js';
import { useDocumentLimits } from './plugins/use-document-limits.js';
import { useIntrospection } from './plugins/use-introspection.js';
import { useOperationSpan } from './plugins/use-operation-span.js';
import { useOperationMetrics } from './plugins/use-operation-metrics.js';
import { useStoreCallLimit } from './plugins/use-store-call-limit.js';
import { useUnexpectedErrorLog, yogaLogger } from './plugins/use-unexpected-error-log.js';
import { useValidationErrorCode } from './plugins/use-validation-error-code.js';
import type { Metrics } from '../observability/metrics.js';
import { schema } from './schema/index.js';

/** What the Yoga app needs: `AppDeps` fits. Without `metrics`, operations are not counted. */
export interface YogaDeps extends Omit<ContextDeps, 'cursors'> {
  metrics?: Metrics;
}

/**
 * The GraphQL endpoint (`/graphql`) as a Yoga instance. `src/http/routes/graphql.ts`
 * hands requests to it with `yoga.handle(req, res, serverContext)`, after
 * replacing `req.body` of multipart requests with graphql-upload-minimal's
 * parsed operations (Yoga's own multipart parser, which buffers files in
 * memory, is off). CSRF and CORS are the server's business; Yoga's CORS
 * handling is off, so other origins get no CORS grant.
 *
 * Limits (from the config): JSON bodies up to MAX_JSON_BODY_BYTES
 * (PAYLOAD_TOO_LARGE past it), batches of up to MAX_BATCH_OPERATIONS
 * operations, the document limits (`plugins/use-document-limits.ts`), and the
 * store calls of a request (`plugins/use-store-call-limit.ts`, which also
 * charges the rate limit by them); every refusal happens before anything
 * executes. Errors are masked by `maskError` (errors.ts).
 */
export function createYogaApp(deps: YogaDeps) {
  const logger = deps.logger.child({ component: 'graphql' });
  const { config, metrics } = deps;
  const contextDeps: ContextDeps = { ...deps, cursors: listingCursorsOf(config) };
  const plugins: Plugin<Context>[] = [
    useUnexpectedErrorLog(),
    useAccessNotes<Context>(),
    useOperationSpan<Context>(),
    ...(metrics ? [useOperationMetrics<Context>({ metrics })] : []),
    useValidationErrorCode(),
    useIntrospection({ enabled: config.introspection }),
    useDocumentLimits({
      maxDepth: config.maxQueryDepth,
      maxAliases: config.maxQueryAliases,
      maxDirectives: config.maxQueryDirectives,
      maxTokens: config.maxQueryTokens,
    }),
    useStoreCallLimit({
      schema,
      maxStoreCalls: config.maxStoreCallsPerRequest,
      maxTokens: config.maxQueryTokens,
      maxBatch: config.maxBatchOperations,
      ratePerMinute: config.rateLimitPerMinute,
    }),
  ];
  return createYoga<ServerContext, Context>({
    schema,
    context: ({ request, ...server }) => createContext(contextDeps, request, server),
    multipart: false,
    // JSON and application/graphql bodies (uploads have their own limits in src/http/upload.ts).
    maxRequestBodySize: config.maxJsonBodyBytes,
    batching: config.maxBatchOperations > 1 && { limit: config.maxBatchOperations },
    // Yoga's own caches hold 1024 documents whatever their size: bounded by their heap instead (documents.ts).
    parserAndValidationCache: { documentCache: documentCache<DocumentNode>(), errorCache: documentCache<object>() },
    // GraphiQL is served by the HTTP layer from our own build (src/http/routes/graphiql.ts), not from a CDN.
    graphiql: false,
    landingPage: false,
    cors: false,
    logging: yogaLogger(logger),
    maskedErrors: { maskError },
    plugins,
  });
}
