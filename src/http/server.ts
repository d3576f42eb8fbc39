/**
 * The HTTP side: the node:http server (routing, request ids, logs and
 * metrics of every request, connection caps, slow clients) and its routes
 * (routes/): `/graphql` into Yoga (or GraphiQL's page), `/objects`
 * downloads, GraphiQL's assets, the web console on `/` (CONSOLE), `/healthz`, `/readyz`, `/metrics`, CORS
 * (cors.ts) and the embedded store's `/s3`. It enters through `createServer`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { type AccessNotes, withRequestScope } from '../core/request-scope.js';
import { requestIdFrom } from '../observability/request-id.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../s3/store.js';
import type { Limiter } from '../security/rate-limit.js';
import { Admission } from './admission.js';
import { BodyRateGuard, capConnections } from './connections.js';
import { Cors } from './cors.js';
import { Drain } from './drain.js';
import { errorBody, sendError, sendJson } from './respond.js';
import { CONSOLE_ASSETS_PREFIX, CONSOLE_PATH, Console } from './routes/console.js';
import { GRAPHIQL_ASSETS_PREFIX, GraphiQL } from './routes/graphiql.js';
import { GRAPHQL_PATH, graphqlRoute, type GraphQLHandler } from './routes/graphql.js';
import { healthz, readyzRoute } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { OBJECTS_PREFIX, objectsRoute, SAFETY_HEADERS } from './routes/objects.js';

/** A connection with no byte in either direction for this long is closed (Yoga lifts it for streamed GraphQL answers). */
const IDLE_TIMEOUT_MS = 120_000;
/** An idle keep-alive connection is closed after this long (Node's default, stated here on purpose). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface ServerDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  yoga: GraphQLHandler;
  /** The per-client rate limit of `/graphql` and `/objects` (RATE_LIMIT_PER_MINUTE, shared through REDIS_URL). */
  rateLimiter: Limiter;
  /**
   * The embedded store's request handler, when it is the store in use: it is
   * served under EMBEDDED_PREFIX too (SigV4 is its authentication).
   */
  embedded?: EmbeddedHandler | undefined;
}

/** What the server needs of the embedded store: its S3 API for requests whose path starts with `basePath`. */
interface EmbeddedHandler {
  handle(req: IncomingMessage, res: ServerResponse, options: { basePath: string }): Promise<void>;
}

/** Where the embedded store is served on the API's port. */
export const EMBEDDED_PREFIX = '/s3';

/** Route names, the `route` label of the request metrics: a small fixed set. */
type RouteName = 'healthz' | 'readyz' | 'metrics' | 'objects' | 'graphql' | 'graphiql' | 'console' | 's3' | 'unknown';

/** What a route is given of its request besides the request and response themselves. */
interface RequestInfo {
  path: string;
  query: string;
  requestId: string;
  log: Logger;
}

interface Route {
  name: RouteName;
  matches(path: string): boolean;
  /** GET and HEAD only: the server answers other methods with 405. */
  readOnly: boolean;
  /** The methods a browser on a CORS_ORIGINS origin may use; unset: no CORS on this route. */
  corsMethods?: string;
  handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> | void;
}

const methodNotAllowed = (res: ServerResponse, allow: string) =>
  sendJson(res, 405, errorBody('BAD_USER_INPUT', `This route accepts ${allow.replace(', ', ' and ')} only.`), {
    allow,
  });

/** The socket's `bytesRead` when its last request ended: what a keep-alive connection's next request read is counted from. */
const readAtLastEnd = new WeakMap<Socket, number>();

/** The access line's GraphQL operations: the one name, or the names of a batch joined by commas; unnamed ones as "anonymous". */
function operationField(notes: AccessNotes): string | undefined {
  return notes.operations?.map((name) => name ?? 'anonymous').join(',') || undefined;
}

