import { getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLOperationEvent, Metrics } from '../../observability/metrics.js';

export interface OperationMetricsOptions {
  /** Where each executed operation is reported. */
  metrics: Metrics;
}

/**
 * A Yoga plugin that reports every executed GraphQL operation to the metrics:
 * its name (capped by `Metrics`), type, outcome (`error` when the result
 * carries errors) and execution time. Add it to `createYoga({ plugins })`.
 */
export function useOperationMetrics<TContext extends object = object>({
  metrics,
}: OperationMetricsOptions): Plugin<TContext> {
  return {
    onExecute({ args }) {
      const started = process.hrtime.bigint();
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      const name = operation?.name?.value ?? null;
      const type: GraphQLOperationEvent['type'] = operation?.operation ?? 'unknown';
      return {
        onExecuteDone({ result }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const failed = !isAsyncIterable(result) && (result.errors?.length ?? 0) > 0;
          metrics.graphqlOperation({ name, type, outcome: failed ? 'error' : 'ok', seconds });
        },
      };
    },
  };
}
