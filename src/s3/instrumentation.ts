import type {
  FinalizeRequestMiddleware,
  HandlerExecutionContext,
  InitializeMiddleware,
  MetadataBearer,
} from '@smithy/types';
import { currentStoreCallBudget } from '../core/store-call-budget.js';
import { storeStatusOf } from './errors.js';
import { storeCallSpan, traceparentHeader } from './tracing.js';

/** One finished store command, for metrics and tests. */
export interface StoreCallEvent {
  /** The SDK command name without `Command`, e.g. `ListObjectsV2`. */
  operation: string;
  outcome: 'ok' | 'error';
  /** Wall time of the command, retries included, until the response headers arrived. */
  seconds: number;
}

type Input = object;
type Output = MetadataBearer;

/**
 * What every store call goes through, whether the SDK sends it or the lean
 * reads (./lean-reads.ts) do: the same middleware, in this order.
 *  - initialize (once per call, retries included): the request's store-call
 *    budget, the metrics report, the tracing span;
 *  - finalizeRequest (each attempt, after signing): the `traceparent` header.
 */
export interface StoreCallMiddleware {
  initialize: { name: string; middleware: InitializeMiddleware<Input, Output> }[];
  finalizeRequest: { name: string; middleware: FinalizeRequestMiddleware<Input, Output> }[];
}

export function storeCallMiddleware(onCall: ((event: StoreCallEvent) => void) | undefined): StoreCallMiddleware {
  return {
    // The budget first, so it runs outside the reporter: a call refused by the budget was never sent, and is not reported.
    initialize: [
      { name: 's3GraphqlStoreCallBudget', middleware: storeCallBudget },
      ...(onCall ? [{ name: 's3GraphqlCallReporter', middleware: callReporter(onCall) }] : []),
      { name: 's3GraphqlStoreCallSpan', middleware: storeCallSpan },
    ],
    finalizeRequest: [{ name: 's3GraphqlTraceparent', middleware: traceparentHeader }],
  };
}

/**
 * `handler` wrapped in the middleware of one step (`chain.initialize` around
 * a call, `chain.finalizeRequest` around one attempt), outermost first, as
 * the SDK's stack runs them.
 */
export function around<Handler>(
  step: { middleware: (next: Handler, context: HandlerExecutionContext) => Handler }[],
  commandName: string,
  handler: Handler,
): Handler {
  const context: HandlerExecutionContext = { commandName };
  return step.reduceRight((next, { middleware }) => middleware(next, context), handler);
}

/**
 * A lean read (./lean-reads.ts) handing its call to the SDK, which makes it
 * again: like an attempt the SDK retries, it is one call, so it is neither
 * taken from the budget nor reported twice. Its status (when the store
 * answered) marks the tracing span of the attempt.
 */
export class HandedToSdk extends Error {
  readonly $metadata: MetadataBearer['$metadata'];

  constructor(status: number | undefined, cause?: unknown) {
    super(status === undefined ? 'the lean call failed' : `the store answered ${status}`, { cause });
    this.$metadata = { httpStatusCode: status };
  }
}

/**
 * Takes one call from the budget of the request it is made for
 * (src/core/store-call-budget.ts) before anything else, retries included, so
 * a call past the budget fails with StoreCallLimitError and is never sent.
 */
const storeCallBudget: InitializeMiddleware<Input, Output> = (next, context) => async (args) => {
  const budget = currentStoreCallBudget();
  budget?.take(context.commandName, args.input as { UploadId?: unknown });
  let result: Awaited<ReturnType<typeof next>>;
  try {
    result = await next(args);
  } catch (err) {
    // The SDK takes it again when it makes the call.
    if (err instanceof HandedToSdk) budget?.giveBack();
    throw err;
  }
  if (context.commandName === 'CreateMultipartUploadCommand')
    budget?.uploadCreated((result.output as { UploadId?: unknown }).UploadId);
  return result;
};

/** Reports every command's name, outcome and duration (retries, and a lean read's hand-over, included). */
function callReporter(onCall: (event: StoreCallEvent) => void): InitializeMiddleware<Input, Output> {
  return (next, context) => async (args) => {
    const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    const started = process.hrtime.bigint();
    const report = (outcome: StoreCallEvent['outcome']) => {
      onCall({ operation, outcome, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    };
    try {
      const result = await next(args);
      report('ok');
      return result;
    } catch (err) {
      // 304 Not Modified is a successful conditional GET, which the SDK throws; a call handed to the SDK is
      // reported once the SDK has made it.
      if (!(err instanceof HandedToSdk)) report(storeStatusOf(err) === 304 ? 'ok' : 'error');
      throw err;
    }
  };
}
