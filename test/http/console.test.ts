/**
 * The web console's page and assets over HTTP: `/` with a policy that keeps
 * it on this server, a first load of at most 300 KiB of JavaScript and CSS
 * gzipped (and none of GraphiQL's code), and CONSOLE=false turning it off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/app.js';
import { testStores } from '../support/stores.js';

const store = testStores()[0]!;
const FIRST_LOAD_LIMIT = 300 * 1024;

/** The assets `/` names (scripts, module preloads, styles): what a browser loads first. */
const assetsOf = (html: string) => [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);

describe('the web console over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(store);
  });
  afterAll(() => server?.close());

  it('serves the page on / with a same-origin policy', async () => {
    const res = await fetch(`${server.base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await res.text();
    expect(html).toContain('<div id="console">');
    expect(assetsOf(html).length).toBeGreaterThan(0);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });

  it('loads at most 300 KiB of JavaScript and CSS gzipped at first, none of it GraphiQL', async () => {
    const html = await (await fetch(`${server.base}/`)).text();
    let gzipped = 0;
    for (const path of assetsOf(html)) {
      const res = await fetch(`${server.base}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe('gzip');
      gzipped += Number(res.headers.get('content-length'));
      // fetch has decompressed the body: its text is the code itself.
      // (Monaco, and GraphiQL's class names, which all start with graphiql-.)
      const code = await res.text();
      expect(/monaco|graphiql-/i.test(code), path).toBe(false);
    }
    console.log(`console first load: ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
    expect(gzipped).toBeGreaterThan(0);
    expect(gzipped).toBeLessThanOrEqual(FIRST_LOAD_LIMIT);
  });

  it('serves only the files the build wrote under /console/assets/', async () => {
    for (const path of ['/console/assets/nothing.js', '/console/assets/../../package.json', '/console/index.html']) {
      expect((await fetch(`${server.base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${server.base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('names / among the routes when a path is not one', async () => {
    const missing = await fetch(`${server.base}/nowhere`);
    expect(missing.status).toBe(404);
    const { errors } = (await missing.json()) as { errors: { message: string }[] };
    expect(errors[0]!.message).toMatch(
      /^There is nothing at this path: the routes are \/ \(the web console\), \/graphql, /,
    );
  });
});

describe('CONSOLE=false', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(store, { CONSOLE: 'false' });
  });
  afterAll(() => server?.close());

  it('serves nothing at / or under /console/assets/', async () => {
    const page = await fetch(`${server.base}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    const { errors } = (await page.json()) as { errors: { message: string }[] };
    expect(errors[0]!.message).toMatch(/^There is nothing at this path: the routes are \/graphql, /);
    const html = await (await fetch(`${server.base}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).not.toContain('id="console"');
    const enabled = await startServer(store);
    try {
      const asset = assetsOf(await (await fetch(`${enabled.base}/`)).text())[0]!;
      expect((await fetch(`${server.base}${asset}`)).status).toBe(404);
    } finally {
      await enabled.close();
    }
  });
});
