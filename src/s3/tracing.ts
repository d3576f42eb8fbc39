import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { HttpRequest } from '@smithy/protocol-http';
import type { FinalizeRequestMiddleware, InitializeMiddleware, MetadataBearer } from '@smithy/types';
import { storeStatusOf } from './errors.js';

/** The tracer of store calls; `@opentelemetry/api`'s no-op until tracing is on (src/observability/tracing.ts). */
const tracer = () => trace.getTracer('s3-graphql/store');

/**
 * One CLIENT span per store command (`S3.<Operation>`, retries included),
 * a child of whatever span is current (the resolver's, the download's HTTP
 * request).
 */
export const storeCallSpan: InitializeMiddleware<object, MetadataBearer> = (next, handlerContext) => async (args) => {
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
};

/**
 * The W3C `traceparent` of the current span on every HTTP request a command
 * sends. It runs low in finalizeRequest: inside the retries and after the
 * signing (httpSigningMiddleware follows retryMiddleware), so the header is
 * not part of the signature and a proxy or mesh on the way may rewrite it.
 */
export const traceparentHeader: FinalizeRequestMiddleware<object, MetadataBearer> = (next) => async (args) => {
  if (HttpRequest.isInstance(args.request)) propagation.inject(context.active(), args.request.headers);
  return next(args);
};
