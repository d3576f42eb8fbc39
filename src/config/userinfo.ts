/**
 * Values echoed in configuration problems are shown without the `user:password@`
 * of a URL in them: a mistyped endpoint (wrong scheme, a stray character)
 * still carries its credentials, and the problem goes to the log.
 */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `text` with each URL's (or `user:password@host`'s) userinfo replaced by `[redacted]`. */
export function withoutUserinfo(text: string): string {
  return text.replace(/\S+/g, (word) => {
    const scheme = SCHEME.exec(word)?.[0] ?? '';
    const rest = word.slice(scheme.length);
    const authorityEnd = rest.search(/[/?#]/);
    const at = (authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)).lastIndexOf('@');
    return at === -1 ? word : `${scheme}[redacted]${rest.slice(at)}`;
  });
}
