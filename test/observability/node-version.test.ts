/**
 * On a Node version the AWS SDK warns about (older than 22), the server says
 * so in one line of its own instead of the SDK's nine-line
 * NodeVersionSupportWarning; on Node 22 and later it says nothing. Run as
 * `npm start` runs it, in a child process on this test's Node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSupportNotice } from '../../src/s3/node-support.js';
import { startMain } from '../support/main-process.js';

const MAJOR = Number(process.versions.node.split('.')[0]);

describe('the Node version notice', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3gql-node-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names the versions: 20 gets a notice, 22 and 24 none', () => {
    expect(nodeSupportNotice('v20.19.0')).toBe(
      'Node v20.19.0 works, but AWS SDK releases after January 2027 need Node 22 or later: plan a move to Node 22 or 24.',
    );
    expect(nodeSupportNotice('v22.0.0')).toBeUndefined();
    expect(nodeSupportNotice('v24.3.0')).toBeUndefined();
  });

  it(`a server that has used the store prints ${MAJOR < 22 ? 'our one line' : 'nothing'} on stderr, and none of the SDK's`, async () => {
    const server = await startMain({
      DATA_DIR: join(dir, 'data'),
      PORT: '0',
      EMBEDDED_S3_PORT: '0',
      HOST: '127.0.0.1',
    });
    try {
      // A GraphQL request that goes to the store, after the start-up check that already did.
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ buckets { name } }' }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      await server.stop();
    }
    const stderr = server.stderr();
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    expect(stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript|a\.co\//);
    if (MAJOR < 22) expect(lines).toEqual([`s3-graphql: ${nodeSupportNotice()}`]);
    else expect(lines).toEqual([]);
  });
});
