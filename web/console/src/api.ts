/**
 * The console's Apollo Client: every request goes to this server's
 * /graphql, with the tab's API key when there is one, through
 * apollo-upload-client (files become a GraphQL multipart request, sent with
 * the CSRF header the server asks of browser-simple requests) and an
 * XMLHttpRequest-based fetch that reports upload progress.
 */
import { ApolloClient, InMemoryCache } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { type ProgressOptions, xhrFetch } from './xhr-fetch';

const GRAPHQL_PATH = '/graphql';

const TOKEN_KEY = 's3-graphql-console-token';

/** The API key typed into this tab, kept in sessionStorage: gone when the tab closes, never shared with other tabs. */
export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Headers for a request of ours to this server: the API key, when the tab has one. */
export function authHeaders(): Record<string, string> {
  const value = token.get();
  return value ? { authorization: `Bearer ${value}` } : {};
}

function consoleFetch(input: RequestInfo | URL, init: RequestInit & ProgressOptions = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
  if (init.body instanceof FormData) headers.set('x-graphql-csrf', '1');
  return xhrFetch(input, { ...init, headers });
}

export function createClient() {
  return new ApolloClient({
    link: new UploadHttpLink({ uri: GRAPHQL_PATH, fetch: consoleFetch as typeof fetch }),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' }, watchQuery: { fetchPolicy: 'network-only' } },
  });
}

export type Client = ReturnType<typeof createClient>;
