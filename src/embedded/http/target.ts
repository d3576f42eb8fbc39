/**
 * The request target (`/bucket/key?query`), parsed once: the signature check
 * (auth/sigv4.ts) and the router (router.ts) both read this result, so a request
 * cannot be signed as one thing and served as another.
 *
 * Targets two readers could take apart differently are refused with
 * InvalidURI (400) rather than guessed at: anything but origin-form (an
 * absolute URL, `*`), a `#` (WHATWG URL parsing drops what follows it, a
 * plain split does not), a `%` not followed by two hex digits or escapes
 * that do not decode to UTF-8 (URLSearchParams keeps the one and replaces
 * the other), a parameter without a name, and a parameter given twice (the
 * signature covers both values, the router would read one). Node's parser
 * already refuses spaces, control characters and non-ASCII bytes; they are
 * refused here too, so that the rule does not rest on parser settings.
 */
import { S3Error } from '../errors.js';

export interface RequestTarget {
  /** The path exactly as sent, escapes and dot segments kept: what the client signed. */
  path: string;
  /** Decoded; undefined for the service (`/`). */
  bucket?: string;
  /** Decoded; undefined for the bucket itself. */
  key?: string;
  /** Decoded query parameters, each name once. */
  query: URLSearchParams;
}

/** Printable ASCII without `#`: what an origin-form target may hold here. */
const TARGET_CHARS = /^[!"$-~]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

function invalidUri(): S3Error {
  return new S3Error('InvalidURI', "Couldn't parse the specified URI.");
}

/** Percent-decoding that refuses what decodeURIComponent refuses (bad escapes, invalid UTF-8). */
function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidUri();
  }
}

/** `+` is a space in a query, as URLSearchParams and the SDK's signers read it. */
function decodeQueryPart(raw: string): string {
  return decode(raw.replaceAll('+', ' '));
}

/**
 * `basePath` (e.g. `/s3`, when the store is served under it on another
 * server's port) is left out of the bucket and key, and kept in `path`: the
 * client signed the path it sent.
 */
export function parseTarget(raw: string, basePath = ''): RequestTarget {
  if (!raw.startsWith('/') || !TARGET_CHARS.test(raw) || BAD_ESCAPE.test(raw)) throw invalidUri();
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  if (path !== basePath && !path.startsWith(`${basePath}/`)) throw invalidUri();
  const query = new URLSearchParams();
  if (q !== -1) {
    for (const pair of raw.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq));
      if (name === '' || query.has(name)) throw invalidUri();
      query.append(name, eq === -1 ? '' : decodeQueryPart(pair.slice(eq + 1)));
    }
  }
  const rest = path.slice(basePath.length + 1);
  const slash = rest.indexOf('/');
  const bucket = decode(slash === -1 ? rest : rest.slice(0, slash));
  const key = slash === -1 ? '' : decode(rest.slice(slash + 1));
  return {
    path,
    query,
    ...(bucket !== '' ? { bucket } : {}),
    ...(key !== '' ? { key } : {}),
  };
}
