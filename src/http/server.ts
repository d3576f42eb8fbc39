import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { keyringOf, type Caller } from '../security/auth.js';
import type { Config } from '../config/index.js';
import { requestIdFrom, type ServerContext } from '../graphql/context.js';
import { AppError } from '../core/errors.js';
import { BodyRateGuard, capConnections } from './connections.js';
import { CSRF_MESSAGE, isCsrfSuspect, mediaType } from '../security/csrf.js';
import { OBJECTS_PREFIX, serveObject } from './objects.js';
import { errorBody, sendError, sendJson } from './respond.js';
import { parseMultipart } from './upload.js';
import type { Metrics } from '../observability/metrics.js';
import { RateLimiter, rateLimitedError } from '../security/rate-limit.js';
import type { Store } from '../s3/store.js';

/** How long /readyz waits for the store before answering 503. */
export const READY_TIMEOUT_MS = 2_000;
/** How long a /readyz answer is reused: probes from many balancers cost at most one store call in this time. */
export const READY_CACHE_MS = 1_000;
/** A connection with no byte in either direction for this long is closed (Yoga lifts it for streamed GraphQL answers). */
export const IDLE_TIMEOUT_MS = 120_000;
/** An idle keep-alive connection is closed after this long (Node's default, stated here on purpose). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export const GRAPHQL_PATH = '/graphql';

/** The request body types Yoga reads on POST /graphql, and multipart uploads (parsed here). */
const GRAPHQL_POST_TYPES = new Set([
  'application/json',
  'application/graphql+json',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

/**
 * What the server needs of the Yoga instance: `handle(req, res, context)`
 * answers a Node request (it writes the response) with `context` merged
 * into Yoga's server context.
 */
export interface GraphQLHandler {
  handle(req: IncomingMessage, res: ServerResponse, context: ServerContext): Promise<void> | void;
}

export interface ServerDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  yoga: GraphQLHandler;
}

/** Route names, the `route` label of the request metrics: a small fixed set. */
type Route = 'healthz' | 'readyz' | 'metrics' | 'objects' | 'graphql' | 'unknown';

const methodNotAllowed = (res: ServerResponse, allow: string) =>
  sendJson(res, 405, errorBody('BAD_USER_INPUT', `This route accepts ${allow.replace(', ', ' and ')} only.`), { allow });

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('BACKEND_UNAVAILABLE', message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The store answers its readiness check within READY_TIMEOUT_MS, or this rejects with BACKEND_UNAVAILABLE saying why. */
export function checkReady(store: Store): Promise<void> {
  return withTimeout(store.ping(), READY_TIMEOUT_MS, `the object store did not answer within ${READY_TIMEOUT_MS} ms`);
}

/**
 * `checkReady` shared by concurrent callers: one store call in flight at
 * most, and its result (success or failure) reused for READY_CACHE_MS after
 * it settles, so /readyz cannot be used to multiply calls to the store.
 */
export function sharedReadiness(store: Store): () => Promise<void> {
  let current: Promise<void> | undefined;
  let settledAt: number | undefined;
  return () => {
    if (current && (settledAt === undefined || Date.now() - settledAt < READY_CACHE_MS)) return current;
    const probe = checkReady(store);
    current = probe;
    settledAt = undefined;
    const settled = () => {
      settledAt = Date.now();
    };
    probe.then(settled, settled);
    return probe;
  };
}

/** Who a request comes from: its caller when its key is good, else the authentication error. */
type Identity = { caller: Caller; error?: undefined } | { caller?: undefined; error: AppError };

/**
 * The HTTP server: for every request a request id (the client's
 * `x-request-id` when well formed, echoed back), then `/healthz`, `/readyz`,
 * `/metrics`, `GET`/`HEAD /objects/{bucket}/{key}`, and `/graphql`, where
 * CSRF is checked before any body byte is read and multipart uploads are
 * parsed with graphql-upload-minimal so files stream to the resolvers; every
 * other request to /graphql is Yoga's. Any other path is a 404. One log line
 * and one metrics sample per request. It does not listen yet.
 *
 * Requests to `/graphql` and `/objects` are authenticated (Authorization:
 * Bearer) and charged to a per-client rate limit before anything else is
 * read: the client is the API key, or the remote address for anonymous
 * callers and for tokens that are not known (so guessing keys is limited
 * too). Over the limit: 429 with Retry-After.
 *
 * Slow clients cannot hold connections before any of that: headers must
 * arrive within HEADERS_TIMEOUT_MS (else 408), a body at
 * MIN_UPLOAD_BYTES_PER_SECOND at least (else 408 and the connection is
 * closed), and connections are capped in all and per client address.
 * /readyz answers from a store check at most READY_CACHE_MS old.
 */
export function createServer(deps: ServerDeps): Server {
  const { config, store, logger, metrics, yoga } = deps;
  const keyring = keyringOf(config);
  const limiter = new RateLimiter(config.rateLimitPerMinute);
  const ready = sharedReadiness(store);
  const bodyRate = new BodyRateGuard(config.minUploadBytesPerSecond, config.uploadRateWindowMs);

  function identify(req: IncomingMessage): Identity {
    try {
      return { caller: keyring.authenticate(req.headers.authorization) };
    } catch (err) {
      if (err instanceof AppError) return { error: err };
      throw err;
    }
  }

  /** The rate-limit client of a request: its API key's name, else its remote address. */
  const clientOf = (req: IncomingMessage, identity: Identity) =>
    identity.caller?.name != null ? `key:${identity.caller.name}` : `address:${req.socket.remoteAddress ?? 'unknown'}`;

  /** Takes `cost` requests from the client's allowance; throws RATE_LIMITED (429) when it is spent. */
  function charge(client: string, cost: number): void {
    const decision = limiter.take(client, cost);
    if (!decision.allowed) throw rateLimitedError(decision.retryAfterSeconds, limiter.perMinute);
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: string, requestId: string, log: Logger) {
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';

    if (path === '/healthz') {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      return sendJson(res, 200, { status: 'ok' });
    }

    if (path === '/readyz') {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      try {
        await ready();
        return sendJson(res, 200, { status: 'ok' });
      } catch (err) {
        const message = err instanceof AppError ? err.message : 'the object store is not available';
        log.warn({ err }, 'not ready');
        return sendJson(res, 503, { status: 'unavailable', message });
      }
    }

    if (path === '/metrics') {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      const text = await metrics.exposition();
      res.writeHead(200, {
        'content-type': metrics.contentType,
        'content-length': String(Buffer.byteLength(text)),
        'cache-control': 'no-store',
      });
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }

    if (path.startsWith(OBJECTS_PREFIX)) {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      const identity = identify(req);
      charge(clientOf(req, identity), 1);
      if (identity.error) throw identity.error;
      const objectDeps = { store, metrics, privateAnswers: keyring.enabled };
      return serveObject(req, res, path, new URLSearchParams(query), identity.caller, objectDeps, log);
    }

    if (path === GRAPHQL_PATH) {
      if (isCsrfSuspect(method, req.headers)) {
        return sendJson(res, 403, errorBody('FORBIDDEN', CSRF_MESSAGE));
      }
      const identity = identify(req);
      const client = clientOf(req, identity);
      charge(client, 1);
      // A bad key is answered by Yoga when it builds the context (GraphiQL's page needs no key).
      const context: ServerContext = {
        requestId,
        caller: identity.caller,
        chargeOperations: (count) => charge(client, count),
      };
      // Some clients send a list; Yoga reads its first entry, and so does this check.
      const contentType = req.headers['content-type']?.split(',')[0];
      const type = contentType === undefined ? undefined : mediaType(contentType);
      if (method === 'POST' && !GRAPHQL_POST_TYPES.has(type ?? '')) {
        // Yoga would answer 415 with an empty body.
        return sendJson(
          res,
          415,
          errorBody('BAD_USER_INPUT', `POST /graphql takes application/json, or multipart/form-data for uploads; this request is ${type ?? 'without a valid content type'}.`),
        );
      }
      if (method === 'POST' && type !== 'multipart/form-data') {
        // Yoga compares the header to the type exactly: give it the accepted type as it spells it.
        const cut = contentType!.indexOf(';');
        req.headers['content-type'] = cut === -1 ? type! : `${type}; ${contentType!.slice(cut + 1).trim()}`;
      } else if (method === 'POST') {
        // Known before a byte of the upload is read: a bad key costs no body.
        if (identity.error) throw identity.error;
        res.once('close', metrics.uploadStarted());
        const operations = await parseMultipart(req, res, {
          maxFileSize: config.maxUploadBytes,
          maxFiles: config.maxFilesPerRequest,
          maxOperationsBytes: config.maxJsonBodyBytes,
          metrics,
        });
        // whatwg-node takes a parsed `body` as the JSON request (Upload values and all).
        (req as IncomingMessage & { body?: unknown }).body = operations;
        // Yoga must not judge the request by the size of the files it carries.
        delete req.headers['content-length'];
      }
      await yoga.handle(req, res, context);
      return;
    }

    sendJson(res, 404, errorBody('BAD_USER_INPUT', 'There is nothing at this path: the routes are /graphql, /objects/{bucket}/{key}, /healthz, /readyz and /metrics.'));
  }

  const server = createHttpServer(
    {
      // An upload may take long: a body is held to MIN_UPLOAD_BYTES_PER_SECOND instead, and idle connections to the socket timeout.
      requestTimeout: 0,
      // Node has none when requestTimeout is 0: a client sending a header line now and then would stay for ever.
      headersTimeout: config.headersTimeoutMs,
      // How often Node looks for requests past the headers timeout: a quarter of it, at most Node's default 30 s.
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.headersTimeoutMs / 4)),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      const started = process.hrtime.bigint();
      const header = req.headers['x-request-id'];
      const requestId = requestIdFrom(typeof header === 'string' ? header : undefined);
      res.setHeader('x-request-id', requestId);
      const log = logger.child({ requestId });
      const rawUrl = req.url ?? '/';
      const cut = rawUrl.indexOf('?');
      // The raw path: /objects keys are decoded segment by segment, never normalised.
      const path = cut === -1 ? rawUrl : rawUrl.slice(0, cut);
      const query = cut === -1 ? '' : rawUrl.slice(cut + 1);
      const name = routeName(path);
      const method = req.method ?? 'GET';
      bodyRate.watch(req, res, log);

      res.once('close', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const status = res.headersSent ? res.statusCode : 0;
        metrics.httpRequest(name, method, status, seconds);
        const line = { method, route: name, path, status, ms: Math.round(seconds * 1000) };
        if (res.writableFinished) log.info(line, 'request');
        else log.info({ ...line, aborted: true }, 'request ended before its response was complete');
      });

      route(req, res, path, query, requestId, log).catch((err: unknown) => sendError(res, err, log));
    },
  );
  server.setTimeout(IDLE_TIMEOUT_MS);
  capConnections(server, config.maxConnections, config.maxConnectionsPerClient, logger);
  return server;
}

function routeName(path: string): Route {
  if (path === '/healthz') return 'healthz';
  if (path === '/readyz') return 'readyz';
  if (path === '/metrics') return 'metrics';
  if (path.startsWith(OBJECTS_PREFIX)) return 'objects';
  if (path === GRAPHQL_PATH) return 'graphql';
  return 'unknown';
}
