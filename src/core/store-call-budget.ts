import { AppError } from './errors.js';
import { currentRequestScope, withRequestScope } from './request-scope.js';

/**
 * The run-time cap on one HTTP request's store calls. The estimate
 * (src/graphql/cost.ts) refuses a request before it runs, but it can only
 * assume what the store alone knows (how many uploads are open, how many
 * parts a copy has); this counts the calls as they are sent. The HTTP routes
 * run each request inside a budget, the S3 client takes one from it before
 * every command, and past the limit the command fails instead of being sent.
 * Work outside a request (start-up, the CLI, readiness probes) has no budget.
 *
 * UploadPart is not counted: each carries a part of the client's own upload
 * body (a full `UPLOAD_PART_SIZE` but for the last part of `uploadObject`, one
 * file for `multipart.uploadPart`), so their number is bounded by the bytes
 * and files the request sends (`MAX_UPLOAD_BYTES`, `MAX_FILES_PER_REQUEST`),
 * and a 5 GiB `uploadObject` (640 parts of 8 MiB) is one upload, not 640 calls.
 *
 * Past the limit, a request may still abort a multipart upload it created
 * itself (counted, never refused), so an upload or a copy cut by the budget
 * leaves no parts behind; there are no more of those than the creations the
 * budget let through.
 */

/** Commands the budget does not count (see above). */
const UNCOUNTED = new Set(['UploadPartCommand']);

/** The error of a store call past the budget: BAD_USER_INPUT with `extensions.limit: "COST"`. */
export class StoreCallLimitError extends AppError {
  constructor(limit: number) {
    super(
      'BAD_USER_INPUT',
      `this request made more calls to the store than this server allows per request (${limit}, MAX_STORE_CALLS_PER_REQUEST), and stopped there. Ask for less at once: fewer aliases, smaller pages, fewer uploads or parts listed.`,
      { limit: 'COST', maxCost: limit },
    );
  }
}

export class StoreCallBudget {
  private made = 0;
  /** Multipart uploads this request created (their ids). */
  private readonly created = new Set<string>();

  constructor(readonly limit: number) {}

  /** Store calls counted so far. */
  get calls(): number {
    return this.made;
  }

  /**
   * Counts one call of `commandName` with `input` (the SDK command's input);
   * throws StoreCallLimitError when the request has made `limit` already.
   */
  take(commandName: string | undefined, input: { UploadId?: unknown } | undefined): void {
    if (commandName !== undefined && UNCOUNTED.has(commandName)) return;
    const cleanup =
      commandName === 'AbortMultipartUploadCommand' &&
      typeof input?.UploadId === 'string' &&
      this.created.has(input.UploadId);
    if (this.made >= this.limit && !cleanup) throw new StoreCallLimitError(this.limit);
    this.made += 1;
  }

  /**
   * Gives back one counted call that the store never answered for the caller:
   * a lean read (src/s3/lean-reads.ts) that hands its call to the SDK, which
   * then takes it again.
   */
  giveBack(): void {
    if (this.made > 0) this.made -= 1;
  }

  /** The request created the multipart upload `uploadId`: it may abort it past the limit. */
  uploadCreated(uploadId: unknown): void {
    if (typeof uploadId === 'string') this.created.add(uploadId);
  }
}

/** Runs `fn` (and everything it starts) with `budget` as the store-call budget, in the request's scope (if any). */
export function withStoreCallBudget<T>(budget: StoreCallBudget, fn: () => T): T {
  const scope = currentRequestScope();
  return withRequestScope({ requestId: scope?.requestId, notes: scope?.notes ?? {}, budget }, fn);
}

/** The budget of the request this code runs for; undefined outside a request. */
export function currentStoreCallBudget(): StoreCallBudget | undefined {
  return currentRequestScope()?.budget;
}
