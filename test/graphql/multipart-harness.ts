/**
 * A real server for the multipart tests: like `startServer` in ./helpers.ts
 * (config from `loadConfig`, the app's S3 client, Store, Yoga and the HTTP
 * server of `src/server.ts` on a random loopback port, every store command
 * counted), plus what these tests need: the Store's listing page size, and
 * operations with files sent as the GraphQL multipart request spec over
 * real HTTP (fetch + FormData).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { Metrics } from '../../src/metrics.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { createServer } from '../../src/server.js';
import { createYogaApp } from '../../src/yoga.js';
import type { StoreUnderTest } from '../support/stores.js';
import { storeEnv, type GqlResponse } from './helpers.js';

export interface MultipartTestServer {
  config: Config;
  store: Store;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  /** Every store command sent since the last `resetCalls()`, by S3 operation name. */
  calls: string[];
  resetCalls(): void;
  count(operation: string): number;
  /** One operation as JSON. */
  gql<T>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResponse<T>>;
  /**
   * One operation with files, as the GraphQL multipart request spec sends it:
   * each entry of `files` is the variable it fills (e.g. `file`) and its bytes.
   */
  upload<T>(
    query: string,
    variables: Record<string, unknown>,
    files: Record<string, Uint8Array>,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Settings as the environment would give them (MAX_PART_BYTES, API_KEYS, ...). */
  env?: Record<string, string>;
  /** The Store's listing page size (S3's 1000 when left out). */
  listPageSize?: number;
}

async function answer<T>(res: Response): Promise<GqlResponse<T>> {
  const text = await res.text();
  let body: Omit<GqlResponse<T>, 'status'>;
  try {
    body = JSON.parse(text) as Omit<GqlResponse<T>, 'status'>;
  } catch {
    throw new Error(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, ...body };
}

/** Starts the whole HTTP app against `store` on 127.0.0.1:0. */
export async function startMultipartServer(store: StoreUnderTest, options: StartOptions = {}): Promise<MultipartTestServer> {
  const config = loadConfig(storeEnv(store, { LOG_LEVEL: 'silent', ...options.env }));
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
  const logger = pino({ level: config.logLevel });
  const metrics = new Metrics({ processMetrics: false });
  const deps = { config, store: s3Store, logger, metrics };
  const server = createServer({ ...deps, yoga: createYogaApp(deps) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;

  return {
    config,
    store: s3Store,
    url,
    calls,
    resetCalls: () => {
      calls.length = 0;
    },
    count: (operation) => calls.filter((c) => c === operation).length,
    async gql(query, variables, headers = {}) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return answer(res);
    },
    async upload(query, variables, files, headers = {}) {
      const names = Object.keys(files);
      const form = new FormData();
      const nulls = Object.fromEntries(names.map((name) => [name, null]));
      form.set('operations', JSON.stringify({ query, variables: { ...variables, ...nulls } }));
      form.set('map', JSON.stringify(Object.fromEntries(names.map((name, i) => [String(i), [`variables.${name}`]]))));
      names.forEach((name, i) => form.set(String(i), new Blob([new Uint8Array(files[name]!)]), `${name}.bin`));
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'x-graphql-csrf': '1', accept: 'application/graphql-response+json', ...headers },
        body: form,
      });
      return answer(res);
    },
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
