/**
 * A real server for the GraphQL tests: config from `loadConfig`, the S3
 * client and Store the app uses (every store command counted), Yoga, and
 * the HTTP server of `src/http/server.ts` listening on a random loopback port.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { createServer } from '../../src/http/server.js';
import { createYogaApp } from '../../src/graphql/yoga.js';
import type { StoreUnderTest } from '../support/stores.js';

/** What a GraphQL error looks like on the wire. */
export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; argument?: string; [key: string]: unknown };
}

export interface GqlResponse<T> {
  status: number;
  data?: T | null;
  errors?: GqlError[];
}

/** A typed document from `__generated__` (documentMode: string): its text carries the result and variables types. */
export interface Doc<TResult, TVariables> {
  toString(): string;
  __apiType?: (variables: TVariables) => TResult;
}

/** The app on 127.0.0.1:0 with every store command counted and its log captured. */
export interface RunningApp {
  config: Config;
  store: Store;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  /** Every store command sent since the last `resetCalls()`, by S3 operation name. */
  calls: string[];
  resetCalls(): void;
  count(operation: string): number;
  /** Log lines written so far (JSON objects), for tests that check what was logged. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface TestServer extends RunningApp {
  /** Sends one operation as JSON. */
  gql<TResult, TVariables>(
    doc: Doc<TResult, TVariables> | string,
    variables?: TVariables,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<TResult>>;
}

/** Environment for `loadConfig` that points at `store`. */
export function storeEnv(store: StoreUnderTest, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    S3_ENDPOINT: store.endpoint,
    S3_ACCESS_KEY_ID: store.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
    S3_MAX_ATTEMPTS: '1',
    LOG_LEVEL: 'info',
    ...env,
  };
}

function captureLogger(level: string, lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return pino({ level }, sink);
}

/**
 * Starts the whole HTTP app against `store` on 127.0.0.1:0, wired as
 * `src/app.ts` does but with the store's calls counted; `listPageSize` is the
 * Store's listing page size (S3's 1000 when left out).
 */
export async function startApp(
  store: StoreUnderTest,
  env: Record<string, string> = {},
  options: { listPageSize?: number } = {},
): Promise<RunningApp> {
  const config = loadConfig(storeEnv(store, env));
  const settings = config.store as ResolvedStoreSettings;
  const calls: string[] = [];
  const onCall = (event: { operation: string }) => calls.push(event.operation);
  const client = createS3Client(settings, { onCall });
  const presignClient = createS3Client(settings, { onCall, forPresign: true });
  const s3Store = new Store(client, presignClient, {
    partSize: config.uploadPartSize,
    queueSize: config.uploadQueueSize,
    maxUploadBytes: config.maxUploadBytes,
    listPageSize: options.listPageSize,
  });
  const logs: Record<string, unknown>[] = [];
  const logger = captureLogger(config.logLevel, logs);
  const metrics = new Metrics({ processMetrics: false });
  const deps = { config, store: s3Store, logger, metrics };
  const server = createServer({ ...deps, yoga: createYogaApp(deps) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    config,
    store: s3Store,
    url: `http://127.0.0.1:${port}/graphql`,
    calls,
    logs,
    resetCalls: () => {
      calls.length = 0;
    },
    count: (operation) => calls.filter((c) => c === operation).length,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      client.destroy();
      presignClient.destroy();
    },
  };
}

/** Starts the whole HTTP app against `store` on 127.0.0.1:0, with `gql` sending typed documents. */
export async function startServer(store: StoreUnderTest, env: Record<string, string> = {}): Promise<TestServer> {
  const app = await startApp(store, env);
  return {
    ...app,
    async gql(doc, variables, headers = {}) {
      const res = await fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query: doc.toString(), variables }),
      });
      const body = (await res.json()) as { data?: never; errors?: GqlError[] };
      return { status: res.status, ...body };
    },
  };
}

/** The error codes of a response, in order. */
export const codes = (res: { errors?: GqlError[] }) => (res.errors ?? []).map((e) => e.extensions?.code);
