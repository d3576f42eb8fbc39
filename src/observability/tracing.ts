/**
 * OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT is set. The
 * spans: the HTTP server span of each request (@opentelemetry/instrumentation-http,
 * which also takes a W3C `traceparent` from the client as its parent), the
 * GraphQL operation under it (src/graphql/plugins/use-operation-span.ts),
 * the resolvers that reach the store under that (Pothos' tracing plugin,
 * src/graphql/schema/builder.ts), and each store call under those (the S3
 * client's middleware, src/s3/client.ts, which sends the call's
 * `traceparent` on to the store).
 *
 * Those are written against `@opentelemetry/api` alone, which does nothing
 * until a tracer provider is registered; the SDK, the exporter and the
 * instrumentation are imported here, and only when tracing is on.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { TracingSettings } from '../config/index.js';

export interface Tracing {
  /** Sends the spans not sent yet, then stops tracing. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Where spans go instead of the OTLP endpoint, each as soon as it ends (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/** Probes and scrapes: no spans. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const untraced = (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '/').split('?')[0] ?? '/');

/** OTLP/HTTP's traces URL: the endpoint's path (trailing slashes dropped) and `/v1/traces`, its query kept. */
function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

/**
 * Registers the tracer provider (every request sampled, whatever the client's
 * traceparent says; spans batched to `<otlpEndpoint>/v1/traces` over OTLP/HTTP), the async context manager, the W3C trace-context
 * propagator, and the HTTP server instrumentation, before the server takes
 * a request.
 */
export async function startTracing(settings: TracingSettings, options: TracingOptions = {}): Promise<Tracing> {
  const [
    api,
    sdk,
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
    { HttpInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation-http'),
  ]);
  let processor: InstanceType<typeof sdk.SimpleSpanProcessor> | InstanceType<typeof sdk.BatchSpanProcessor>;
  if (options.exporter) {
    processor = new sdk.SimpleSpanProcessor({ exporter: options.exporter });
  } else {
    if (settings.otlpEndpoint === undefined) throw new Error('tracing needs OTEL_EXPORTER_OTLP_ENDPOINT');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processor = new sdk.BatchSpanProcessor({
      exporter: new OTLPTraceExporter({ url: tracesUrl(settings.otlpEndpoint) }),
    });
  }
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    // Every request is traced. A client's traceparent names the parent, but its
    // sampled flag does not decide: with sampled=0 a client could hide its
    // requests from the operator's traces.
    sampler: new sdk.ParentBasedSampler({
      root: new sdk.AlwaysOnSampler(),
      remoteParentNotSampled: new sdk.AlwaysOnSampler(),
    }),
    spanProcessors: [processor],
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);

  // Outgoing requests are left alone: the store-call span sends its own traceparent (src/s3/client.ts).
  const http = new HttpInstrumentation({
    disableOutgoingRequestInstrumentation: true,
    ignoreIncomingRequestHook: untraced,
  });
  // The instrumentation patches `node:http` (http.Server's request events) when the module is next required, which an
  // ESM app never does: require it here. The patch is on the shared module object, so it holds for ESM importers too.
  createRequire(import.meta.url)('node:http');

  return {
    async shutdown() {
      http.disable();
      await provider.shutdown();
      api.trace.disable();
      api.propagation.disable();
      api.context.disable();
    },
  };
}
