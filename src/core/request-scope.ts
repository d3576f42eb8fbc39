import { AsyncLocalStorage } from 'node:async_hooks';
import type { StoreCallBudget } from './store-call-budget.js';

/**
 * What the server knows of the HTTP request the running code serves, kept in
 * one AsyncLocalStorage so that code far from the route (the S3 client's
 * middleware, the logger) finds it without it being passed down: its id (on
 * every log line, src/observability/logger.ts), the notes of its access line,
 * and its store-call budget (src/core/store-call-budget.ts).
 */
export interface RequestScope {
  readonly requestId: string | undefined;
  /** Filled in as the request is served; the server writes them on the request's access line. */
  readonly notes: AccessNotes;
  /** The request's store-call budget, once it has been admitted; none: store calls are not counted. */
  readonly budget?: StoreCallBudget;
}

export interface AccessNotes {
  /** The API key's name; null for an anonymous caller; unset until the request is authenticated. */
  caller?: string | null;
  /** The GraphQL operations it asked for, by name (null: anonymous), in order. */
  operations?: (string | null)[];
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (and everything it starts) as serving the request `scope`. */
export function withRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope of the request this code runs for; undefined outside a request. */
export function currentRequestScope(): RequestScope | undefined {
  return scopes.getStore();
}
