/**
 * The embedded store running in the calling thread: its storage, its S3 API
 * server listening, and `handle` for requests another server received.
 * index.ts starts it here (tests, the bench) or in a worker thread
 * (worker.ts, the app's default).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { loadOrCreateCredentials, type StoreCredentials } from './credentials.js';
import { StartupError } from './errors.js';
import { createS3Server, type HandleOptions, type StoreTimeouts } from './http/server.js';
import { Storage } from './storage/storage.js';

export interface EmbeddedStoreOptions {
  /** Where objects are kept; created when missing. One store per dir (a lock file enforces it). */
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Otherwise generated on first start and kept in `<dataDir>/.credentials.json` (mode 0600), reused later. */
  credentials?: StoreCredentials;
  /** The only region a signature may name (others get AuthorizationHeaderMalformed); default us-east-1. */
  region?: string;
  /** Slow-client limits; the defaults (60 s for headers and for silence mid-request, 5 s keep-alive) suit production, tests shorten them. */
  timeouts?: Partial<StoreTimeouts>;
  /**
   * The origin clients reach the requests of `handle` under (the API's
   * PUBLIC_URL for `/s3`), where a URL in an answer points (POST Object's
   * Location); without it, `http://` and the request's Host.
   */
  mountOrigin?: string;
  logger?: Logger;
}

export interface EmbeddedStore {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  credentials: StoreCredentials;
  /**
   * Serves a request another node:http server received under
   * `options.basePath` (e.g. `/s3` on the API's port): the same S3 API,
   * routed on the path without the prefix, its signature checked against the
   * path as received. `close` waits for these requests too.
   */
  handle(req: IncomingMessage, res: ServerResponse, options: HandleOptions): Promise<void>;
  /** Stops listening, ends open connections, waits for requests in flight, releases the data dir. */
  close(): Promise<void>;
}

/**
 * Starts the store. A start-up failure throws a StartupError: one line and a
 * `code`, e.g. "port 9000 on 127.0.0.1 is already in use" (EADDRINUSE) or
 * "DATA_DIR ./data is not writable: EACCES" (EACCES).
 */
export async function startStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const host = options.host ?? '127.0.0.1';
  const storage = await Storage.open(options.dataDir, options.logger ? { logger: options.logger } : {});
  try {
    const credentials = options.credentials ?? (await loadOrCreateCredentials(storage.dataDir, options.dataDir));
    const { server, handle, drain } = createS3Server({
      storage,
      credentials,
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
      ...(options.mountOrigin !== undefined ? { mountOrigin: options.mountOrigin } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        reject(listenError(err, options.port, host));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(options.port, host);
    });
    const { port } = server.address() as AddressInfo;
    const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    options.logger?.info({ endpoint, dataDir: options.dataDir }, 'embedded S3 store listening');
    let closing: Promise<void> | undefined;
    return {
      endpoint,
      port,
      // A copy: callers hand it to SDK clients, which add properties to it.
      credentials: { ...credentials },
      handle,
      close() {
        closing ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          await closed;
          await drain();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await storage.close();
    throw err;
  }
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string): StartupError {
  const code = err.code ?? 'EIO';
  switch (code) {
    case 'EADDRINUSE':
      return new StartupError(`port ${port} on ${host} is already in use`, code);
    case 'EACCES':
      return new StartupError(`port ${port} on ${host} needs privileges this process does not have (EACCES)`, code);
    case 'EADDRNOTAVAIL':
      return new StartupError(`address ${host} is not available on this machine`, code);
    default:
      return new StartupError(`cannot listen on ${host}:${port}: ${code}`, code);
  }
}
