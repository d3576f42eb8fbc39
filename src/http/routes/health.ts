import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError } from '../../core/errors.js';
import type { Store } from '../../s3/store.js';
import { sendJson } from '../respond.js';

/** How long /readyz waits for the store before answering 503. */
const READY_TIMEOUT_MS = 2_000;
/** How long a /readyz answer is reused: probes from many balancers cost at most one store call in this time. */
export const READY_CACHE_MS = 1_000;

/**
 * The store answers its readiness check within READY_TIMEOUT_MS, or this
 * rejects with BACKEND_UNAVAILABLE saying why. A late check is abandoned,
 * retries included, so a hanging store does not pile up calls and sockets.
 */
export function checkReady(store: Store): Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new AppError('BACKEND_UNAVAILABLE', `the object store did not answer within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
  });
  const ping = store.ping(abort.signal);
  // Once abandoned, the call's own rejection (AbortError) has no one waiting for it.
  ping.catch(() => {});
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `checkReady` shared by concurrent callers: one store call in flight at
 * most, and its result (success or failure) reused for READY_CACHE_MS after
 * it settles, so /readyz cannot be used to multiply calls to the store.
 */
function sharedReadiness(store: Store): () => Promise<void> {
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

/** `/healthz`: the process answers. */
export function healthz(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

/** `/readyz`: 200 when the store answers (a check at most READY_CACHE_MS old), else 503 saying why. */
export function readyzRoute(store: Store): (res: ServerResponse, log: Logger) => Promise<void> {
  const ready = sharedReadiness(store);
  return async (res, log) => {
    try {
      await ready();
      sendJson(res, 200, { status: 'ok' });
    } catch (err) {
      const message = err instanceof AppError ? err.message : 'the object store is not available';
      log.warn({ err }, 'not ready');
      sendJson(res, 503, { status: 'unavailable', message });
    }
  };
}
