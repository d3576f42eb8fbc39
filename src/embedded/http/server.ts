/**
 * The embedded store's S3 REST API over node:http, path-style (`/bucket/key`).
 *
 * The request target is parsed once (target.ts) and that result is both
 * routed (router.ts) and verified. Every request but a CORS preflight
 * (cors.ts) and a POST Object (post-object.ts: its form carries a signed
 * policy instead) is authenticated by `verifyRequest` (auth/sigv4.ts) before
 * anything else happens, and every request body is read through `body`
 * (context.ts), which removes aws-chunked framing and verifies signatures and
 * checksums. With `Expect: 100-continue` the interim 100 is sent only once the
 * request has been authenticated and checked (bucket, key, upload), right
 * before its body is read.
 *
 * Logging: one debug line per request (id, operation, method, bucket, key,
 * status, duration); never headers, query strings or signatures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULT_REGION } from '../auth/signature.js';
import { verifyRequest } from '../auth/sigv4.js';
import type { StoreCredentials } from '../credentials.js';
import { errors, S3Error } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { send, type Ctx, type StoreSettings } from './context.js';
import { applyCors, preflight } from './cors.js';
import { hasBody } from './headers.js';
import { POST_OBJECT, route } from './router.js';
import { parseTarget } from './target.js';
import { errorXml } from './xml.js';

/** Requests and responses move in chunks of up to 1 MiB. */
const IO_HIGH_WATER_MARK = 1024 * 1024;

/** What an error answer keeps of the headers a handler may already have set. */
const KEPT_ON_ERROR = new Set(['x-amz-request-id', 'x-amz-id-2', 'server', 'vary', 'connection']);

/** How long the store waits on a client; see DEFAULT_TIMEOUTS. */
export interface StoreTimeouts {
  /** For a request's headers, from its first byte. */
  headersMs: number;
  /**
   * For the next byte while the store waits on the client mid-request (a
   * stalled upload or a download nobody reads). An inactivity limit, not a
   * cap on the request: a large upload may take hours as long as it moves.
   */
  idleMs: number;
  /** For the next request on an idle keep-alive connection. */
  keepAliveMs: number;
}

/** Node's own headers and keep-alive limits, and a minute of silence mid-request. */
const DEFAULT_TIMEOUTS: StoreTimeouts = { headersMs: 60_000, idleMs: 60_000, keepAliveMs: 5_000 };

export interface S3ServerOptions {
  storage: Storage;
  credentials: StoreCredentials;
  /** The only region signatures may name; default DEFAULT_REGION. */
  region?: string;
  timeouts?: Partial<StoreTimeouts>;
  /** The origin of the requests `handle` serves, as clients reach it (EmbeddedStoreOptions.mountOrigin). */
  mountOrigin?: string;
  logger?: Logger;
}

export interface S3Server {
  server: Server;
  /**
   * Serves one request of another node:http server whose path starts with
   * `basePath` (e.g. `/s3` on the API's port): routed without the prefix,
   * its signature checked against the path as received.
   */
  handle(req: IncomingMessage, res: ServerResponse, options: HandleOptions): Promise<void>;
  /** Waits for the requests in flight (call after closing their connections). */
  drain(): Promise<void>;
}

export interface HandleOptions {
  basePath: string;
}

/** Creates the HTTP server (not yet listening). */
export function createS3Server(options: S3ServerOptions): S3Server {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const store: StoreSettings = {
    storage: options.storage,
    credentials: options.credentials,
    region: options.region ?? DEFAULT_REGION,
    idleMs: timeouts.idleMs,
    logger: options.logger,
    owner: {
      ID: createHash('sha256').update(options.credentials.accessKeyId).digest('hex'),
      DisplayName: 'embedded',
    },
  };
  const inFlight = new Set<Promise<void>>();
  const track = (task: Promise<void>) => {
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    return task;
  };
  // No requestTimeout: it caps a whole request, and uploads of many GiB are
  // legitimately long. Slow clients are cut off by the headers timeout
  // (checked every quarter of it) and the socket inactivity timeout instead.
  const server = createServer({
    highWaterMark: IO_HIGH_WATER_MARK,
    requestTimeout: 0,
    headersTimeout: timeouts.headersMs,
    connectionsCheckingInterval: Math.min(30_000, Math.ceil(timeouts.headersMs / 4)),
  });
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.timeout = timeouts.idleMs;
  const accept = (expectContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    void track(handle(store, req, res, { expectContinue, basePath: '', origin: undefined }));
  };
  server.on('request', accept(false));
  server.on('checkContinue', accept(true));
  return {
    server,
    // The other server has answered any `Expect: 100-continue` already.
    handle: (req, res, { basePath }) =>
      track(handle(store, req, res, { expectContinue: false, basePath, origin: options.mountOrigin })),
    async drain() {
      await Promise.allSettled([...inFlight]);
    },
  };
}

