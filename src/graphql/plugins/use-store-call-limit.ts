import { getOperationAST, GraphQLError, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import {
  DEFAULT_MAX_BATCH_OPERATIONS,
  DEFAULT_MAX_QUERY_TOKENS,
  DEFAULT_MAX_STORE_CALLS_PER_REQUEST,
} from '../../config/index.js';
import type { ErrorCode } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import { estimateStoreCalls } from '../cost.js';
import { documentCache, limitError, operationName } from '../documents.js';

/** One operation of an HTTP request, as Yoga's request parser gives it. */
interface Params {
  query?: string;
  operationName?: string | null;
  variables?: unknown;
}

export interface StoreCallLimitOptions {
  /** The schema the operations are estimated against (the cost of each field is in `FIELD_COSTS` of ../cost.ts). */
  schema: GraphQLSchema;
  /**
   * Store calls the operations of one request may make. MAX_STORE_CALLS_PER_REQUEST.
   * @default DEFAULT_MAX_STORE_CALLS_PER_REQUEST (1000)
   */
  maxStoreCalls?: number;
  /**
   * Documents are parsed here with the same token limit as Yoga's parser. MAX_QUERY_TOKENS.
   * @default DEFAULT_MAX_QUERY_TOKENS (10000)
   */
  maxTokens?: number;
  /**
   * A larger batch is left to Yoga, which refuses it. MAX_BATCH_OPERATIONS.
   * @default DEFAULT_MAX_BATCH_OPERATIONS (10)
   */
  maxBatch?: number;
  /**
   * No request is charged more than this, or it could never pass; 0: the rate limit is off. RATE_LIMIT_PER_MINUTE.
   * @default 0
   */
  ratePerMinute?: number;
}

/** The cost of the operations of one HTTP request. */
interface RequestCost {
  total: number;
  operations: number;
}

function costError(
  cost: RequestCost,
  max: number,
  document: DocumentNode,
  name: string | null | undefined,
): GraphQLError {
  const operation = getOperationAST(document, name ?? undefined);
  const which =
    cost.operations > 1
      ? `the ${cost.operations} operations of this request`
      : operation
        ? operationName(operation)
        : 'the operation';
  const message = `${which} may make up to ${cost.total} calls to the store; this server allows ${max} per request (MAX_STORE_CALLS_PER_REQUEST). Ask for smaller pages (first), fewer aliases, or contentType and metadata of fewer listed objects.`;
  const error = operation
    ? limitError(message, 'COST', operation)
    : new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, limit: 'COST' } });
  // As Yoga answers validation errors: 400 to clients that accept application/graphql-response+json, else 200.
  Object.assign(error.extensions, { cost: cost.total, maxCost: max, http: { spec: true, status: 400 } });
  return error;
}

/**
 * The Yoga plugin. When the request has been read and before any of its
 * operations runs, the store calls of all of them are estimated together
 * (one operation, or every operation of a batch), and the client's rate limit
 * is charged by that cost (through `ServerContext.chargeOperations`; the
 * server charged one when the request came in): each operation counts as its
 * store calls, and at least one. Operations of a request over
 * `maxStoreCalls` are refused with BAD_USER_INPUT and `extensions.limit:
 * "COST"` where they would execute (so after the document limits, whose
 * errors come first), and count one each.
 */
export function useStoreCallLimit<TContext extends object = object>(options: StoreCallLimitOptions): Plugin<TContext> {
  const { schema } = options;
  const limits = {
    maxStoreCalls: options.maxStoreCalls ?? DEFAULT_MAX_STORE_CALLS_PER_REQUEST,
    maxTokens: options.maxTokens ?? DEFAULT_MAX_QUERY_TOKENS,
    maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH_OPERATIONS,
    ratePerMinute: options.ratePerMinute ?? 0,
  };
  const costs = new WeakMap<Request, RequestCost>();
  // Clients send the same few documents again and again (as Yoga's own parse cache assumes); false: it does not parse.
  const parsed = documentCache<DocumentNode | false>();
  const documentOf = (query: string): DocumentNode | false => {
    let document = parsed.get(query);
    if (document === undefined) {
      try {
        document = parse(query, { maxTokens: limits.maxTokens, noLocation: true });
      } catch {
        // Yoga's own parser reports it.
        document = false;
      }
      parsed.set(query, document);
    }
    return document;
  };
  const estimate = (params: Params): number => {
    const document = typeof params.query === 'string' ? documentOf(params.query) : false;
    return document ? estimateStoreCalls(schema, document, params.operationName, params.variables) : 0;
  };
  return {
    onRequestParse({ request, serverContext }) {
      return {
        async onRequestParseDone({ requestParserResult }) {
          const operations = (
            Array.isArray(requestParserResult) ? requestParserResult : [requestParserResult]
          ) as Params[];
          if (operations.length > limits.maxBatch) return;
          const each = operations.map(estimate);
          const cost = { total: each.reduce((a, b) => a + b, 0), operations: operations.length };
          costs.set(request, cost);
          const spent =
            cost.total > limits.maxStoreCalls ? operations.length : each.reduce((a, b) => a + Math.max(1, b), 0);
          // The server took one on arrival; the two takes together are at most a full bucket.
          const charged = Math.min(spent, limits.ratePerMinute || spent);
          const charge = (serverContext as ServerContext | undefined)?.chargeOperations;
          if (charge && charged > 1) await charge(charged - 1);
        },
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      const cost = request && costs.get(request);
      if (!cost || cost.total <= limits.maxStoreCalls) return;
      setResultAndStopExecution({ errors: [costError(cost, limits.maxStoreCalls, args.document, args.operationName)] });
    },
  };
}
