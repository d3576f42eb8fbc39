/**
 * The embedded store's worker thread (started by thread.ts): the same store
 * as in the calling thread (store.ts: storage, lock and S3 API unchanged) on
 * its own event loop, so the API and the store each get a core.
 *
 * Besides the store's own port it listens on a second loopback port, the
 * mount: a request there is served as if received under `mountPath` on the
 * API's port (routed without the prefix, its signature checked against the
 * path as received). The API thread forwards its `/s3` requests to it.
 *
 * Messages to the parent: `ready` (ports and key pair), `failed` (start-up),
 * `log` (one pino line, written by the parent's logger) and `closed`; from
 * the parent: `close`. An uncaught error ends the thread, and the parent
 * sees it as the worker's `error` event.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { errorDetails } from '../observability/logger.js';
import { StartupError } from './errors.js';
import { startStore, type EmbeddedStore } from './store.js';
import type { ParentMessage, WorkerMessage, WorkerSettings } from './thread.js';

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread (see thread.ts)');
const settings = workerData as WorkerSettings;
const post = (message: WorkerMessage) => port.postMessage(message);

// The parent logs each line through its own logger (level, redaction, secret scrubbing, destination).
const logger = pino(
  {
    level: settings.logLevel,
    base: undefined,
    serializers: { err: (err: unknown) => errorDetails(err), error: (err: unknown) => errorDetails(err) },
  },
  { write: (line: string) => post({ type: 'log', line }) },
);

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function start(): Promise<{ store: EmbeddedStore; mount: Server }> {
  const { mountPath, logLevel: _, ...options } = settings;
  const store = await startStore({ ...options, logger });
  const mount = createServer({ requestTimeout: 0 }, (req, res) => {
    void store.handle(req, res, { basePath: mountPath });
  });
  // The API's server has answered the client's `Expect: 100-continue` already; the body follows at once.
  mount.on('checkContinue', (req, res) => void store.handle(req, res, { basePath: mountPath }));
  try {
    const mountPort = await listen(mount, '127.0.0.1');
    post({
      type: 'ready',
      endpoint: store.endpoint,
      port: store.port,
      mountPort,
      credentials: store.credentials,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, mount };
}

start().then(
  ({ store, mount }) => {
    port.on('message', (message: ParentMessage) => {
      if (message.type !== 'close') return;
      const closed = new Promise<void>((resolve) => mount.close(() => resolve()));
      mount.closeAllConnections();
      void Promise.all([closed, store.close()]).then(() => {
        post({ type: 'closed' });
        port.close();
      });
    });
  },
  (err: unknown) => {
    const code = err instanceof StartupError ? err.code : undefined;
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err), code });
    port.close();
  },
);
