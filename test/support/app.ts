/**
 * The one harness for starting the server in tests: the app as `npm start`
 * builds it (`createApp`), its log written by the production logger into a
 * captured log, listening on a random 127.0.0.1 port.
 *
 * - `storeEnv(store, env)`: the settings of a test server (or of a test's own
 *   `loadConfig`): the store's endpoint and keys (no store: the app's own
 *   embedded store from DATA_DIR), one attempt per store call, LOG_LEVEL=info,
 *   then `env` on top, as the process environment would give it.
 * - `startServer(store, env, options)`: `base` (and `url`, its /graphql), the
 *   `app` with its `config`, `store` and `metrics`, the store commands sent
 *   since `resetCalls()` (`calls`, `count`), the log (`logs` parsed,
 *   `logText()` as written), `gql()`, `upload()` and `close()`. Options:
 *   `listPageSize` (the Store's listing page, to page with few items) and
 *   `rawLog` (plain pino, no redaction or scrubbing: for tests that check the
 *   server itself never writes a secret).
 * - `codes()`/`outcome()` read an answer's error codes; `storeCalls()`/
 *   `metricValue()` read the metrics; `eventually()` polls.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger, SecretScrubber } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { StoreCallEvent } from '../../src/s3/instrumentation.js';
import type { Store } from '../../src/s3/store.js';
import type { StoreUnderTest } from './stores.js';

/** Where the server's store lives: a test store, or any endpoint (e.g. a closed port). */
export type Backend = Pick<StoreUnderTest, 'endpoint' | 'credentials'>;

/**
 * Environment for `loadConfig`: loopback, port 0, pointing at `store` (none:
 * the app's own embedded store), one attempt per store call; `env` adds or
 * overrides settings.
 */
export function storeEnv(store: Backend | undefined, env: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    ...(store && {
      S3_ENDPOINT: store.endpoint,
      S3_ACCESS_KEY_ID: store.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
    }),
    S3_MAX_ATTEMPTS: '1',
    S3_CONNECT_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'info',
    ...env,
  };
}

/** What a GraphQL error looks like on the wire. */
export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; argument?: string; [key: string]: unknown };
}

/** One answer of `/graphql`: the status, headers, and the JSON body, whose `data` and `errors` are also at the top. */
export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: GqlError[] };
  data?: T | null;
  errors?: GqlError[];
}

/** A typed document from `__generated__` (documentMode: string): its text carries the result and variables types. */
interface Doc<TResult, TVariables> {
  toString(): string;
  __apiType?: (variables: TVariables) => TResult;
}

/** Reads an answer of `/graphql`; a body that is not JSON fails with its first 200 characters. */
export async function answerOf<T = Record<string, unknown>>(res: Response): Promise<GqlResponse<T>> {
  const text = await res.text();
  let body: GqlResponse<T>['body'];
  try {
    body = JSON.parse(text) as GqlResponse<T>['body'];
  } catch {
    throw new Error(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body, ...body };
}

/** The error codes of an answer, in order. */
export const codes = (res: { errors?: GqlError[] }) => (res.errors ?? []).map((e) => e.extensions?.code);

/** The code of the first error, or OK when there is none. */
export const outcome = (res: { errors?: GqlError[] }) => String(res.errors?.[0]?.extensions?.code ?? 'OK');

/** The header that lets a multipart request through the CSRF check. */
const CSRF = { 'x-graphql-csrf': '1' } as const;

export interface StartOptions {
  /** The Store's listing page size (S3's 1000 when left out). */
  listPageSize?: number;
  /** Log with plain pino: no redaction, no secret scrubbing, pino's own error serializer. */
  rawLog?: boolean;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  app: App;
  config: Config;
  store: Store;
  metrics: Metrics;
  /** Every store command sent since the last `resetCalls()`, by S3 operation name. */
  calls: string[];
  resetCalls(): void;
  count(operation: string): number;
  /** Every log line written so far, parsed. */
  logs: Record<string, unknown>[];
  /** Everything the logger wrote so far, exactly as written. */
  logText(): string;
  /** One operation as JSON, with `headers` added (e.g. authorization). */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<T>>;
  gql<TResult, TVariables>(
    doc: Doc<TResult, TVariables>,
    variables?: TVariables,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<TResult>>;
  /**
   * One operation with files, as the GraphQL multipart request spec sends it
   * (CSRF header included): each entry of `files` is the variable it fills
   * (e.g. `file`) and its bytes.
   */
  upload<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown>,
    files: Record<string, string | Uint8Array>,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

/**
 * `createApp` has no hook for the store commands it sends: every one is
 * reported to its Metrics' `storeCall`, so that method tells the listener
 * registered for the instance (an app's calls, and only its own).
 */
const storeCallListeners = new WeakMap<Metrics, (event: StoreCallEvent) => void>();
const storeCall = Metrics.prototype.storeCall;
Metrics.prototype.storeCall = function (this: Metrics, event: StoreCallEvent) {
  storeCallListeners.get(this)?.(event);
  storeCall.call(this, event);
};

/** Starts the app against `store` (none: its own embedded store from DATA_DIR) on 127.0.0.1:0. */
export async function startServer(
  store: Backend | undefined,
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const config = loadConfig(storeEnv(store, env));
  const written: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const destination = {
    write(chunk: string) {
      written.push(chunk);
      for (const line of chunk.split('\n'))
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  const logger = options.rawLog
    ? pino({ level: config.logLevel }, destination)
    : createLogger(config, { scrubber: new SecretScrubber(), destination });
  const app = await createApp(
    config,
    logger,
    options.listPageSize === undefined ? {} : { listPageSize: options.listPageSize },
  );
  const calls: string[] = [];
  storeCallListeners.set(app.metrics, (event) => calls.push(event.operation));
  try {
    await new Promise<void>((resolve, reject) => {
      app.server.once('error', reject);
      app.server.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}/graphql`;

  function gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<T>>;
  function gql<TResult, TVariables>(
    doc: Doc<TResult, TVariables>,
    variables?: TVariables,
    headers?: Record<string, string>,
  ): Promise<GqlResponse<TResult>>;
  async function gql(doc: Doc<unknown, unknown> | string, variables?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: JSON.stringify({ query: doc.toString(), variables }),
    });
    return answerOf(res);
  }

  return {
    base,
    url,
    app,
    config,
    store: app.store,
    metrics: app.metrics,
    calls,
    resetCalls: () => {
      calls.length = 0;
    },
    count: (operation) => calls.filter((c) => c === operation).length,
    logs,
    logText: () => written.join(''),
    gql,
    async upload<T>(
      query: string,
      variables: Record<string, unknown>,
      files: Record<string, string | Uint8Array>,
      headers = {},
    ) {
      const names = Object.keys(files);
      const form = new FormData();
      const nulls = Object.fromEntries(names.map((name) => [name, null]));
      form.set('operations', JSON.stringify({ query, variables: { ...variables, ...nulls } }));
      form.set('map', JSON.stringify(Object.fromEntries(names.map((name, i) => [String(i), [`variables.${name}`]]))));
      names.forEach((name, i) => {
        const bytes = files[name]!;
        form.set(String(i), new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), `${name}.bin`);
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...CSRF, accept: 'application/graphql-response+json', ...headers },
        body: form,
      });
      return answerOf<T>(res);
    },
    async close() {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/** The value of one sample in the Prometheus exposition, 0 when absent. */
export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
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
  return values
    .filter((v) => operation === undefined || v.labels.operation === operation)
    .reduce((n, v) => n + v.value, 0);
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
