import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';
import { AppError } from '../core/errors.js';
import { keyringOf, type Caller, type Keyring } from '../security/auth.js';
import { RateLimiter, rateLimitedError } from '../security/rate-limit.js';

/** Who a request comes from: its caller when its key is good, else the authentication error. */
export type Identity = { caller: Caller; error?: undefined } | { caller?: undefined; error: AppError };

/** An admitted request: who it comes from, and the rate-limit client it was charged to. */
export interface Admitted {
  identity: Identity;
  /** Its API key's name (`key:<name>`), else its remote address (`address:<ip>`). */
  client: string;
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
  private readonly limiter: RateLimiter;

  constructor(config: Config) {
    this.keyring = keyringOf(config);
    this.limiter = new RateLimiter(config.rateLimitPerMinute);
  }

  /** Identifies the request and charges one to its client; throws RATE_LIMITED, never the authentication error (see `identity`). */
  admit(req: IncomingMessage): Admitted {
    const identity = this.identify(req);
    const client =
      identity.caller?.name != null
        ? `key:${identity.caller.name}`
        : `address:${req.socket.remoteAddress ?? 'unknown'}`;
    this.charge(client, 1);
    return { identity, client };
  }

  /** Takes `cost` from the client's allowance; throws RATE_LIMITED (429) when it is spent. */
  charge(client: string, cost: number): void {
    const decision = this.limiter.take(client, cost);
    if (!decision.allowed) throw rateLimitedError(decision.retryAfterSeconds, this.limiter.perMinute);
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