async function handle(
  store: StoreSettings,
  req: IncomingMessage,
  res: ServerResponse,
  { expectContinue, basePath, origin }: { expectContinue: boolean; basePath: string; origin: string | undefined },
): Promise<void> {
  const started = process.hrtime.bigint();
  const ctx: Ctx = {
    store,
    req,
    res,
    requestId: randomBytes(8).toString('hex').toUpperCase(),
    method: req.method ?? 'GET',
    query: new URLSearchParams(),
    expectContinue,
    origin,
    continued: false,
    bodyStarted: false,
    op: 'Unknown',
  };
  res.setHeader('x-amz-request-id', ctx.requestId);
  res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
  res.setHeader('Server', 'EmbeddedS3');
  try {
    await dispatch(ctx, basePath);
  } catch (err) {
    sendError(ctx, err);
  } finally {
    store.logger?.debug(
      {
        requestId: ctx.requestId,
        op: ctx.op,
        method: ctx.method,
        bucket: ctx.bucket,
        key: ctx.key,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      },
      's3 request',
    );
  }
}

async function dispatch(ctx: Ctx, basePath: string): Promise<void> {
  // One parse, read by both the router and the signature check.
  const target = parseTarget(ctx.req.url ?? '/', basePath);
  ctx.query = target.query;
  if (target.bucket !== undefined) ctx.bucket = target.bucket;
  if (target.key !== undefined) ctx.key = target.key;

  if (ctx.method === 'OPTIONS') {
    ctx.op = 'PreflightRequest';
    preflight(ctx);
    return;
  }
  applyCors(ctx);
  const [op, handler] = route(ctx);
  ctx.op = op;
  // POST Object carries its signature in the form (checked by its handler, before the file is read).
  if (op !== POST_OBJECT) {
    ctx.verified = verifyRequest(ctx.req, target, ctx.store.credentials, { region: ctx.store.region });
  }
  await handler(ctx);
}

function sendError(ctx: Ctx, err: unknown): void {
  const { req, res } = ctx;
  let error: S3Error;
  if (err instanceof S3Error) error = err;
  else {
    if (isClientGone(err, req)) {
      res.destroy();
      return;
    }
    ctx.store.logger?.error({ err, requestId: ctx.requestId, op: ctx.op }, 'embedded store: internal error');
    error = errors.internal();
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body nobody read is drained by node after the answer (the client may
  // still be sending it, and reads the answer once done). A client waiting
  // for 100 Continue will not send it, and a body abandoned half-way cannot
  // be resynchronised: those connections close.
  if (!req.complete && hasBody(req) && ((ctx.expectContinue && !ctx.continued) || ctx.bodyStarted)) {
    res.setHeader('Connection', 'close');
  }
  for (const name of res.getHeaderNames()) {
    if (!KEPT_ON_ERROR.has(name) && !name.startsWith('access-control-')) res.removeHeader(name);
  }
  if (error.code === 'InvalidRange' && error.details.ActualObjectSize !== undefined) {
    res.setHeader('Content-Range', `bytes */${error.details.ActualObjectSize}`);
  }
  const resource = `/${ctx.bucket ?? ''}${ctx.key === undefined ? '' : `/${ctx.key}`}`;
  send(ctx, error.status, errorXml(error.code, error.message, resource, ctx.requestId, error.details));
}

function isClientGone(err: unknown, req: IncomingMessage): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || req.socket.destroyed;
}
