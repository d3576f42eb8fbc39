/**
 * Metrics for a fleet, scraped from /metrics after real requests: GraphQL
 * operation durations by operation name (anonymous ones and names past the
 * cap under fixed labels), store-call latency by operation and outcome, HTTP
 * request durations by route, and downloads in flight.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startServer, type TestServer } from '../support/app.js';
import { MiB } from '../support/data.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';

const [store] = testStores();

/** The value of one sample of the exposition, 0 when absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics for a fleet', () => {
  let server: TestServer;
  let s3: S3Client;
  let bucket: string;
  const scrape = async () => (await fetch(`${server.base}/metrics`)).text();

  beforeAll(async () => {
    s3 = s3Client(store!);
    bucket = await createTestBucket(s3, 'metrics');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: Buffer.alloc(32 * MiB, 7) }));
    server = await startServer(store!, { RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(async () => {
    await server?.close();
    await removeBucket(s3, bucket);
    s3.destroy();
  });

  it('GraphQL operation durations by name; anonymous operations as "anonymous"', async () => {
    for (let i = 0; i < 2; i++) expect((await server.gql('query Names { viewer { name } }')).errors).toBeUndefined();
    await server.gql('{ viewer { name } }');
    await server.gql(`query Missing { bucket(name: "${bucket}-none") { name } }`);
    await server.gql(`query Found { bucket(name: "${bucket}") { name } }`);
    const text = await scrape();
    const count = 's3graphql_graphql_operation_duration_seconds_count';
    expect(sample(text, count, 'name="Names",type="query",outcome="ok"')).toBe(2);
    expect(sample(text, count, 'name="anonymous",type="query",outcome="ok"')).toBe(1);
    expect(
      sample(
        text,
        's3graphql_graphql_operation_duration_seconds_bucket',
        'le="+Inf",name="Names",type="query",outcome="ok"',
      ),
    ).toBe(2);
    // The missing bucket: an error outcome of the store call that asked for it.
    expect(text).toMatch(
      /^s3graphql_store_call_duration_seconds_count\{operation="HeadBucket",outcome="error"\} [1-9]/m,
    );
    expect(text).toMatch(/^s3graphql_store_call_duration_seconds_count\{operation="HeadBucket",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(
      /^s3graphql_http_request_duration_seconds_count\{route="graphql",method="POST",status="200"\} [4-9]/m,
    );
  });

  it('past 200 distinct operation names, new names count as "other"', async () => {
    for (let i = 0; i < 205; i++) await server.gql(`query Op${i} { viewer { name } }`);
    const text = await scrape();
    const names = new Set(
      [...text.matchAll(/^s3graphql_graphql_operation_duration_seconds_count\{name="([^"]+)"/gm)].map((m) => m[1]),
    );
    expect(names.size).toBeLessThanOrEqual(202);
    expect(names.has('other')).toBe(true);
    expect(names.has('Op0')).toBe(true);
    expect(names.has('Op204')).toBe(false);
  });

  it('a download in flight is counted until it ends', async () => {
    expect(sample(await scrape(), 's3graphql_downloads_in_flight', '')).toBe(0);
    const res = await fetch(`${server.base}/objects/${bucket}/big`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    expect(sample(await scrape(), 's3graphql_downloads_in_flight', '')).toBe(1);
    await reader.cancel();
    expect(await eventually(async () => sample(await scrape(), 's3graphql_downloads_in_flight', '') === 0)).toBe(true);
  });
});
