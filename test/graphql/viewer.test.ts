/**
 * Query.viewer over HTTP: the caller's key name and grants as configured,
 * anonymous access as one ADMIN grant on `*`, and no answer without a known
 * key when keys are configured. It asks nothing of the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startServer, type TestServer } from '../support/app.js';
import { storeForSecurity, testStores } from '../support/stores.js';

const READER = 'viewer-reader-token-0123456789';
const ADMIN = 'viewer-admin-token-0123456789';
const API_KEYS = JSON.stringify({
  keys: [
    {
      name: 'reader',
      token: READER,
      grants: [
        { bucket: 'photos', role: 'read' },
        { bucket: 'logs', role: 'write' },
      ],
    },
    { name: 'ops', token: ADMIN, grants: [{ bucket: '*', role: 'admin' }] },
  ],
});
const VIEWER = '{ viewer { name anonymous grants { bucket role } } }';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('Query.viewer', () => {
  const store = storeForSecurity(testStores());

  describe('with API keys configured', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startServer(store, { API_KEYS, RATE_LIMIT_PER_MINUTE: '0' });
    });
    afterAll(async () => {
      await server?.close();
    });

    it("shows a key's name and every grant, roles in upper case, and calls no store", async () => {
      server.resetCalls();
      const res = await server.gql(VIEWER, {}, bearer(READER));
      expect(res.body).toEqual({
        data: {
          viewer: {
            name: 'reader',
            anonymous: false,
            grants: [
              { bucket: 'photos', role: 'READ' },
              { bucket: 'logs', role: 'WRITE' },
            ],
          },
        },
      });
      expect(server.calls).toEqual([]);
    });

    it('shows an admin key on *', async () => {
      const res = await server.gql(VIEWER, {}, bearer(ADMIN));
      expect(res.body).toEqual({
        data: { viewer: { name: 'ops', anonymous: false, grants: [{ bucket: '*', role: 'ADMIN' }] } },
      });
    });

    it('answers a missing or unknown key with UNAUTHENTICATED (401) and no data', async () => {
      for (const headers of [{}, bearer('viewer-unknown-token-012345678')]) {
        const res = await server.gql(VIEWER, {}, headers);
        expect(res.status).toBe(401);
        expect(codes(res)).toEqual(['UNAUTHENTICATED']);
        expect(res.body.data ?? null).toBeNull();
      }
    });
  });

  describe('with no API keys configured (anonymous access)', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startServer(store, { RATE_LIMIT_PER_MINUTE: '0' });
    });
    afterAll(async () => {
      await server?.close();
    });

    it('shows no name, anonymous, and one ADMIN grant on *', async () => {
      const res = await server.gql(VIEWER);
      expect(res.body).toEqual({
        data: { viewer: { name: null, anonymous: true, grants: [{ bucket: '*', role: 'ADMIN' }] } },
      });
    });
  });
});
