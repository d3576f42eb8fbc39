/**
 * The embedded store on a worker thread of this process (worker.ts), the
 * app's default: the API and the store each get an event loop, and so a
 * core each. It is the same store as in the calling thread (storage, data
 * dir lock and crash-safe writes unchanged); the lock belongs to this
 * process, which holds it until the worker has closed the store.
 *
 * The store's port serves S3 clients as before; requests the API receives
 * under `mountPath` are forwarded to the worker (proxy.ts). Its log lines
 * are written by `logger` here. If the thread dies (an uncaught error), the
 * store is gone: `onCrash` says so, and the process should exit, since the
 * API cannot serve without it.
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { Level, Logger } from 'pino';
import type { StoreCredentials } from './credentials.js';
import { StartupError } from './errors.js';
import { forward } from './proxy.js';
import type { EmbeddedStore, EmbeddedStoreOptions } from './store.js';

export interface ThreadOptions extends EmbeddedStoreOptions {
  /** The path prefix under which the API's server passes requests to `handle` (e.g. `/s3`). */
  mountPath: string;
  /** The thread ended without being closed (its error, or its exit code in an Error). */
  onCrash(err: Error): void;
}

/** What worker.ts is started with. */
export type WorkerSettings = Omit<ThreadOptions, 'logger' | 'onCrash'> & { logLevel: string };

export type WorkerMessage =
  | { type: 'ready'; endpoint: string; port: number; mountPort: number; credentials: StoreCredentials }
  | { type: 'failed'; message: string; code: string | undefined }
  | { type: 'log'; line: string }
  | { type: 'closed' };

export type ParentMessage = { type: 'close' };

/**
 * The worker's young generation, in MiB: V8's default lets it grow to 16 MiB
 * per semi-space, memory the store does not need (its bodies are streamed in
 * buffers outside the heap).
 */
const WORKER_YOUNG_GENERATION_MB = 4;

/**
 * worker.js next to this file once compiled (`npm start`). From the sources
 * (`npm run dev`, the tests) worker.ts, through tsx's API: Node 20 does not
 * apply `--import tsx` to a worker's entry. The API thread's own flags (a
 * preloaded tracer, say) are not the store's business either way.
 */
function createWorker(options: WorkerOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./worker.js', import.meta.url), { ...options, execArgv: [] });
  }
  const entry = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  const source = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${entry}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(source, { ...options, eval: true, execArgv: [] });
}

/** Writes one of the worker's pino lines through the parent's logger. */
function relay(logger: Logger, line: string): void {
  const { level, time: _time, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const label = (logger.levels.labels[Number(level)] ?? 'info') as Level;
  logger[label](fields, typeof msg === 'string' ? msg : '');
}

/** Starts the store's thread and waits until it listens; start-up failures are thrown as in `startEmbeddedStore`. */
export function startEmbeddedStoreThread(options: ThreadOptions): Promise<EmbeddedStore> {
  const { logger, onCrash, ...rest } = options;
  const workerData: WorkerSettings = { ...rest, logLevel: logger?.level ?? 'silent' };
  const worker = createWorker({
    workerData,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  let state: 'starting' | 'running' | 'closing' | 'gone' = 'starting';
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  return new Promise<EmbeddedStore>((resolve, reject) => {
    const crashed = (err: Error) => {
      if (state === 'starting') reject(err);
      else if (state === 'running') onCrash(err);
      state = 'gone';
    };
    worker.on('error', crashed);
    worker.once('exit', (code) => {
      if (state === 'closing') state = 'gone';
      else crashed(new Error(`the embedded store's thread exited unexpectedly (code ${code})`));
    });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'log') {
        if (logger) relay(logger, message.line);
      } else if (message.type === 'failed') {
        state = 'gone';
        reject(
          message.code === undefined ? new Error(message.message) : new StartupError(message.message, message.code),
        );
      } else if (message.type === 'ready') {
        state = 'running';
        resolve(running(message));
      }
    });

    const running = ({ endpoint, port, mountPort, credentials }: WorkerMessage & { type: 'ready' }) => {
      const agent = new Agent({ keepAlive: true });
      let closing: Promise<void> | undefined;
      return {
        endpoint,
        port,
        credentials,
        handle(req: IncomingMessage, res: ServerResponse, { basePath }: { basePath: string }) {
          if (basePath !== options.mountPath) {
            throw new Error(`the store's thread serves ${options.mountPath}, not ${basePath}`);
          }
          return forward(agent, mountPort, req, res);
        },
        close() {
          closing ??= (async () => {
            if (state === 'running') {
              state = 'closing';
              worker.postMessage({ type: 'close' } satisfies ParentMessage);
            }
            await exited;
            agent.destroy();
          })();
          return closing;
        },
      };
    };
  });
}
