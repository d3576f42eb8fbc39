import { randomBytes } from 'node:crypto';
import type { ApiInfo } from '../run-api.js';
import { startChild, type ChildServer } from './child.js';
import { startSettings } from './start-settings.js';
import type { RunningStore } from './stores.js';

export interface Api {
  child: ChildServer<ApiInfo>;
  /** The bearer token of its one API key (admin on every bucket). */
  token: string;
  /** `http://HOST:PORT/graphql` */
  url: string;
}

/**
 * The environment every benchmarked API server runs with, as in production
 * (the Docker image's NODE_ENV=production): loopback on a random port, quiet
 * logs, no rate limit (the benchmarks send hundreds of requests a minute),
 * the temporary directory of this process (upload spools go to the server's
 * os.tmpdir()), and `settings`. `start` is what the start script sets; the
 * bench's own variables win over it (the scripts set only glibc's).
 */
function serverEnv(start: Record<string, string>, settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...start,
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    ...settings,
  };
  for (const name of ['TMPDIR', 'TMP', 'TEMP']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/**
 * Starts the API server in its own process, configured from the environment
 * as in production (the Docker image's NODE_ENV=production), with the node
 * flags and environment of the start script, pointed at `store`, with one
 * admin API key and no rate limit (the benchmarks send hundreds of requests
 * a minute). With `ref`, the server's code and start settings are that
 * commit's (`--before`).
 */
export async function startApi(store: RunningStore, ref?: string): Promise<Api> {
  const token = randomBytes(24).toString('hex');
  const start = await startSettings(ref);
  const env = serverEnv(start.env, {
    S3_ENDPOINT: store.info.endpoint,
    S3_ACCESS_KEY_ID: store.info.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.info.secretAccessKey,
    API_KEYS: JSON.stringify({ keys: [{ name: 'bench', token, grants: [{ bucket: '*', role: 'admin' }] }] }),
  });
  const child = await startChild<ApiInfo>('run-api.ts', [], env, ref, start.nodeFlags);
  return { child, token, url: `${child.info.endpoint}/graphql` };
}

/**
 * Starts the API server in its own process with the embedded store (no
 * S3_ENDPOINT) in a fresh data dir, as `npm start` runs it: with the node
 * flags and environment of the start script, the store on its worker thread,
 * or with `sameThread` on the API's thread (as before). Anonymous on
 * loopback, no rate limit. With `ref`, the server's code and start settings
 * are that commit's (`--before`).
 */
export async function startEmbeddedApi(
  dataDir: string,
  sameThread: boolean,
  ref?: string,
): Promise<Omit<Api, 'token'>> {
  const start = await startSettings(ref);
  const env = serverEnv(start.env, { EMBEDDED_S3_PORT: '0', DATA_DIR: dataDir });
  const child = await startChild<ApiInfo>('run-api.ts', sameThread ? ['same-thread'] : [], env, ref, start.nodeFlags);
  return { child, url: `${child.info.endpoint}/graphql` };
}