/** The 404 answer, naming the routes this server serves (the console and the embedded store only when they are on). */
function notFoundSender(served: { console: boolean; embedded: boolean }) {
  const routes = [
    ...(served.console ? ['/ (the web console)'] : []),
    '/graphql',
    '/objects/{bucket}/{key}',
    ...(served.embedded ? [`${EMBEDDED_PREFIX}/ (the embedded store's S3 API)`] : []),
    '/healthz',
    '/readyz',
  ];
  const message = `There is nothing at this path: the routes are ${routes.join(', ')} and /metrics.`;
  return (res: ServerResponse) => sendJson(res, 404, errorBody('BAD_USER_INPUT', message));
}

/**
 * The HTTP server: for every request a request id (the client's
 * `x-request-id` when well formed, echoed back), then `/healthz`, `/readyz`,
 * `/metrics`, `GET`/`HEAD /objects/{bucket}/{key}`, and `/graphql`
 * (routes/graphql.ts: CSRF, the upload pre-parse, then Yoga). Any other path
 * is a 404. One metrics sample and one access line per request (route,
 * GraphQL operations, caller's key name, status, duration, bytes in and
 * out); every line logged while serving it carries its request id
 * (src/core/request-scope.ts). It does not listen yet.
 *
 * `OPTIONS` on `/graphql` and `/objects` is a CORS preflight (cors.ts),
 * answered before admission; their other answers carry the CORS grant of
 * CORS_ORIGINS. With the embedded store, `/s3/…` is that store's S3 API
 * (its own SigV4 instead of admission, CSRF and body limits).
 *
 * Requests to `/graphql` and `/objects` are authenticated and charged to a
 * per-client rate limit before anything else is read (`Admission`).
 *
 * Slow clients cannot hold connections before any of that: headers must
 * arrive within HEADERS_TIMEOUT_MS (else 408), a body at
 * MIN_UPLOAD_BYTES_PER_SECOND at least (else 408 and the connection is
 * closed), and connections are capped in all and per client address.
 * /readyz answers from a store check at most READY_CACHE_MS old, and 503
 * once the server drains (drain.ts: SIGTERM).
 */
