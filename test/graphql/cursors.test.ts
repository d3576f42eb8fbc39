/**
 * Listing cursors over HTTP, against every test store: a cursor the server
 * did not sign for this bucket, prefix and delimiter (tampered, oversize, not
 * base64url, signed with another secret, taken from another listing) is
 * BAD_USER_INPUT for `after` before any ListObjectsV2 and without an error
 * line in the log; a real walk over several pages follows endCursor to the
 * end, also when each page is asked of another replica.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../src/config/index.js';
import { createTestBucket, removeBucket, s3Client, testStores } from '../support/stores.js';
import { ListObjectsDocument, type ListObjectsQuery, type ListObjectsQueryVariables } from './__generated__/graphql.js';
import { codes, startServer, type GqlResponse, type TestServer } from '../support/app.js';

/** Log lines at error level or above (pino's 50). */
const errorLines = (lines: Record<string, unknown>[]) => lines.filter((line) => Number(line.level) >= 50);

describe.each(testStores())('listing cursors on $name', (store) => {
  const s3 = s3Client(store);
  let app: TestServer;
  /** Another replica: the same store and keys, so the same cursor secret. */
  let replica: TestServer;
  /** A server with a CURSOR_SECRET of its own. */
  let stranger: TestServer;
  let bucket: string;
  let other: string;
  const keys = [...Array.from({ length: 7 }, (_, i) => `p/${i}.txt`), 'p/sub/a.txt', 'p/sub/b.txt', 'q.txt'].sort();

  beforeAll(async () => {
    [app, replica, stranger] = await Promise.all([
      startServer(store),
      startServer(store),
      startServer(store, { CURSOR_SECRET: 'another-deployment-another-secret-0123' }),
    ]);
    bucket = await createTestBucket(s3, 'gql-cursors');
    other = await createTestBucket(s3, 'gql-cursors-other');
    for (const key of keys) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      await s3.send(new PutObjectCommand({ Bucket: other, Key: key, Body: key }));
    }
  });

  afterAll(async () => {
    await Promise.all([app.close(), replica.close(), stranger.close()]);
    await removeBucket(s3, bucket);
    await removeBucket(s3, other);
    s3.destroy();
  });

  /** Follows endCursor to the end, asking page i of servers[i % n]: the keys and prefixes seen, and the pages. */
  async function walk(servers: TestServer[], variables: ListObjectsQueryVariables) {
    const seen: string[] = [];
    const prefixes: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const server = servers[pages % servers.length]!;
      server.resetCalls();
      const res: GqlResponse<ListObjectsQuery> = await server.gql(ListObjectsDocument, { ...variables, after });
      expect(res.errors).toBeUndefined();
      expect(server.calls).toEqual(['ListObjectsV2']);
      const page = res.data!.bucket!.objects;
      seen.push(...page.edges.map((e) => e.node.key));
      prefixes.push(...page.prefixes);
      pages += 1;
      if (!page.pageInfo.hasNextPage) return { seen, prefixes, pages };
      after = page.pageInfo.endCursor;
    }
  }

  it('a walk of several pages follows endCursor to the end, page after page on alternating replicas', async () => {
    const all = await walk([app, replica], { bucket, first: 3 });
    expect(all.seen).toEqual(keys);
    expect(all.pages).toBe(4);

    const level = await walk([replica, app], { bucket, prefix: 'p/', delimiter: '/', first: 2 });
    expect(level.seen).toEqual(keys.filter((k) => /^p\/[^/]+$/.test(k)));
    expect(level.prefixes).toEqual(['p/sub/']);
  });

  it('an edge cursor starts the page right after its key', async () => {
    const first = await app.gql(ListObjectsDocument, { bucket, prefix: 'p/', first: 2 });
    const edge = first.data!.bucket!.objects.edges[1]!;
    const rest = await replica.gql(ListObjectsDocument, { bucket, prefix: 'p/', first: 2, after: edge.cursor });
    expect(rest.errors).toBeUndefined();
    expect(rest.data!.bucket!.objects.edges.map((e) => e.node.key)).toEqual(
      keys.filter((k) => k.startsWith('p/')).slice(2, 4),
    );
  });

  /** A first page's cursors: its second edge's and its endCursor (a continuation token). */
  async function cursorsOf(server: TestServer, variables: ListObjectsQueryVariables) {
    const res = await server.gql(ListObjectsDocument, { ...variables, first: 2 });
    expect(res.errors).toBeUndefined();
    const page = res.data!.bucket!.objects;
    expect(page.pageInfo.hasNextPage).toBe(true);
    return { edge: page.edges[1]!.cursor, end: page.pageInfo.endCursor! };
  }

  /** The same cursor with one base64url character changed. */
  const tampered = (cursor: string, at: number) => {
    const i = at < 0 ? cursor.length + at : at;
    return `${cursor.slice(0, i)}${cursor[i] === 'A' ? 'B' : 'A'}${cursor.slice(i + 1)}`;
  };

  it('refuses every cursor it did not sign for this listing with BAD_USER_INPUT, before any ListObjectsV2 and without an error log line', async () => {
    const mine = await cursorsOf(app, { bucket, prefix: 'p/' });
    const foreign = await cursorsOf(stranger, { bucket, prefix: 'p/' });
    const otherBucket = await cursorsOf(app, { bucket: other, prefix: 'p/' });
    const noPrefix = await cursorsOf(app, { bucket });
    const withDelimiter = await cursorsOf(app, { bucket, prefix: 'p/', delimiter: '/' });
    const cases: [string, string][] = [
      // base64url of "t:zzz": a continuation token the store never made.
      ['an unsigned token', 'dDp6eno'],
      ['an unsigned key', Buffer.from('k:p/3.txt').toString('base64url')],
      ['a 20 KB cursor', Buffer.from(`t:${'z'.repeat(15_000)}`).toString('base64url')],
      ['not base64url', 'not a cursor!'],
      ['a changed MAC', tampered(mine.edge, 5)],
      ['a changed key', tampered(mine.edge, -1)],
      ['a changed token', tampered(mine.end, -1)],
      ['an edge cursor of another secret', foreign.edge],
      ['an endCursor of another secret', foreign.end],
      ['an edge cursor of another bucket', otherBucket.edge],
      ['an endCursor of another bucket', otherBucket.end],
      ['an edge cursor of the listing without a prefix', noPrefix.edge],
      ['an endCursor of the listing without a prefix', noPrefix.end],
      ['a cursor of the listing with a delimiter', withDelimiter.end],
    ];
    for (const [why, after] of cases) {
      app.resetCalls();
      const logged = app.logs.length;
      const res = await app.gql(ListObjectsDocument, { bucket, prefix: 'p/', first: 2, after });
      expect(codes(res), why).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.argument, why).toBe('after');
      expect(res.errors![0]!.message, why).toMatch(/^after: /);
      expect(res.errors![0]!.path, why).toEqual(['bucket', 'objects']);
      // bucket(name) still checks the bucket, with one HeadBucket; the listing never reaches the store.
      expect(app.calls, why).toEqual(['HeadBucket']);
      expect(errorLines(app.logs.slice(logged)), why).toEqual([]);
    }
    // The same cursors, in their own listings, are taken.
    const own = await app.gql(ListObjectsDocument, { bucket: other, prefix: 'p/', first: 2, after: otherBucket.end });
    expect(own.errors).toBeUndefined();
  });
});

