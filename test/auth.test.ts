import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../src/security/access.js';
import { Keyring, keyringOf } from '../src/security/auth.js';
import type { AppError } from '../src/core/errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as AppError).code;
  }
  return 'OK';
};

describe('Keyring', () => {
  const readerToken = 'reader-token-0123456789';
  const writerToken = 'writer-token-0123456789';
  // Built in a hook, not while the file is collected: a constructor that throws then fails the tests (mutation testing needs that).
  let ring: Keyring;
  beforeAll(() => {
    ring = new Keyring(
      [
        { name: 'reader', token: readerToken, grants: [{ bucket: '*', role: 'read' }] },
        {
          name: 'writer',
          tokenSha256: createHash('sha256').update(writerToken).digest('hex'),
          grants: [
            { bucket: 'photos', role: 'write' },
            { bucket: 'admin-only', role: 'admin' },
          ],
        },
      ],
      false,
    );
  });

  it('finds keys by token or by its sha256', () => {
    expect(ring.authenticate(`Bearer ${readerToken}`).name).toBe('reader');
    expect(ring.authenticate(`bearer   ${writerToken}`).name).toBe('writer');
  });

  it('refuses missing, malformed and unknown tokens, saying which', () => {
    const message = (authorization: string | null | undefined) => {
      try {
        ring.authenticate(authorization);
      } catch (err) {
        expect((err as AppError).code).toBe('UNAUTHENTICATED');
        return (err as AppError).message;
      }
      return 'accepted';
    };
    const missing = 'An API key is required: send Authorization: Bearer <token>.';
    const malformed = 'The Authorization header must be "Bearer <token>".';
    expect([undefined, null, '', ' \t '].map(message)).toEqual([missing, missing, missing, missing]);
    expect(
      [
        'Basic abc',
        `Bearer ${readerToken} junk`,
        `x Bearer ${readerToken}`,
        `Bearer${readerToken}`,
        'Bearer ',
        `Bearer\n${readerToken}\nx`,
      ].map(message),
    ).toEqual(Array.from({ length: 6 }, () => malformed));
    expect(message('Bearer nope')).toBe('Unknown API key.');
    expect(message(`Bearer \t${readerToken} \t`)).toBe('accepted');
  });

  it('nests roles per bucket and wildcard', () => {
    const reader = ring.authenticate(`Bearer ${readerToken}`);
    expect(reader.can('anything', 'read')).toBe(true);
    expect(reader.can('anything', 'write')).toBe(false);
    const writer = ring.authenticate(`Bearer ${writerToken}`);
    expect(writer.can('photos', 'read')).toBe(true);
    expect(writer.can('photos', 'write')).toBe(true);
    expect(writer.can('photos', 'admin')).toBe(false);
    expect(writer.can('admin-only', 'admin')).toBe(true);
    expect(writer.canSee('other')).toBe(false);
    expect(writer.hasAnyRole('admin')).toBe(true);
    expect(reader.hasAnyRole('write')).toBe(false);
    expect(code(() => authorize(writer, [{ bucket: 'other', role: 'read' }]))).toBe('FORBIDDEN');
    expect(code(() => authorize(writer, [{ bucket: 'photos', role: 'write' }]))).toBe('OK');
  });

  it('lets everyone in when no keys are configured, and anonymous callers when allowed', () => {
    const anyone = new Keyring([], false).authenticate(undefined);
    expect([anyone.name, anyone.can('x', 'admin'), anyone.canSee('x'), anyone.hasAnyRole('admin')]).toEqual([
      null,
      true,
      true,
      true,
    ]);
    const open = new Keyring([{ name: 'r', token: readerToken, grants: [{ bucket: '*', role: 'read' }] }], true);
    expect(open.authenticate(undefined).can('x', 'admin')).toBe(true);
    expect(open.authenticate('  ').can('x', 'admin')).toBe(true);
    expect(code(() => open.authenticate('Bearer wrong-token-value'))).toBe('UNAUTHENTICATED');
  });

  it('keeps a key given by its sha256 apart from one given by its token', () => {
    const hashed = new Keyring(
      [{ name: 'hashed', tokenSha256: createHash('sha256').update(readerToken).digest('hex'), grants: [] }],
      false,
    );
    expect(hashed.authenticate(`Bearer ${readerToken}`).name).toBe('hashed');
    expect(code(() => hashed.authenticate(`Bearer ${createHash('sha256').update(readerToken).digest('hex')}`))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('builds the keyring of a configuration once', () => {
    const config = {
      apiKeys: [{ name: 'r', token: readerToken, grants: [{ bucket: '*', role: 'read' as const }] }],
      allowAnonymous: false,
    };
    expect(keyringOf(config)).toBe(keyringOf(config));
    expect(keyringOf(config).enabled).toBe(true);
  });
});
