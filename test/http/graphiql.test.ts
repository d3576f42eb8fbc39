/**
 * GraphiQL's page and assets over HTTP (the browser tests are in
 * test/browser/): the page keeps to the server's origin (CSP), carries the
 * example query, and its assets come with their content types and long
 * caching; nothing else on disk is reachable, and GRAPHIQL=false serves none
 * of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphiQL } from '../../src/http/routes/graphiql.js';
import { startServer, type TestServer } from '../support/app.js';
import { testStores } from '../support/stores.js';

const store = testStores()[0]!;
const page = (base: string) => fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });

describe('GraphiQL over HTTP', () => {
  let server: TestServer;
  let off: TestServer;

  beforeAll(async () => {
    server = await startServer(store);
    off = await startServer(store, { GRAPHIQL: 'false' });
  });

  afterAll(async () => {
    await server?.close();
    await off?.close();
  });

  it('answers a browser on GET /graphql with the page, kept to its own origin', async () => {
    const res = await page(server.base);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    const options = JSON.parse(
      html.match(/<script id="graphiql-options" type="application\/json">(.*?)<\/script>/)![1]!,
    );
    expect(options.endpoint).toBe('/graphql');
    expect(options.defaultQuery).toMatch(/query BucketsAndObjects[\s\S]*buckets[\s\S]*objects\(/);
  });

  it('serves every asset the page names, with its type and a year of caching, gzipped when asked', async () => {
    const html = await (await page(server.base)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/graphiql\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const plain = await fetch(`${server.base}${asset}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('content-type')).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('content-encoding')).toBeNull();
      const body = await plain.arrayBuffer();
      expect(Number(plain.headers.get('content-length'))).toBe(body.byteLength);

      // Node's fetch asks for gzip and inflates the answer.
      const zipped = await fetch(`${server.base}${asset}`);
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(Buffer.from(await zipped.arrayBuffer()).equals(Buffer.from(body))).toBe(true);
    }
  });

  it('serves nothing but the built assets', async () => {
    for (const path of [
      '/graphiql/assets/nothing.js',
      '/graphiql/assets/../../package.json',
      '/graphiql/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/graphiql/assets/',
      '/graphiql/index.html',
    ]) {
      const res = await fetch(`${server.base}${path}`);
      expect(res.status, path).toBe(404);
    }
    const post = await fetch(`${server.base}/graphiql/assets/x.js`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('serves neither the page nor its assets when GRAPHIQL=false', async () => {
    const html = await (await page(server.base)).text();
    const asset = html.match(/src="(\/graphiql\/assets\/[^"]+)"/)![1]!;
    const res = await page(off.base);
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect((await fetch(`${off.base}${asset}`)).status).toBe(404);
  });

  it('says how to build the page when it was not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'graphiql-unbuilt-'));
    const graphiql = new GraphiQL({ endpoint: '/graphql', dir: empty });
    const bare = createServer((_req, res) => graphiql.sendPage(res)).listen(0, '127.0.0.1');
    await new Promise((resolve) => bare.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/graphql`);
      expect(res.status).toBe(503);
      expect((await res.json()).errors[0].message).toMatch(/npm run build:web/);
    } finally {
      bare.close();
      rmSync(empty, { recursive: true });
    }
  });
});
