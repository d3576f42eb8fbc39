/**
 * CORS_ORIGINS and PUBLIC_URL: origins as a browser writes them in its
 * `Origin` header (scheme://host[:port], no path), checked here so that a
 * typo is refused at start-up instead of silently granting nothing.
 */
import { withoutUserinfo } from './userinfo.js';

/** `value` as an origin, or what is wrong with it. */
function originOf(value: string): { origin: string } | { problem: string } {
  const shown = withoutUserinfo(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: `"${shown}" is not an origin such as https://app.example.com` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { problem: `"${shown}" is not an http or https origin` };
  }
  if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return { problem: `"${shown}" has more than scheme://host[:port] (no path, query or user)` };
  }
  // Browsers send the serialised origin: lower-case host, no default port, no trailing slash.
  if (value !== url.origin) return { problem: `"${shown}" is not written as browsers send it: use ${url.origin}` };
  return { origin: url.origin };
}

/**
 * CORS_ORIGINS: a comma-separated list of exact origins, or `*` alone; an
 * empty list when unset. `*` needs API keys and no anonymous access: with
 * anonymous access any web page a user opens could drive the server.
 */
export function readCorsOrigins(
  raw: string | undefined,
  access: { apiKeys: number; allowAnonymous: boolean },
  problems: string[],
): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) problems.push('CORS_ORIGINS: "*" stands alone, not in a list of origins');
    else if (access.apiKeys === 0 || access.allowAnonymous) {
      problems.push(
        'CORS_ORIGINS: "*" needs API_KEYS and no ALLOW_ANONYMOUS (with anonymous access any web page could drive the server); list the origins instead',
      );
    }
    return ['*'];
  }
  const origins: string[] = [];
  for (const entry of entries) {
    const checked = originOf(entry);
    if ('problem' in checked) problems.push(`CORS_ORIGINS: ${checked.problem}`);
    else origins.push(checked.origin);
  }
  return origins;
}

/** PUBLIC_URL: the API's origin as clients reach it; a path is refused, since presigned URLs sign theirs. */
export function readPublicUrl(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined) return undefined;
  const checked = originOf(raw.trim().replace(/\/$/, ''));
  if ('problem' in checked) {
    problems.push(`PUBLIC_URL: ${checked.problem}`);
    return undefined;
  }
  return checked.origin;
}
