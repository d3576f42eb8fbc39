/**
 * What `test/global-setup.ts` hands to test files through vitest's
 * `provide`/`inject`. Test files should not call `inject('stores')` directly:
 * use `testStores()` from `./stores.js`.
 */

/** The kinds of S3-compatible store the suite runs against. */
export type StoreName = 'moto' | 'embedded';

export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** One running S3-compatible store, reachable on loopback for the whole test run. */
export interface StoreUnderTest {
  name: StoreName;
  /** Base URL, e.g. `http://127.0.0.1:41234` (path-style addressing, region us-east-1). */
  endpoint: string;
  credentials: StoreCredentials;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Every store started by the global setup, in a fixed order (moto first). */
    stores: StoreUnderTest[];
  }
}
