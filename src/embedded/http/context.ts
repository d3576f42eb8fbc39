/**
 * What every handler works with: the request's context (Ctx), the store's
 * settings, and the plumbing handlers share: answering, reading the body
 * (sending 100 Continue first), reading a request document.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readAtMost } from '../../core/read-body.js';
import { requestBody } from '../auth/body.js';
import type { RequestBody } from '../auth/chunked.js';
import type { VerifiedRequest } from '../auth/sigv4.js';
import type { StoreCredentials } from '../credentials.js';
import { S3Error } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { declaredLength } from './headers.js';
import { renderXml, type XmlElement } from './xml.js';

/** What stays the same across requests. */
export interface StoreSettings {
  storage: Storage;
  credentials: StoreCredentials;
  /** The only region signatures may name. */
  region: string;
  /** The socket inactivity limit (StoreTimeouts.idleMs), restored after store work when the socket had none set. */
  idleMs: number;
  logger: Logger | undefined;
  /** Owner and Initiator in listings: derived from the access key, as S3's canonical user id. */
  owner: XmlElement;
}

export interface Ctx {
  store: StoreSettings;
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  method: string;
  query: URLSearchParams;
  bucket?: string;
  key?: string;
  verified?: VerifiedRequest;
  expectContinue: boolean;
  /** The origin the client reached the store under, when the server knows it (a mount's `mountOrigin`). */
  origin: string | undefined;
  continued: boolean;
  bodyStarted: boolean;
  op: string;
}

/** One S3 operation. */
export type Handler = (ctx: Ctx) => Promise<void>;

/** Answers with `body` as XML (none for HEAD), or with no body. */
export function send(ctx: Ctx, status: number, body?: string, headers: Record<string, string> = {}): void {
  const { res } = ctx;
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body === undefined || ctx.method === 'HEAD') {
    if (status !== 204 && status !== 304)
      res.setHeader('Content-Length', body === undefined ? '0' : Buffer.byteLength(body));
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

export function sendXml(ctx: Ctx, root: string, body: XmlElement, headers: Record<string, string> = {}): void {
  send(ctx, 200, renderXml(root, body), headers);
}

/** Marks the body as being read; sends 100 Continue first when the client waits for it. */
export function startBody(ctx: Ctx): void {
  if (ctx.expectContinue && !ctx.continued) {
    ctx.res.writeContinue();
    ctx.continued = true;
  }
  ctx.bodyStarted = true;
}

/** The decoded request body; sends 100 Continue first when the client waits for it. */
export function body(ctx: Ctx): RequestBody {
  startBody(ctx);
  const decoded = requestBody(ctx.req, ctx.verified!);
  // A small body can end (and fail its checks) before its consumer attaches,
  // e.g. while the temp file opens: keep the error on the stream, where
  // pipeline and for-await find it, instead of letting it go uncaught.
  decoded.on('error', () => undefined);
  return decoded;
}

/** A request document (XML), read whole: at most `limit` bytes. */
export async function readDocument(ctx: Ctx, limit: number): Promise<Buffer> {
  const tooBig = () => new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');
  const declared = declaredLength(ctx.req);
  if (declared !== undefined && declared > limit) throw tooBig();
  const document = await readAtMost(body(ctx), limit);
  if (document === undefined) throw tooBig();
  return document;
}

/**
 * Store work that neither reads nor writes the connection (copying,
 * assembling parts) can outlast the idle timeout, which is there for
 * silent clients: it is off while the store works.
 */
export async function storeWork<T>(ctx: Ctx, work: () => Promise<T>): Promise<T> {
  const { socket } = ctx.req;
  // The server's own limit: the store's idleMs, or the API's when served on its port.
  const idleMs = socket.timeout ?? ctx.store.idleMs;
  socket.setTimeout(0);
  try {
    return await work();
  } finally {
    if (!socket.destroyed) socket.setTimeout(idleMs);
  }
}

/** The request's bucket, or NoSuchBucket. */
export function requireBucket(ctx: Ctx): string {
  ctx.store.storage.headBucket(ctx.bucket!);
  return ctx.bucket!;
}