export function createServer(deps: ServerDeps): { server: Server; drain: Drain } {
  const { config, store, logger, metrics, yoga, embedded } = deps;
  const cors = new Cors(config.corsOrigins);
  const admission = new Admission(config, deps.rateLimiter, metrics);
  const readyz = readyzRoute(store);
  const bodyRate = new BodyRateGuard(config.minUploadBytesPerSecond, config.uploadRateWindowMs);
  const graphiql = config.graphiql ? new GraphiQL({ endpoint: GRAPHQL_PATH }) : undefined;
  const consolePages = config.console ? new Console() : undefined;
  const notFound = notFoundSender({ console: consolePages !== undefined, embedded: embedded !== undefined });

  const routes: Route[] = [
    { name: 'healthz', matches: (path) => path === '/healthz', readOnly: true, handle: (_req, res) => healthz(res) },
    {
      name: 'readyz',
      matches: (path) => path === '/readyz',
      readOnly: true,
      handle: (_req, res, { log }) =>
        drain.draining
          ? sendJson(res, 503, { status: 'draining', message: 'the server is shutting down' })
          : readyz(res, log),
    },
    {
      name: 'metrics',
      matches: (path) => path === '/metrics',
      readOnly: true,
      handle: (req, res) => metricsRoute(req, res, metrics),
    },
    {
      name: 'objects',
      matches: (path) => path.startsWith(OBJECTS_PREFIX),
      readOnly: true,
      corsMethods: 'GET, HEAD',
      handle: (req, res, { path, query, log }) =>
        objectsRoute(req, res, path, query, { store, metrics, admission }, log),
    },
    {
      name: 'graphql',
      matches: (path) => path === GRAPHQL_PATH,
      readOnly: false,
      corsMethods: 'GET, POST',
      handle: (req, res, { requestId }) =>
        graphqlRoute(req, res, requestId, { config, metrics, yoga, admission, graphiql }),
    },
    {
      name: 'graphiql',
      matches: (path) => graphiql !== undefined && path.startsWith(GRAPHIQL_ASSETS_PREFIX),
      readOnly: true,
      handle: (req, res, { path }) => graphiql?.sendAsset(req, res, path),
    },
    {
      name: 'console',
      matches: (path) =>
        consolePages !== undefined && (path === CONSOLE_PATH || path.startsWith(CONSOLE_ASSETS_PREFIX)),
      readOnly: true,
      handle: (req, res, { path }) =>
        path === CONSOLE_PATH ? consolePages?.sendPage(res) : consolePages?.sendAsset(req, res, path),
    },
  ];
  if (embedded) {
    // Not admitted: the store checks each request's signature, and answers S3's own errors.
    routes.push({
      name: 's3',
      matches: (path) => path === EMBEDDED_PREFIX || path.startsWith(`${EMBEDDED_PREFIX}/`),
      readOnly: false,
      handle: (req, res) => {
        // Presigned GETs (`object { url }`, `/objects?redirect=1`) serve stored files from this origin:
        // they get the same guard against a stored HTML page running here as `/objects` answers.
        for (const [name, value] of Object.entries(SAFETY_HEADERS)) res.setHeader(name, value);
        // A browser following `/objects?redirect=1` here (same origin) keeps the API's Bearer token,
        // which the store would take for a second signature; it never is one.
        if (/^bearer\s/i.test(req.headers.authorization ?? '')) delete req.headers.authorization;
        return embedded.handle(req, res, { basePath: EMBEDDED_PREFIX });
      },
    });
  }

  async function serve(req: IncomingMessage, res: ServerResponse, route: Route | undefined, info: RequestInfo) {
    if (!route) return notFound(res);
    const method = req.method ?? 'GET';
    if (route.corsMethods !== undefined) {
      // Before admission: a preflight carries no credentials.
      if (method === 'OPTIONS') return cors.preflight(req, res, route.corsMethods);
      cors.decorate(req, res);
    }
    if (route.readOnly && method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
    await route.handle(req, res, info);
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
      const socket = req.socket;
      const readBefore = readAtLastEnd.get(socket) ?? 0;
      const writtenBefore = socket.bytesWritten;
      const header = req.headers['x-request-id'];
      const requestId = requestIdFrom(typeof header === 'string' ? header : undefined);
      res.setHeader('x-request-id', requestId);
      const log = logger.child({ requestId });
      const rawUrl = req.url ?? '/';
      const cut = rawUrl.indexOf('?');
      // The raw path: /objects keys are decoded segment by segment, never normalised.
      const path = cut === -1 ? rawUrl : rawUrl.slice(0, cut);
      const query = cut === -1 ? '' : rawUrl.slice(cut + 1);
      const route = routes.find((r) => r.matches(path));
      const name = route?.name ?? 'unknown';
      const method = req.method ?? 'GET';
      const notes: AccessNotes = {};
      bodyRate.watch(req, res, log);

      res.once('close', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const status = res.headersSent ? res.statusCode : 0;
        metrics.httpRequest(name, method, status, seconds);
        readAtLastEnd.set(socket, socket.bytesRead);
        const line = {
          method,
          route: name,
          path,
          operation: operationField(notes),
          caller: notes.caller,
          status,
          ms: Math.round(seconds * 1000),
          // On the connection, headers included: a keep-alive connection's bytes are counted from the end of its last request.
          bytesIn: socket.bytesRead - readBefore,
          bytesOut: socket.bytesWritten - writtenBefore,
        };
        if (res.writableFinished) log.info(line, 'request');
        else log.info({ ...line, aborted: true }, 'request ended before its response was complete');
      });

      drain.track(
        res,
        withRequestScope({ requestId, notes }, () => serve(req, res, route, { path, query, requestId, log })).catch(
          (err: unknown) => sendError(res, err, log),
        ),
      );
    },
  );
  const drain = new Drain(server, (draining) => metrics.draining(draining));
  server.setTimeout(IDLE_TIMEOUT_MS);
  capConnections(server, config.maxConnections, config.maxConnectionsPerClient, logger);
  return { server, drain };
}
