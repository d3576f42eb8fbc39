/**
 * The store-call estimate keeps parsed documents (src/graphql/plugins/use-store-call-limit.ts):
 * what that cache holds must stay bounded in heap bytes, whoever sends the documents.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { answerOf, codes, startServer, type TestServer } from '../support/app.js';
import { testStores } from '../support/stores.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer;

beforeAll(async () => {
  server = await startServer(testStores()[0], {
    API_KEYS: JSON.stringify({
      keys: [{ name: 'k', token: 'document-cache-token-0123456789', grants: [{ bucket: '*', role: 'read' }] }],
    }),
    RATE_LIMIT_PER_MINUTE: '0',
  });
});

afterAll(async () => {
  await server.close();
});

const MiB = 1024 * 1024;

it('250 dense documents sent with a wrong key keep less than 200 MiB of parsed trees in all the caches', async () => {
  gc();
  const before = process.memoryUsage().heapUsed;
  // Each document is MAX_QUERY_TOKENS (10,000) tokens in 20 KB of text, all different.
  const fields = Array(9_990).fill('a').join(' ');
  for (let i = 0; i < 250; i++) {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: JSON.stringify({ query: `{ f${i} ${fields} }` }),
    });
    // Parsed, then refused by validation before the wrong key is looked at.
    expect(codes(await answerOf(res))).toEqual(['BAD_USER_INPUT']);
  }
  gc();
  const kept = (process.memoryUsage().heapUsed - before) / MiB;
  // Each cache of parsed documents (the estimate's, Yoga's documents and errors) holds at most 64 MiB.
  expect(kept).toBeLessThan(200);
}, 120_000);
