import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { BUILT_DIR, BuiltAssets, sendPage } from '../built-assets.js';

/** Where the page's scripts, styles, fonts and editor workers are served (the base of scripts/build-web.mjs). */
export const GRAPHIQL_ASSETS_PREFIX = '/graphiql/assets/';

/** What GraphiQL opens with: the buckets, and the first level of each. */
const GRAPHIQL_DEFAULT_QUERY = `# s3-graphql: buckets and objects in S3-compatible storage.
# Press the run button. The Docs panel lists every query and mutation;
# the Files panel (paperclip) binds files to Upload variables.

query BucketsAndObjects {
  buckets {
    name
    createdAt
    objects(first: 20, delimiter: "/") {
      prefixes
      edges {
        node {
          key
          size
          lastModified
          url(expiresIn: 600)
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
`;

/**
 * Everything the page loads comes from this server: scripts and workers,
 * styles (GraphiQL and Monaco set inline styles), fonts (some inlined as data:
 * URLs), and requests to /graphql. Nothing may frame it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A browser asking for a page, as Yoga told GraphiQL requests apart: a GET that accepts text/html. */
export const wantsPage = (req: IncomingMessage) =>
  req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');

/** `<` escaped, so the JSON cannot end the script element it is written into. */
const jsonInHtml = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * GraphiQL, built from web/ into `dir` (scripts/build-web.mjs): the page
 * (on `GET /graphql` for browsers, see routes/graphql.ts) and its assets
 * under GRAPHIQL_ASSETS_PREFIX. Only the files the build wrote are served,
 * each found by its exact name: no path from a request reaches the disk.
 * Without a build, the page says how to make one.
 */
export class GraphiQL {
  private readonly page: string | undefined;
  private readonly assets: BuiltAssets;

  constructor(options: { endpoint: string; dir?: string }) {
    const dir = options.dir ?? BUILT_DIR;
    this.assets = new BuiltAssets(join(dir, 'assets'), GRAPHIQL_ASSETS_PREFIX, 'GraphiQL asset');
    const index = join(dir, 'index.html');
    if (!existsSync(index)) return;
    const settings = jsonInHtml({ endpoint: options.endpoint, defaultQuery: GRAPHIQL_DEFAULT_QUERY });
    this.page = readFileSync(index, 'utf8').replace(
      '<!--graphiql-options-->',
      `<script id="graphiql-options" type="application/json">${settings}</script>`,
    );
  }

  /** The page, with its options and a Content-Security-Policy that keeps it on this server. */
  sendPage(res: ServerResponse): void {
    sendPage(res, this.page, CONTENT_SECURITY_POLICY, 'GraphiQL');
  }

  /** `GET`/`HEAD /graphiql/assets/{name}`: the built file, cached for a year (its name changes with its content). */
  sendAsset(req: IncomingMessage, res: ServerResponse, path: string): void {
    this.assets.send(req, res, path);
  }
}
