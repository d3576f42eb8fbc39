/**
 * Starts the real HTTP server (src/http/server.ts) with a real Store and Yoga on
 * 127.0.0.1, port 0, against one of the shared test stores; collects its log
 * lines so tests can read them.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { createS3Client, type ResolvedStoreSettings } from '../../src/s3/client.js';
import { Store } from '../../src/s3/store.js';
import { createServer } from '../../src/http/server.js';
import { createYogaApp } from '../../src/graphql/yoga.js';
import type { StoreUnderTest } from '../support/stores.js';

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  config: Config;
  metrics: Metrics;
  store: Store;
  /** Every log line written so far, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Where the server's store lives: a test store, or any endpoint (e.g. a closed port). */
export type Backend = Pick<StoreUnderTest, 'endpoint' | 'credentials'>;

/** Starts a server; `env` adds settings (MAX_UPLOAD_BYTES, API_KEYS, ...) as the process environment would. */
export async function startServer(backend: Backend, env: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    S3_ENDPOINT: backend.endpoint,
    S3_ACCESS_KEY_ID: backend.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: backend.credentials.secretAccessKey,
    S3_MAX_ATTEMPTS: '1',
    S3_CONNECT_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: config.logLevel },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const metrics = new Metrics({ processMetrics: false });
  const settings = config.store as ResolvedStoreSettings;
  const client = createS3Client(settings, { onCall: metrics.storeCall.bind(metrics) });
  const store = new Store(client, client, {
    partSize: config.uploadPartSize,
    queueSize: config.uploadQueueSize,
    maxUploadBytes: config.maxUploadBytes,
  });
  const yoga = createYogaApp({ config, store, logger, metrics });
  const server = createServer({ config, store, logger, metrics, yoga });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    metrics,
    store,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
    },
  };
}

/** The value of one sample in the Prometheus exposition, 0 when absent. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = (metric as unknown as { values: { value: number; labels: Record<string, string | number> }[] }).values;
  const sample = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return sample?.value ?? 0;
}

/** Total store calls of an operation so far (any outcome). */
export async function storeCalls(metrics: Metrics, operation?: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 's3graphql_store_calls_total');
  const values = (metric as unknown as { values: { value: number; labels: Record<string, string> }[] }).values;
  return values.filter((v) => operation === undefined || v.labels.operation === operation).reduce((n, v) => n + v.value, 0);
}

/** Waits until `check` returns true, polling every 50 ms, for at most `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
