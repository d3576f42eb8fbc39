import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorBody, sendJson } from './respond.js';

/**
 * Caps open connections: `maxConnections` in all (Node refuses the rest as
 * they arrive) and `perClient` from one remote address (0: no cap), so one
 * client cannot hold every connection before it is authenticated or charged
 * to the rate limit. A connection over a cap is closed at once.
 */
export function capConnections(server: Server, maxConnections: number, perClient: number, log: Logger): void {
  server.maxConnections = maxConnections;
  if (perClient === 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return;
    const count = open.get(address) ?? 0;
    if (count >= perClient) {
      log.debug({ address, open: count }, 'connection refused: MAX_CONNECTIONS_PER_CLIENT reached');
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = open.get(address)! - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

interface Watched {
  req: IncomingMessage;
  res: ServerResponse;
  log: Logger;
  /** The socket's bytesRead when the current window began. */
  bytesAtStart: number;
  windowStart: number;
}

/**
 * Cuts request bodies that arrive slower than `minBytesPerSecond` over a
 * window of `windowMs` (a client trickling a body holds a connection, and an
 * upload, for as long as it likes). Only time spent waiting for the client
 * counts: while the request holds body bytes nobody has read yet, the server
 * is the one behind (e.g. a slow store), and the window starts again.
 *
 * A cut request gets 408 when its response has not started, and its
 * connection is closed: whatever reads the body sees the client go away, so
 * an upload is aborted in the store as on any disconnect.
 */
export class BodyRateGuard {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly minBytesPerSecond: number,
    private readonly windowMs: number,
  ) {}

  /** Watches the body of `req`, if it has one, until it has all arrived or the request is gone. */
  watch(req: IncomingMessage, res: ServerResponse, log: Logger): void {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (this.minBytesPerSecond === 0 || !hasBody || req.complete) return;
    const entry: Watched = { req, res, log, bytesAtStart: req.socket.bytesRead, windowStart: Date.now() };
    this.watched.add(entry);
    req.once('close', () => this.watched.delete(entry));
    // Ten checks a window: a cut comes at most a tenth of a window late.
    this.timer ??= setInterval(() => this.check(), this.windowMs / 10).unref();
  }

  private check(): void {
    const now = Date.now();
    for (const entry of this.watched) {
      const { req } = entry;
      if (req.complete || req.destroyed) {
        this.watched.delete(entry);
        continue;
      }
      const bytes = req.socket.bytesRead;
      if (req.readableLength > 0) {
        entry.bytesAtStart = bytes;
        entry.windowStart = now;
        continue;
      }
      if (now - entry.windowStart < this.windowMs) continue;
      const received = bytes - entry.bytesAtStart;
      if (received < (this.minBytesPerSecond * this.windowMs) / 1000) {
        this.watched.delete(entry);
        this.cut(entry, received);
        continue;
      }
      entry.bytesAtStart = bytes;
      entry.windowStart = now;
    }
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private cut({ req, res, log }: Watched, received: number): void {
    log.info(
      { received, windowMs: this.windowMs, minBytesPerSecond: this.minBytesPerSecond },
      'request body slower than MIN_UPLOAD_BYTES_PER_SECOND; closing the connection',
    );
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    // With `connection: close`, Node closes the connection once the answer is out.
    sendJson(
      res,
      408,
      errorBody(
        'BAD_USER_INPUT',
        `The request body arrived slower than ${this.minBytesPerSecond} bytes a second over ${this.windowMs / 1000} s (MIN_UPLOAD_BYTES_PER_SECOND, UPLOAD_RATE_WINDOW_MS).`,
      ),
      { connection: 'close' },
    );
  }
}
