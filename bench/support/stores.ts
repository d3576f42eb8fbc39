import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { StoreInfo, StoreKind } from '../run-store.js';
import { startChild, type ChildServer } from './child.js';
import { onInterrupt } from './cleanup.js';

/** How the SDK client computes request checksums: the S3 client's default, or only when an operation requires one. */
export type ChecksumMode = 'sdk-default' | 'when-required';

export interface RunningStore {
  kind: StoreKind;
  info: StoreInfo;
  child: ChildServer<StoreInfo>;
  /** A new SDK client for this store (path-style addressing); destroy it when done. */
  client(checksum: ChecksumMode): S3Client;
  /** Stops the store's process and removes its data directory. */
  close(): Promise<void>;
}

/** Starts a store in its own process with a fresh data directory under the OS temp directory. */
export async function startStore(kind: StoreKind): Promise<RunningStore> {
  const dataDir = await mkdtemp(join(tmpdir(), `s3-graphql-bench-${kind}-`));
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true });
  const registered = onInterrupt(removeDataDir);
  let child: ChildServer<StoreInfo>;
  try {
    child = await startChild<StoreInfo>('run-store.ts', [kind, dataDir]);
  } catch (error) {
    await removeDataDir();
    registered();
    throw error;
  }
  const { info } = child;
  return {
    kind,
    info,
    child,
    client(checksum) {
      return new S3Client({
        endpoint: info.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
        ...(checksum === 'when-required'
          ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
      });
    },
    async close() {
      try {
        await child.close();
      } finally {
        await removeDataDir();
        registered();
      }
    },
  };
}

/** Starts several stores; if one fails to start, the others are closed again. */
export async function startStores(kinds: readonly StoreKind[]): Promise<RunningStore[]> {
  const results = await Promise.allSettled(kinds.map((kind) => startStore(kind)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => s.close()));
    throw failed.reason;
  }
  return started;
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}
