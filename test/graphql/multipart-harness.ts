/**
 * A real server for the multipart tests: the app of `startApp` in
 * ./helpers.ts (every store command counted), plus what these tests need:
 * the Store's listing page size, and operations with files sent as the
 * GraphQL multipart request spec over real HTTP (fetch + FormData).
 */
import type { StoreUnderTest } from '../support/stores.js';
import { startApp, type GqlResponse, type RunningApp } from './helpers.js';

export interface MultipartTestServer extends RunningApp {
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
  const app = await startApp(store, { LOG_LEVEL: 'silent', ...options.env }, { listPageSize: options.listPageSize });
  const { url } = app;
  return {
    ...app,
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
  };
}
