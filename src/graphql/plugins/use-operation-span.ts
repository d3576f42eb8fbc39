import { SpanStatusCode, trace } from '@opentelemetry/api';
import { AttributeNames, SpanNames } from '@pothos/tracing-opentelemetry';
import { getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/** The tracer of GraphQL spans; `@opentelemetry/api`'s no-op until tracing is on (src/observability/tracing.ts). */
export const graphqlTracer = () => trace.getTracer('s3-graphql/graphql');

/**
 * A Yoga plugin that runs every operation's execution in a span
 * (`graphql.execute`, with the operation's type and name, in error when the
 * result carries errors), a child of the HTTP request's span: the parent of
 * the resolver spans (src/graphql/schema/builder.ts) and so of the store
 * calls. It takes no options.
 */
export function useOperationSpan<TContext extends object = object>(): Plugin<TContext> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      const attributes = {
        [AttributeNames.OPERATION_TYPE]: operation?.operation ?? 'unknown',
        ...(operation?.name && { [AttributeNames.OPERATION_NAME]: operation.name.value }),
      };
      setExecuteFn((executeArgs) =>
        graphqlTracer().startActiveSpan(SpanNames.EXECUTE, { attributes }, async (span) => {
          try {
            const result = await executeFn(executeArgs);
            if (!isAsyncIterable(result) && (result.errors?.length ?? 0) > 0)
              span.setStatus({ code: SpanStatusCode.ERROR });
            return result;
          } finally {
            span.end();
          }
        }),
      );
    },
  };
}
