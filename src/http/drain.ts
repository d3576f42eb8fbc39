import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * After requests still running at the deadline are cut, how long their
 * handling may take to clean up (a cut upload aborts its multipart upload at
 * the store) before the store is closed anyway.
 */
const CLEAN_UP_GRACE_MS = 10_000;

export interface DrainOutcome {
  /** Requests still running at the deadline, whose connections were cut. */
  cut: number;
}

/**
 * Graceful drain of the HTTP server (SIGTERM, SIGINT: src/main.ts): once
 * `drain()` is called, `/readyz` answers 503, the listening socket is closed (new
 * connections are refused), idle keep-alive connections are closed and every
 * other one once its response is sent (`Connection: close`). Requests in
 * flight (uploads and downloads) run to their end for up to `timeoutMs`;
 * then their connections are cut, and their handling is given
 * CLEAN_UP_GRACE_MS to finish (a cut upload aborts its multipart upload
 * at the store, so none is left behind) before `drain` resolves.
 */
export class Drain {
  private started = false;
  /** The handling of every request not finished yet, settled (never rejected). */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly server: Server,
    private readonly onState: (draining: boolean) => void,
  ) {
    onState(false);
  }

  get draining(): boolean {
    return this.started;
  }

  /**
   * Tracks one request until its handler is done (`handling`, already
   * caught) and its response closed (a download is still being sent after
   * its handler returned).
   */
  track(res: ServerResponse, handling: Promise<void>): void {
    if (this.started && !res.headersSent) res.setHeader('connection', 'close');
    const closed = new Promise((resolve) => res.once('close', resolve));
    const request = Promise.all([handling, closed]).then(() => undefined);
    this.pending.add(request);
    void request.finally(() => {
      this.pending.delete(request);
      // Its connection may have just gone idle: no further request on it.
      if (this.started) setImmediate(() => this.server.closeIdleConnections());
    });
  }

  /** Starts draining (once), waits for requests in flight for up to `timeoutMs`, then cuts those left. */
  async drain(timeoutMs: number, logger: Logger): Promise<DrainOutcome> {
    if (!this.started) {
      this.started = true;
      this.onState(true);
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (
      await settlesWithin(
        closed.then(() => this.settled()),
        timeoutMs,
      )
    )
      return { cut: 0 };
    const cut = this.pending.size;
    logger.warn(
      { requests: cut, timeoutMs },
      'requests still running at the end of SHUTDOWN_TIMEOUT_MS: cutting their connections',
    );
    this.server.closeAllConnections();
    await settlesWithin(this.settled(), CLEAN_UP_GRACE_MS);
    return { cut };
  }

  /** Resolves when no request is being handled (a connection may still start one until it is closed). */
  private async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
