/**
 * The rate limit shared by replicas through Redis (REDIS_URL): two servers
 * counting in one real redis-server together allow the configured rate, not
 * twice it; a refusal is RATE_LIMITED with 429 and a sensible Retry-After;
 * when Redis dies, requests are still answered at once, each replica counts
 * in its own memory, and the outage is logged once (its end too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, metricValue, outcome, startServer, type GqlResponse, type TestServer } from '../support/app.js';
import { type RedisServer, redisServerMissing, startRedis } from '../support/redis.js';
import { storeForSecurity, testStores } from '../support/stores.js';

const RATE = 6;
const keys = ['first', 'second', 'third', 'fourth'] as const;
const token = (name: string) => `shared-limit-${name}-0123456789`;
const API_KEYS = JSON.stringify({
  keys: keys.map((name) => ({ name, token: token(name), grants: [{ bucket: '*', role: 'admin' }] })),
});
const auth = (name: string) => ({ authorization: `Bearer ${token(name)}` });

const missing = redisServerMissing();
if (missing) console.warn(`skipping the shared rate limit tests: ${missing}`);

const outageLines = (server: TestServer) => server.logs.filter((l) => /^Redis is out of reach/.test(String(l.msg)));
const backLines = (server: TestServer) => server.logs.filter((l) => /^Redis answers again/.test(String(l.msg)));

describe.skipIf(missing !== undefined)('the rate limit shared through Redis (REDIS_URL)', () => {
  const store = storeForSecurity(testStores());
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;

  const typename = (server: TestServer, key: string) => server.gql('{ __typename }', {}, auth(key));
  const shared = async (server: TestServer) => (await metricValue(server.metrics, 's3graphql_rate_limit_shared')) === 1;

  beforeAll(async () => {
    redis = await startRedis();
    const env = { API_KEYS, RATE_LIMIT_PER_MINUTE: String(RATE), REDIS_URL: redis.url };
    a = await startServer(store, env);
    b = await startServer(store, env);
    expect(await eventually(async () => (await shared(a)) && (await shared(b)))).toBe(true);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('two replicas together allow the configured rate, not twice it; the refusal is RATE_LIMITED, 429, Retry-After', async () => {
    // A batch of three on one replica (charged by its operations), three single requests on the other.
    const batch = await fetch(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth('first') },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(batch.status).toBe(200);
    await batch.arrayBuffer();
    for (let i = 0; i < RATE - 3; i++) expect(outcome(await typename(b, 'first'))).toBe('OK');

    const refusals: GqlResponse[] = [await typename(a, 'first'), await typename(b, 'first')];
    for (const over of refusals) {
      expect(over.status).toBe(429);
      expect(over.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(over.errors?.[0]?.message).toContain(`retry in ${retryAfter} s`);
    }
    const download = await fetch(`${b.base}/objects/some-bucket/k`, { headers: auth('first') });
    expect(download.status).toBe(429);
    expect(Number(download.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await download.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });

    expect(await metricValue(a.metrics, 's3graphql_rate_limit_refusals_total', { route: 'graphql' })).toBe(1);
    expect(await metricValue(b.metrics, 's3graphql_rate_limit_refusals_total', { route: 'graphql' })).toBe(1);
    expect(await metricValue(b.metrics, 's3graphql_rate_limit_refusals_total', { route: 'objects' })).toBe(1);
    // Another key has its own allowance.
    expect(outcome(await typename(a, 'second'))).toBe('OK');
  });

  it('Redis gone: requests are answered at once, each replica counts in its memory, one log line per outage', async () => {
    await redis.kill();
    const started = performance.now();
    const statuses = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < RATE + 2; i++) {
      statuses.a.push((await typename(a, 'third')).status);
      statuses.b.push((await typename(b, 'third')).status);
    }
    const perRequestMs = (performance.now() - started) / (2 * (RATE + 2));
    // Per replica: each allows the rate on its own while Redis is away.
    const expected = [...Array<number>(RATE).fill(200), 429, 429];
    expect(statuses).toEqual({ a: expected, b: expected });
    expect(perRequestMs).toBeLessThan(250);
    for (const server of [a, b]) {
      expect(outageLines(server)).toHaveLength(1);
      expect(outageLines(server)[0]).toMatchObject({ level: 40, component: 'rate-limit' });
      expect(await metricValue(server.metrics, 's3graphql_rate_limit_shared')).toBe(0);
    }

    // Back on the same port: shared again, and that is logged once too.
    redis = await startRedis(redis.port);
    expect(await eventually(async () => (await shared(a)) && (await shared(b)), 10_000)).toBe(true);
    for (let i = 0; i < RATE; i++) expect(outcome(await typename(i % 2 ? a : b, 'fourth'))).toBe('OK');
    expect((await typename(a, 'fourth')).status).toBe(429);
    for (const server of [a, b]) {
      expect(outageLines(server)).toHaveLength(1);
      expect(backLines(server)).toHaveLength(1);
      expect(server.logText()).not.toContain(token('third'));
    }
  });
});
