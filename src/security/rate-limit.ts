import type { Logger } from 'pino';
import { AppError } from '../core/errors.js';

/** Most clients (keys or addresses) tracked at once; the least recently seen is forgotten first. */
const MAX_TRACKED_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * What admission needs of a rate limiter: this process's `RateLimiter`, or
 * the one shared by every replica through Redis (shared-rate-limit.ts).
 */
export interface Limiter {
  readonly perMinute: number;
  /** Takes `cost` (at most `perMinute`) from `client`'s allowance, or says how long to wait. */
  take(client: string, cost: number): RateDecision | Promise<RateDecision>;
  /** Charges `cost` after the fact: never refused. */
  spend(client: string, cost: number): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * A token bucket per client, in this process's memory (so per instance: N
 * instances behind a load balancer allow N times the rate; REDIS_URL shares
 * the count instead, shared-rate-limit.ts). A client may
 * spend `perMinute` in a burst, and then one every 60/perMinute seconds;
 * a GraphQL request spends its estimated cost (src/graphql/cost.ts) before it
 * runs, a download one, and each the store calls it made beyond that when it
 * ends (`spend`). At most
 * `maxTracked` clients are remembered (about 100 bytes each); forgetting
 * one, the least recently seen, gives it a full bucket. `perMinute` 0 turns
 * limiting off.
 */
export class RateLimiter implements Limiter {
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
    const wanted = Math.min(cost, this.perMinute);
    const now = this.now();
    const tokens = this.refilled(client, now);
    const allowed = tokens >= wanted;
    this.buckets.set(client, { tokens: allowed ? tokens - wanted : tokens, updated: now });
    if (allowed) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((wanted - tokens) / this.perMs / 1000)) };
  }

  /**
   * Takes `cost` from `client`'s bucket after the fact, for what a request
   * has already done: never refused, and at most what is left (so, as with
   * `take`, one request never costs more than a full bucket).
   */
  spend(client: string, cost: number): void {
    if (!this.enabled || cost <= 0) return;
    const now = this.now();
    this.buckets.set(client, { tokens: Math.max(0, this.refilled(client, now) - cost), updated: now });
  }

  async close(): Promise<void> {}

  /** The tokens of `client`'s bucket at `now`; it is taken out of the map, and the caller puts it back (so the map stays in least-recently-seen order). */
  private refilled(client: string, now: number): number {
    const bucket = this.buckets.get(client);
    if (bucket) {
      this.buckets.delete(client);
      return Math.min(this.perMinute, bucket.tokens + (now - bucket.updated) * this.perMs);
    }
    if (this.buckets.size >= this.maxTracked) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return this.perMinute;
  }
}

/**
 * The answer to a client over its rate: the contract's RATE_LIMITED code,
 * HTTP 429 with a Retry-After header (Yoga applies `extensions.http` to the
 * response and never shows it; the plain routes do the same in respond.ts).
 */
export function rateLimitedError(retryAfterSeconds: number, perMinute: number): AppError {
  return new AppError(
    'RATE_LIMITED',
    `Too many requests: this client may make ${perMinute} store calls a minute (RATE_LIMIT_PER_MINUTE); retry in ${retryAfterSeconds} s.`,
    {
      retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  );
}

/** What the shared limiter reports: whether the count is shared (Redis answers) or per replica (it does not). */
export interface SharedRateLimitEvents {
  shared(up: boolean): void;
}

/**
 * The rate limiter of RATE_LIMIT_PER_MINUTE: shared through Redis with
 * REDIS_URL, else this process's own. The Redis client and
 * rate-limiter-flexible (about 4 MiB of heap) are only loaded with REDIS_URL.
 */
export async function createRateLimiter(
  settings: { rateLimitPerMinute: number; redisUrl: string | undefined },
  logger: Logger,
  events: SharedRateLimitEvents,
): Promise<Limiter> {
  if (settings.redisUrl === undefined || settings.rateLimitPerMinute === 0) {
    return new RateLimiter(settings.rateLimitPerMinute);
  }
  const { SharedRateLimiter } = await import('./shared-rate-limit.js');
  return new SharedRateLimiter(settings.rateLimitPerMinute, settings.redisUrl, logger, events);
}
