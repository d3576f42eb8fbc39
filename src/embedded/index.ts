/**
 * The embedded S3-compatible store: what `npm start` serves when no store is
 * configured. The rest of the server enters it only here. Inside: http/ (the
 * S3 REST API: router, one file of handlers per resource), auth/ (SigV4,
 * aws-chunked bodies, checksums), storage/ (objects as files under
 * `dataDir`), errors.ts, credentials.ts, store.ts (the store in the calling
 * thread), worker.ts and thread.ts (the store in a worker thread).
 *
 * This file loads none of the store's code itself: an app on its worker
 * thread (or on an external store) keeps the store's modules out of the
 * API's thread.
 */
import type { EmbeddedStore, EmbeddedStoreOptions } from './store.js';

export type { EmbeddedStore, EmbeddedStoreOptions } from './store.js';
export type { StoreCredentials } from './credentials.js';
export { CREDENTIALS_FILE } from './credentials.js';
export { StartupError } from './errors.js';
export { startEmbeddedStoreThread } from './thread.js';

/**
 * Starts the store in this thread. A start-up failure throws a StartupError:
 * one line and a `code`, e.g. "port 9000 on 127.0.0.1 is already in use"
 * (EADDRINUSE) or "DATA_DIR ./data is not writable: EACCES" (EACCES).
 */
export async function startEmbeddedStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const { startStore } = await import('./store.js');
  return startStore(options);
}
