/**
 * Runs one object store in this process for the benchmarks:
 *   run-store embedded|s3rver <dataDir>
 * (started by support/stores.ts as transpiled JavaScript, see support/build.ts).
 * It listens on a random loopback port and speaks the child protocol of
 * support/child.ts; its ready info is a `StoreInfo`. Each store's code is
 * imported only when it is the one chosen, so neither counts in the other's
 * memory.
 */
import { serveChild } from './support/child.js';

export type StoreKind = 'embedded' | 's3rver';

export interface StoreInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** s3rver accepts this one fixed key pair. */
const S3RVER_KEY = 'S3RVER';

async function main(): Promise<void> {
  const [kind, dataDir] = process.argv.slice(2);
  if ((kind !== 'embedded' && kind !== 's3rver') || dataDir === undefined) {
    throw new Error('usage: run-store.ts embedded|s3rver <dataDir>');
  }
  if (kind === 's3rver') {
    const { default: S3rver } = await import('s3rver');
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dataDir });
    const { port } = await server.run();
    const info: StoreInfo = {
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: S3RVER_KEY,
      secretAccessKey: S3RVER_KEY,
    };
    serveChild(info, () => server.close());
    return;
  }
  const { startEmbeddedStore } = await import('../src/embedded/index.js');
  const store = await startEmbeddedStore({ dataDir, port: 0 });
  const info: StoreInfo = {
    endpoint: store.endpoint,
    accessKeyId: store.credentials.accessKeyId,
    secretAccessKey: store.credentials.secretAccessKey,
  };
  serveChild(info, () => store.close());
}

main().catch((error: unknown) => {
  process.stderr.write(`run-store: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
