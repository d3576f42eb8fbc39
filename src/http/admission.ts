import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';
import { AppError } from '../core/errors.js';
import { currentRequestScope } from '../core/request-scope.js';
import { StoreCallBudget, withStoreCallBudget } from '../core/store-call-budget.js';
import { keyringOf, type Caller, type Keyring } from '../security/auth.js';
import type { Metrics } from '../observability/metrics.js';
import { type Limiter, rateLimitedError } from '../security/rate-limit.js';

/** The routes that admit requests, the `route` label of the rate-limit refusals. */
export type AdmittedRoute = 'graphql' | 'objects';

/** Who a request comes from: its caller when its key is good, else the authentication error. */
export type Identity = { caller: Caller; error?: undefined } | { caller?: undefined; error: AppError };

/**
 * An admitted request: who it comes from, the rate-limit client it is
 * charged to, and what it has been charged so far.
 */
export class Admitted {
  private charged = 0;

  constructor(
    readonly identity: Identity,
    /** Its API key's name (`key:<name>`), else its remote address (`address:<ip>`). */
    readonly client: string,
    private readonly route: AdmittedRoute,
    private readonly limiter: Limiter,
    private readonly metrics: Metrics,
    private readonly maxStoreCalls: number,
  ) {}

  /**
   * Takes `cost` from the client's allowance; throws RATE_LIMITED (429) when
   * it is spent. `phase`: `request` for the one every request is charged on
   * arrival, `cost` for the rest of a GraphQL request's estimated cost.
   */
  async charge(cost: number, phase: 'request' | 'cost' = 'cost'): Promise<void> {
    const decision = await this.limiter.take(this.client, cost);
    if (!decision.allowed) {
      this.metrics.rateLimitRefused(this.route, phase);
      throw rateLimitedError(decision.retryAfterSeconds, this.limiter.perMinute);
    }
    this.charged += cost;
  }

  /**
   * Runs the handling of the request inside its store-call budget
   * (MAX_STORE_CALLS_PER_REQUEST, src/core/store-call-budget.ts), then charges
   * the client the store calls it made beyond what it was charged up front
   * (never refused: the calls are made; the next request waits for them).
   */
  async budgeted(handle: () => Promise<void>): Promise<void> {
    const budget = new StoreCallBudget(this.maxStoreCalls);
    try {
      await withStoreCallBudget(budget, handle);
    } finally {
      await this.limiter.spend(this.client, budget.calls - this.charged);
    }
  }
}

/**
 * The door of `/graphql` and `/objects`: every request is authenticated
 * (Authorization: Bearer) and charged to a per-client rate limit before
 * anything else is read. The client is the API key, or the remote address for
 * anonymous callers and for tokens that are not known (so guessing keys is
 * limited too). Over the limit: RATE_LIMITED (429 with Retry-After).
 */
export class Admission {
  readonly keyring: Keyring;
  private readonly maxStoreCalls: number;

  constructor(
    config: Config,
    private readonly limiter: Limiter,
    private readonly metrics: Metrics,
  ) {
    this.keyring = keyringOf(config);
    this.maxStoreCalls = config.maxStoreCallsPerRequest;
  }

  /** Identifies the request and charges one to its client; throws RATE_LIMITED, never the authentication error (see `identity`). */
  async admit(req: IncomingMessage, route: AdmittedRoute): Promise<Admitted> {
    const identity = this.identify(req);
    const notes = currentRequestScope()?.notes;
    // Its name only: the access line never shows a token.
    if (notes && identity.caller) notes.caller = identity.caller.name;
    const client =
      identity.caller?.name != null
        ? `key:${identity.caller.name}`
        : `address:${req.socket.remoteAddress ?? 'unknown'}`;
    const admitted = new Admitted(identity, client, route, this.limiter, this.metrics, this.maxStoreCalls);
    await admitted.charge(1, 'request');
    return admitted;
  }

  private identify(req: IncomingMessage): Identity {
    try {
      return { caller: this.keyring.authenticate(req.headers.authorization) };
    } catch (err) {
      if (err instanceof AppError) return { error: err };
      throw err;
    }
  }
}
