import { AppError } from '../core/errors.js';

/** Most clients (keys or addresses) tracked at once; the least recently seen is forgotten first. */
const MAX_TRACKED_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A token bucket per client, in this process's memory (so per instance: N
 * instances behind a load balancer allow N times the rate). A client may
 * spend `perMinute` in a burst, and then one every 60/perMinute seconds;
 * a GraphQL request spends its cost (src/graphql/cost.ts), a download one. At most
 * `maxTracked` clients are remembered (about 100 bytes each); forgetting
 * one, the least recently seen, gives it a full bucket. `perMinute` 0 turns
 * limiting off.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly maxTracked = MAX_TRACKED_CLIENTS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.perMs = perMinute / 60_000;
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Takes `cost` (at most a full bucket, so a request costing more than `perMinute` waits for a full one) from `client`'s bucket, or says how long to wait. */
  take(client: string, cost = 1): RateDecision {
    if (!this.enabled) return { allowed: true };
    const capacity = this.perMinute;
    const wanted = Math.min(cost, capacity);
    const now = this.now();
    const bucket = this.buckets.get(client);
    let tokens = capacity;
    if (bucket) {
      tokens = Math.min(capacity, bucket.tokens + (now - bucket.updated) * this.perMs);
      // Re-inserted below, so the map stays in least-recently-seen order.
      this.buckets.delete(client);
    } else if (this.buckets.size >= this.maxTracked) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    const allowed = tokens >= wanted;
    if (allowed) tokens -= wanted;
    this.buckets.set(client, { tokens, updated: now });
    if (allowed) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((wanted - tokens) / this.perMs / 1000)) };
  }
}

/**
 * The answer to a client over its rate: HTTP 429 with a Retry-After header,
 * the contract's FORBIDDEN code (clients switch on the contract's list, so
 * no code is added to it) and `reason: "RATE_LIMITED"` to tell it apart.
 * Yoga applies `extensions.http` to the response and never shows it.
 */
export function rateLimitedError(retryAfterSeconds: number, perMinute: number): AppError {
  return new AppError(
    'FORBIDDEN',
    `Too many requests: this client may make ${perMinute} store calls a minute (RATE_LIMIT_PER_MINUTE); retry in ${retryAfterSeconds} s.`,
    {
      reason: 'RATE_LIMITED',
      retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  );
}