describe('the cursor secret', () => {
  it('CURSOR_SECRET must be at least 32 characters, and a refusal does not echo it', () => {
    const env = { S3_ENDPOINT: 'http://127.0.0.1:9', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret' };
    expect(loadConfig(env).cursorSecret).toBeUndefined();
    expect(loadConfig({ ...env, CURSOR_SECRET: 'c'.repeat(32) }).cursorSecret).toBe('c'.repeat(32));
    let problems: string[] = [];
    try {
      loadConfig({ ...env, CURSOR_SECRET: 'short-secret-value' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(/^CURSOR_SECRET: must be at least 32 characters/)]);
    expect(problems.join('\n')).not.toContain('short-secret-value');
  });

  it('with the embedded store, cursors are signed with its generated key, so they outlive a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-cursor-'));
    const env = { DATA_DIR: dataDir, EMBEDDED_S3_PORT: '0', LOG_LEVEL: 'silent' };
    /** Starts the whole app on its data dir and sends one operation to it. */
    const run = async <T>(query: string, variables: Record<string, unknown>) => {
      const app = await startServer(undefined, env);
      try {
        return await app.gql<T>(query, variables);
      } finally {
        await app.close();
      }
    };
    try {
      const app = await startServer(undefined, env);
      await app.store.createBucket('paged');
      for (const key of ['a', 'b', 'c']) {
        await app.store.uploadStream('paged', key, Readable.from([Buffer.from(key)]), { maxBytes: 1 });
      }
      await app.close();

      const first = await run<ListObjectsQuery>(ListObjectsDocument.toString(), { bucket: 'paged', first: 2 });
      expect(first.errors).toBeUndefined();
      const page = first.data!.bucket!.objects;
      expect(page.edges.map((e) => e.node.key)).toEqual(['a', 'b']);
      const rest = await run<ListObjectsQuery>(ListObjectsDocument.toString(), {
        bucket: 'paged',
        first: 2,
        after: page.pageInfo.endCursor,
      });
      expect(rest.errors).toBeUndefined();
      expect(rest.data!.bucket!.objects.edges.map((e) => e.node.key)).toEqual(['c']);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
