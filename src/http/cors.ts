import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, sendJson } from './respond.js';

/**
 * CORS for frontends served from other origins (CORS_ORIGINS), on `/graphql`
 * and `/objects/…` only. Preflights are answered here, before authentication
 * and the rate limit (a browser sends them without credentials) and never
 * reach Yoga. A listed origin is granted (its own value echoed back, with
 * `Vary: Origin`); any other gets no grant: its preflight is refused with 403
 * and its actual answers carry no Access-Control-Allow-Origin, so the browser
 * keeps them from the page.
 */

/** Request headers clients send: auth, JSON bodies, Apollo's and our CSRF headers, request ids, ranges and conditions. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'apollo-require-preflight',
  'x-graphql-csrf',
  'x-request-id',
  'range',
  'if-none-match',
  'if-match',
].join(', ');

/** Response headers a page may read: ids, caching, ranges, file names, and when to retry. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'etag',
  'content-range',
  'content-length',
  'content-disposition',
  'retry-after',
].join(', ');

/** How long a browser may cache a preflight: two hours, Chromium's own cap. */
const MAX_AGE_SECONDS = 7200;

export class Cors {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(origins: readonly string[]) {
    this.anyOrigin = origins.includes('*');
    this.origins = new Set(origins);
  }

  /** Whether any origin is granted at all; otherwise the server adds no CORS header. */
  get enabled(): boolean {
    return this.origins.size > 0;
  }

  private granted(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (origin === undefined || origin === 'null') return undefined;
    return this.anyOrigin || this.origins.has(origin) ? origin : undefined;
  }

  /** Adds the grant, when the request's origin has one, to the answer about to be written. */
  decorate(req: IncomingMessage, res: ServerResponse): void {
    if (!this.enabled) return;
    res.setHeader('vary', 'Origin');
    const origin = this.granted(req);
    if (origin === undefined) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
  }

  /**
   * Answers an OPTIONS request on a CORS route: a preflight from a granted
   * origin gets 204 with what may be sent; a preflight from any other origin
   * 403; an OPTIONS that is no preflight 204 with `Allow`.
   */
  preflight(req: IncomingMessage, res: ServerResponse, methods: string): void {
    const allow = `${methods}, OPTIONS`;
    const isPreflight = req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    if (!isPreflight) {
      res.writeHead(204, { allow });
      res.end();
      return;
    }
    const origin = this.granted(req);
    if (origin === undefined) {
      sendJson(
        res,
        403,
        errorBody('FORBIDDEN', 'This origin is not allowed to call the API from a browser: it is not in CORS_ORIGINS.'),
        this.enabled ? { vary: 'Origin' } : {},
      );
      return;
    }
    res.writeHead(204, {
      allow,
      vary: 'Origin',
      'access-control-allow-origin': origin,
      'access-control-allow-methods': allow,
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': String(MAX_AGE_SECONDS),
    });
    res.end();
  }
}
