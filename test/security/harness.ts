/**
 * The whole application as `npm start` builds it (`createApp` with the
 * production logger of `src/observability/logger.ts`), against one of the shared test
 * stores, listening on 127.0.0.1 with a random port. Every log line is kept
 * as written, so tests can search the raw text for secrets.
 */
import type { AddressInfo } from 'node:net';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger, SecretScrubber } from '../../src/observability/logger.js';
import type { StoreUnderTest } from '../support/stores.js';

/** The header that lets a multipart request through the CSRF check. */
export const CSRF = { 'x-graphql-csrf': '1' } as const;

export interface GqlAnswer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[] };
}

export interface SecureServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  config: Config;
  app: App;
  /** Everything the logger wrote so far, line by line, exactly as written. */
  logText(): string;
  /** One operation as JSON, with `headers` added (e.g. authorization). */
  gql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlAnswer>;
  /** One operation with files, as a GraphQL multipart request (CSRF header included). */
  upload(
    query: string,
    variables: Record<string, unknown>,
    files: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<GqlAnswer>;
  close(): Promise<void>;
}

export async function answerOf(res: Response): Promise<GqlAnswer> {
  const text = await res.text();
  let body: GqlAnswer['body'];
  try {
    body = JSON.parse(text) as GqlAnswer['body'];
  } catch {
    throw new Error(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** The code of the first error, or OK when there is none. */
export const outcome = (answer: GqlAnswer) => String(answer.body.errors?.[0]?.extensions?.code ?? 'OK');

/** Environment for `loadConfig` pointing at `store` (loopback, random port). */
export function storeEnv(store: StoreUnderTest, env: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    S3_ENDPOINT: store.endpoint,
    S3_ACCESS_KEY_ID: store.credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
    S3_MAX_ATTEMPTS: '1',
    S3_CONNECT_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'info',
    ...env,
  };
}

export async function startSecureServer(store: StoreUnderTest, env: Record<string, string> = {}): Promise<SecureServer> {
  const config = loadConfig(storeEnv(store, env));
  const lines: string[] = [];
  const logger = createLogger(config, {
    scrubber: new SecretScrubber(),
    destination: { write: (line: string) => void lines.push(line) },
  });
  const app = await createApp(config, logger);
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    config,
    app,
    logText: () => lines.join(''),
    async gql(query, variables, headers = {}) {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return answerOf(res);
    },
    async upload(query, variables, files, headers = {}) {
      const form = new FormData();
      const names = Object.keys(files);
      form.set('operations', JSON.stringify({ query, variables: { ...variables, ...Object.fromEntries(names.map((n) => [n, null])) } }));
      form.set('map', JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`variables.${n}`]]))));
      names.forEach((n, i) => form.set(String(i), new Blob([files[n]!]), `${n}.bin`));
      const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { ...CSRF, ...headers }, body: form });
      return answerOf(res);
    },
    async close() {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/** The store the security tests run against: the embedded store (ours, and it checks signatures), else the first. */
export function storeForSecurity(stores: StoreUnderTest[]): StoreUnderTest {
  return stores.find((s) => s.name === 'embedded') ?? stores[0]!;
}
