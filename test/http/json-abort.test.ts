/**
 * A client that stops sending its JSON body half way (src/http/routes/graphql.ts
 * reads JSON bodies itself): the request is logged as aborted, not as a server error.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startServer, type TestServer } from '../support/app.js';
import { testStores } from '../support/stores.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer(testStores()[0], { RATE_LIMIT_PER_MINUTE: '0' });
});

afterAll(async () => {
  await server.close();
});

it('a JSON body its client cut off is logged as an aborted request, not an unexpected error', async () => {
  const socket = connect(Number(new URL(server.base).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"query": "{ __typ',
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.destroy();
  expect(await eventually(() => server.logs.some((l) => l.aborted === true && l.route === 'graphql'))).toBe(true);
  expect(server.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
});
