/**
 * Serving what scripts/build-web.mjs builds (GraphiQL's page and the web
 * console): a page with its Content-Security-Policy, and the hashed files of
 * an assets folder, each found by its exact name (no path from a request
 * reaches the disk), with the gzip copy the build wrote for clients that
 * accept it.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorBody, sendJson } from './respond.js';

/** What `npm ci` builds (scripts/build-web.mjs): dist/web/ at the repository's root, from src/ and dist/ alike. */
export const BUILT_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  file: string;
  type: string;
  size: number;
  /** The gzip copy the build wrote, for clients that accept it. */
  gzip?: { file: string; size: number };
}

/**
 * An HTML page of ours, kept on this server by `csp`, never cached without a check (the assets it names change);
 * 503 saying how to build it when `html` is missing (`what`: the page's name in that message).
 */
export function sendPage(res: ServerResponse, html: string | undefined, csp: string, what: string): void {
  if (html === undefined) {
    const message = `${what} is not built: run \`npm run build:web\` (npm ci does it), then restart the server.`;
    sendJson(res, 503, errorBody('INTERNAL_SERVER_ERROR', message));
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'content-security-policy': csp,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

/** The files of one built assets folder, served under `prefix` (what the page's URLs start with). */
export class BuiltAssets {
  private readonly assets = new Map<string, Asset>();

  /** `what` names the assets in a 404 ("GraphiQL asset"). */
  constructor(
    dir: string,
    private readonly prefix: string,
    private readonly what: string,
  ) {
    const names = existsSync(dir) ? readdirSync(dir) : [];
    for (const name of names) {
      const type = CONTENT_TYPES[extname(name)];
      if (!type) continue;
      const file = join(dir, name);
      const gzip = names.includes(`${name}.gz`) ? `${file}.gz` : undefined;
      this.assets.set(name, {
        file,
        type,
        size: statSync(file).size,
        ...(gzip && { gzip: { file: gzip, size: statSync(gzip).size } }),
      });
    }
  }

  /** `GET`/`HEAD {prefix}{name}`: the built file, cached for a year (its name changes with its content). */
  send(req: IncomingMessage, res: ServerResponse, path: string): void {
    const asset = this.assets.get(path.slice(this.prefix.length));
    if (!asset) {
      sendJson(res, 404, errorBody('BAD_USER_INPUT', `There is no ${this.what} by this name.`));
      return;
    }
    const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? asset.gzip : undefined;
    const sent = gzip ?? asset;
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': String(sent.size),
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
      ...(asset.gzip && { vary: 'accept-encoding' }),
      ...(gzip && { 'content-encoding': 'gzip' }),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(sent.file);
    stream.once('error', (err) => res.destroy(err));
    stream.pipe(res);
  }
}
