import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../config/index.js';
import { AppError } from '../core/errors.js';
import type { Role } from './roles.js';

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

/** A role on a bucket, or on every bucket (`*`), as an API key's configuration grants it. */
export type Grant = ApiKeyConfig['grants'][number];

/** Who is calling, and what they may do. Roles nest: read < write < admin. */
export interface Caller {
  /** The API key's name; null for an anonymous caller. */
  readonly name: string | null;
  /** True when no API key was presented (no keys configured, or ALLOW_ANONYMOUS). */
  readonly anonymous: boolean;
  /** Every grant the caller holds; an anonymous caller holds admin on `*`. */
  readonly grants: readonly Grant[];
  /** May this caller act with `role` on `bucket`? */
  can(bucket: string, role: Role): boolean;
  /** Does this caller hold any grant on `bucket` (so it may see it in `buckets`)? */
  canSee(bucket: string): boolean;
  /** May this caller act with `role` on some bucket (used before a bucket is known)? */
  hasAnyRole(role: Role): boolean;
}

const everything: Caller = {
  name: null,
  anonymous: true,
  grants: [{ bucket: '*', role: 'admin' }],
  can: () => true,
  canSee: () => true,
  hasAnyRole: () => true,
};

class KeyCaller implements Caller {
  readonly anonymous = false;

  constructor(
    readonly name: string,
    readonly grants: readonly Grant[],
  ) {}

  private rank(bucket: string): number {
    let best = 0;
    for (const g of this.grants) {
      if (g.bucket === '*' || g.bucket === bucket) best = Math.max(best, RANK[g.role]);
    }
    return best;
  }

  can(bucket: string, role: Role) {
    return this.rank(bucket) >= RANK[role];
  }

  canSee(bucket: string) {
    return this.rank(bucket) > 0;
  }

  hasAnyRole(role: Role) {
    return this.grants.some((g) => RANK[g.role] >= RANK[role]);
  }
}

/** A missing or unknown key: HTTP 401 with a Bearer challenge (Yoga applies `extensions.http` and never shows it). */
const unauthenticated = (message: string) =>
  new AppError('UNAUTHENTICATED', message, { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } });

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * The configured API keys. Tokens are kept only as SHA-256 digests and
 * compared in constant time; with no keys configured every caller has every
 * right (the server then listens on loopback only, or ALLOW_ANONYMOUS says so).
 */
export class Keyring {
  private readonly keys: { digest: Buffer; caller: KeyCaller }[];

  constructor(
    keys: ApiKeyConfig[],
    private readonly allowAnonymous: boolean,
  ) {
    this.keys = keys.map((k) => ({
      digest: k.token !== undefined ? digest(k.token) : Buffer.from(k.tokenSha256!, 'hex'),
      caller: new KeyCaller(k.name, k.grants),
    }));
  }

  get enabled() {
    return this.keys.length > 0;
  }

  /** The caller for an Authorization header value; throws UNAUTHENTICATED. */
  authenticate(authorization: string | null | undefined): Caller {
    if (!this.enabled) return everything;
    if (authorization === undefined || authorization === null || authorization.trim() === '') {
      if (this.allowAnonymous) return everything;
      throw unauthenticated('An API key is required: send Authorization: Bearer <token>.');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".');
    const presented = digest(match[1]!);
    let found: Caller | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(presented, key.digest)) found ??= key.caller;
    }
    if (!found) throw unauthenticated('Unknown API key.');
    return found;
  }
}

const keyrings = new WeakMap<object, Keyring>();

/** The keyring of a configuration, built once per configuration object (token digests are computed then). */
export function keyringOf(config: { apiKeys: ApiKeyConfig[]; allowAnonymous: boolean }): Keyring {
  let keyring = keyrings.get(config);
  if (!keyring) {
    keyring = new Keyring(config.apiKeys, config.allowAnonymous);
    keyrings.set(config, keyring);
  }
  return keyring;
}

const VERB: Record<Role, string> = { read: 'read', write: 'write to', admin: 'administer' };

/** The FORBIDDEN error for a missing `role` on `bucket` (null: on any bucket). */
export function forbiddenError(bucket: string | null, role: Role): AppError {
  if (bucket === null) return new AppError('FORBIDDEN', `This API key may not ${VERB[role]} any bucket.`, { role });
  return new AppError('FORBIDDEN', `This API key may not ${VERB[role]} bucket "${bucket}".`, { bucket, role });
}
