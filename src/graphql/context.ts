import { requestIdFrom } from '../observability/request-id.js';
import type { Logger } from 'pino';
import { keyringOf, type Caller } from '../security/auth.js';
import type { Config } from '../config/index.js';
import { ListingCursors } from '../core/cursors.js';
import type { Store } from '../s3/store.js';
import { createLoaders, type Loaders } from './loaders.js';

/** What the GraphQL layer needs from the application wiring (a subset of `AppDeps`). */
export interface ContextDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Signs and checks listing cursors; one per app, built by `createYogaApp`. */
  cursors: ListingCursors;
}

/**
 * What `src/http/routes/graphql.ts` may pass as Yoga's server context: the request id it
 * logs with, the caller when it has authenticated the request itself, and
 * how to charge the rest of the request's cost to the client's rate limit.
 */
export interface ServerContext {
  requestId?: string;
  caller?: Caller;
  /** Charges `count` more to this client's rate limit (src/graphql/plugins/use-store-call-limit.ts: store calls past the one charged on arrival); throws the RATE_LIMITED error when over. */
  chargeOperations?: (count: number) => Promise<void>;
}

/** Everything a resolver gets. A new one per request, so loaders never share results between requests. */
export interface Context {
  config: Config;
  store: Store;
  cursors: ListingCursors;
  /** Child of the app logger carrying `requestId`. */
  logger: Logger;
  requestId: string;
  caller: Caller;
  loaders: Loaders;
}

/** The request id: the server's, else the request's own. */
function requestIdOf(request: Request, server: ServerContext | undefined): string {
  return server?.requestId || requestIdFrom(request.headers.get('x-request-id'));
}

/**
 * Builds the context of one GraphQL request. The caller is the one the
 * server authenticated, or is found here from the Authorization header;
 * a missing or unknown token throws UNAUTHENTICATED before anything runs.
 */
export function createContext(deps: ContextDeps, request: Request, server?: ServerContext): Context {
  const requestId = requestIdOf(request, server);
  const caller = server?.caller ?? keyringOf(deps.config).authenticate(request.headers.get('authorization'));
  return {
    config: deps.config,
    store: deps.store,
    cursors: deps.cursors,
    logger: deps.logger.child({ requestId }),
    requestId,
    caller,
    loaders: createLoaders(deps.store),
  };
}

/** The cursor signer of an app: keyed by CURSOR_SECRET, else by the store's secret access key (every replica has it). */
export function listingCursorsOf(config: Config): ListingCursors {
  const secret = config.cursorSecret ?? config.store.secretAccessKey;
  if (secret === undefined) throw new Error('the server has no secret to sign listing cursors with');
  return new ListingCursors(secret);
}
