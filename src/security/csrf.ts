import type { IncomingHttpHeaders } from 'node:http';

/** Content types a browser sends cross-site without a CORS preflight. */
const SIMPLE_CONTENT_TYPES = new Set(['multipart/form-data', 'text/plain', 'application/x-www-form-urlencoded']);

/**
 * Headers whose presence proves the browser made a preflight (Apollo Server's
 * list). Typed, not `as const`: mutation testing leaves `as` expressions alone.
 */
const CSRF_HEADERS: readonly string[] = ['x-graphql-csrf', 'apollo-require-preflight'];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The lower-case `type/subtype` of a Content-Type value, or undefined when it cannot be parsed. */
export function mediaType(value: string): string | undefined {
  const essence = value.split(';', 1)[0]!.trim().toLowerCase();
  const [type, subtype, ...rest] = essence.split('/');
  if (rest.length > 0 || !type || !subtype || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  return `${type}/${subtype}`;
}

const present = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.some((v) => v.trim() !== '') : value !== undefined && value.trim() !== '';

/**
 * Whether a /graphql request could have been sent by a page on another site
 * without a CORS preflight, and so must be refused (CSRF protection, as in
 * Apollo Server): its Content-Type is one of the three CORS-simple types, is
 * unparseable, or is missing on a request that carries a body, and it has
 * none of the `CSRF_HEADERS` with a non-empty value.
 *
 * GET, HEAD and OPTIONS without a Content-Type pass: GET cannot run
 * mutations (Yoga refuses them), and OPTIONS is the preflight itself.
 */
export function isCsrfSuspect(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (CSRF_HEADERS.some((name) => present(headers[name]))) return false;
  const contentType = headers['content-type'];
  if (contentType === undefined || contentType.trim() === '') {
    return !(method === 'GET' || method === 'HEAD' || method === 'OPTIONS');
  }
  const type = mediaType(contentType);
  return type === undefined || SIMPLE_CONTENT_TYPES.has(type);
}

export const CSRF_MESSAGE =
  'This request has a content type a browser may send from any site without a CORS preflight, so it needs a non-empty "x-graphql-csrf" or "Apollo-Require-Preflight" header.';
