import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { AppError, badInput } from './errors.js';

/** Where a page starts: after a key (StartAfter) or at a continuation token. */
export type PageStart = { startAfter: string } | { continuationToken: string };

/** The listing a cursor belongs to: it is valid for these arguments only. */
export interface CursorScope {
  bucket: string;
  prefix: string | undefined;
  delimiter: string | undefined;
}

/** Bytes of the MAC a cursor carries: HMAC-SHA256 truncated to 128 bits (RFC 2104, section 5). */
const CURSOR_MAC_BYTES = 16;
/** The longest key or continuation token a cursor carries (S3 keys are at most 1024 bytes). */
export const MAX_CURSOR_VALUE_BYTES = 2048;
/** The longest cursor this API returns: base64url of a tag byte, the MAC and the longest value. */
export const MAX_CURSOR_LENGTH = Math.ceil(((1 + CURSOR_MAC_BYTES + MAX_CURSOR_VALUE_BYTES) * 4) / 3);

const KEY_TAG = 0x6b; // 'k': StartAfter
const TOKEN_TAG = 0x74; // 't': ContinuationToken
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Listing cursors: opaque, signed and bound to their listing. A cursor is
 * base64url of a tag byte (`k`: start after a key, `t`: a continuation token
 * of the store), a MAC and the key or token; the MAC covers the bucket,
 * prefix and delimiter too. Signed with a key derived from a secret every
 * replica shares (CURSOR_SECRET, else the store's secret access key) by
 * HKDF-SHA256 with a label of its own, so any replica takes any replica's
 * cursors and the secret itself never keys a MAC a client sees.
 */
export class ListingCursors {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, '', 's3-graphql listing cursor v1', 32));
  }

  /** The cursor of a listed key: a page `after` it starts with the next key. */
  ofKey(scope: CursorScope, key: string): string {
    return this.sign(scope, KEY_TAG, key);
  }

  /** The cursor of a continuation token the store returned for a listing. */
  ofToken(scope: CursorScope, token: string): string {
    return this.sign(scope, TOKEN_TAG, token);
  }

  /**
   * Decodes an `after` cursor. Only a cursor this server (or a replica with
   * the same secret) returned for the same bucket, prefix and delimiter is
   * taken; anything else is BAD_USER_INPUT, so it never reaches the store.
   */
  pageStart(after: string | null | undefined, scope: CursorScope, argument = 'after'): PageStart | undefined {
    if (after === null || after === undefined) return undefined;
    if (after.length > MAX_CURSOR_LENGTH) {
      throw badInput(argument, `is longer than any cursor this API returns (at most ${MAX_CURSOR_LENGTH} characters)`);
    }
    const malformed = () => badInput(argument, 'is not a cursor returned by this API');
    if (!BASE64URL.test(after)) throw malformed();
    const bytes = Buffer.from(after, 'base64url');
    if (bytes.length <= 1 + CURSOR_MAC_BYTES || bytes.toString('base64url') !== after) throw malformed();
    const tag = bytes[0]!;
    const value = bytes.subarray(1 + CURSOR_MAC_BYTES);
    const mac = bytes.subarray(1, 1 + CURSOR_MAC_BYTES);
    if ((tag !== KEY_TAG && tag !== TOKEN_TAG) || !timingSafeEqual(mac, this.mac(scope, tag, value))) {
      throw badInput(argument, 'is not a cursor this API returned for this bucket, prefix and delimiter');
    }
    const text = value.toString('utf8');
    return tag === KEY_TAG ? { startAfter: text } : { continuationToken: text };
  }

  private mac(scope: CursorScope, tag: number, value: Buffer): Buffer {
    return (
      createHmac('sha256', this.key)
        // JSON never holds a raw NUL byte, so the scope cannot run into the tag and value.
        .update(JSON.stringify([scope.bucket, scope.prefix ?? '', scope.delimiter ?? '']))
        .update(Buffer.from([0, tag]))
        .update(value)
        .digest()
        .subarray(0, CURSOR_MAC_BYTES)
    );
  }

  private sign(scope: CursorScope, tag: number, text: string): string {
    const value = Buffer.from(text, 'utf8');
    if (value.length > MAX_CURSOR_VALUE_BYTES) {
      throw new AppError(
        'INTERNAL_SERVER_ERROR',
        `the object store returned a key or continuation token longer than the ${MAX_CURSOR_VALUE_BYTES} bytes a cursor holds`,
      );
    }
    return Buffer.concat([Buffer.from([tag]), this.mac(scope, tag, value), value]).toString('base64url');
  }
}
