import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { storeStatusOf } from './errors.js';

/** The tracer of store calls; `@opentelemetry/api`'s no-op until tracing is on (src/observability/tracing.ts). */
const tracer = () => trace.getTracer('s3-graphql/store');

/**
 * One CLIENT span per store command (`S3.<Operation>`, retries included),
 * a child of whatever span is current (the resolver's, the download's HTTP
 * request), and its W3C `traceparent` on every HTTP request the command
 * sends. The header is added after the request is signed, so it is not part
 * of the signature: a proxy or mesh on the way may rewrite it.
 */
export function addStoreCallTracing(client: S3Client): void {
  client.middlewareStack.add(
    (next, handlerContext) => async (args) => {
      const operation = (handlerContext.commandName ?? 'Unknown').replace(/Command$/, '');
      const input = args.input as { Bucket?: unknown };
      const attributes = {
        'rpc.system': 'aws-api',
        'rpc.service': 'S3',
        'rpc.method': operation,
        ...(typeof input.Bucket === 'string' && { 'aws.s3.bucket': input.Bucket }),
      };
      return tracer().startActiveSpan(`S3.${operation}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
        try {
          return await next(args);
        } catch (err) {
          const status = storeStatusOf(err);
          if (status !== undefined) span.setAttribute('http.response.status_code', status);
          // 304 Not Modified is a successful conditional GET, which the SDK throws.
          if (status !== 304) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    { step: 'initialize', name: 's3GraphqlStoreCallSpan', priority: 'high' },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      if (HttpRequest.isInstance(args.request)) propagation.inject(context.active(), args.request.headers);
      return next(args);
    },
    // Low in this step: inside the retries and after the signing (httpSigningMiddleware follows retryMiddleware).
    { step: 'finalizeRequest', name: 's3GraphqlTraceparent', priority: 'low' },
  );
}
