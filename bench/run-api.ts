/**
 * Runs the API server in this process for the benchmarks, configured from
 * the environment exactly as `npm start` is (S3_ENDPOINT, API_KEYS, ...):
 *   run-api [same-thread]
 * Without S3_ENDPOINT it runs the embedded store, on its worker thread as
 * `npm start` does, or with `same-thread` on the API's thread (as before the
 * worker; the `mixed` group compares the two).
 * (started by api.ts as transpiled JavaScript, see support/build.ts). It
 * listens on HOST:PORT (PORT=0: a random port) and speaks the child protocol
 * of support/child.ts; its ready info is an `ApiInfo`.
 */
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { serveChild } from './support/child.js';

export interface ApiInfo {
  /** http://HOST:PORT, without a trailing slash. */
  endpoint: string;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.logLevel }, pino.destination(2));
  const sameThread = process.argv.slice(2).includes('same-thread');
  const app = await createApp(config, logger, {
    embeddedStore: sameThread ? 'same-thread' : 'worker',
    onStoreCrash: () => process.exit(1),
  });
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(config.port, config.host, () => {
      app.server.off('error', reject);
      resolve();
    });
  });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const info: ApiInfo = { endpoint: `http://${config.host}:${address.port}` };
  serveChild(info, () => app.close());
}

main().catch((error: unknown) => {
  process.stderr.write(`run-api: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
