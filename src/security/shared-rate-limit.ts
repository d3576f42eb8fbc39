import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limiter, RateDecision, SharedRateLimitEvents } from './rate-limit.js';

/** A Redis command with no answer after this long is given up, and the request counted in memory instead. */
const COMMAND_TIMEOUT_MS = 250;
/** A connection attempt to Redis that takes longer fails (and is tried again, see `retryStrategy`). */
const CONNECT_TIMEOUT_MS = 1_000;
/** The longest wait between two attempts to reach Redis again. */
const MAX_RECONNECT_DELAY_MS = 2_000;
const WINDOW_SECONDS = 60;
const KEY_PREFIX = 's3graphql-rate';

/** rate-limiter-flexible's memory limiter, telling `onUse` each time it stands in for Redis. */
class Insurance extends RateLimiterMemory {
  constructor(
    points: number,
    private readonly onUse: () => void,
  ) {
    super({ points, duration: WINDOW_SECONDS });
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.onUse();
    return super.consume(...args);
  }

  override penalty(...args: Parameters<RateLimiterMemory['penalty']>) {
    this.onUse();
    return super.penalty(...args);
  }
}

/**
 * The rate limit of every replica together, counted in Redis by
 * rate-limiter-flexible (an atomic INCRBY with expiry per client key and
 * one-minute window: a client may spend `perMinute` store calls in each
 * window, starting at its first request in it; a refused request still
 * counts in its window).
 *
 * It never holds a request up for Redis: commands are not queued while the
 * connection is down (ioredis' offline queue is off, and rate-limiter-flexible
 * does not even try when it is not ready), and one with no answer within
 * COMMAND_TIMEOUT_MS is given up. Either way the request is counted by
 * rate-limiter-flexible's insurance limiter in this process's memory (same
 * windows, so per replica: N replicas allow N times the rate) until Redis
 * answers again. The start of such an outage is logged once, and its end once.
 *
 * ioredis rather than node-redis: it has a per-command timeout (a Redis that
 * hangs without closing the connection must not hang requests), it keeps
 * reconnecting on its own, and it is the client rate-limiter-flexible's Redis
 * limiter is built and documented around.
 */
export class SharedRateLimiter implements Limiter {
  private readonly redis: Redis;
  private readonly limiter: RateLimiterRedis;
  /** Whether Redis is known to be out of reach (undefined: not known yet). */
  private down: boolean | undefined;
  /** Times the memory limiter stood in for Redis: a take that ends with it unchanged was counted in Redis. */
  private fallbacks = 0;
  private closed = false;

  constructor(
    readonly perMinute: number,
    url: string,
    private readonly logger: Logger,
    private readonly events: SharedRateLimitEvents,
  ) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => (this.closed ? null : Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS)),
    });
    this.redis.on('ready', () => this.reachable());
    this.redis.on('error', (err: Error) => this.unreachable(err.message));
    this.redis.on('close', () => this.unreachable('the connection closed'));
    this.limiter = new RateLimiterRedis({
      storeClient: this.redis,
      points: perMinute,
      duration: WINDOW_SECONDS,
      keyPrefix: KEY_PREFIX,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new Insurance(perMinute, () => {
        this.fallbacks++;
        // Before the first connection is made, requests are counted in memory without a word: a failed connection says more.
        if (this.down !== undefined) this.unreachable('no answer in time');
      }),
    });
  }

  async take(client: string, cost: number): Promise<RateDecision> {
    const before = this.fallbacks;
    try {
      await this.limiter.consume(client, Math.min(Math.max(1, Math.ceil(cost)), this.perMinute));
      return { allowed: true };
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
    } finally {
      if (this.fallbacks === before && this.redis.status === 'ready') this.reachable();
    }
  }

  async spend(client: string, cost: number): Promise<void> {
    if (cost <= 0) return;
    await this.limiter.penalty(client, Math.ceil(cost));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.redis.disconnect();
  }

  private reachable(): void {
    if (this.down === false) return;
    if (this.down) this.logger.info('Redis answers again: the rate limit is shared by every replica again');
    this.down = false;
    this.events.shared(true);
  }

  private unreachable(reason: string): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.events.shared(false);
    this.logger.warn(
      { reason },
      'Redis is out of reach: the rate limit is counted in this replica’s memory until it answers again',
    );
  }
}
