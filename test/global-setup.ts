/**
 * vitest globalSetup: starts every S3-compatible store the suite runs against,
 * once per `vitest run`, and shares where they are with the test files.
 *
 * - moto's S3 server (`python3 -m moto.server`) on a free loopback port. Where
 *   python3 or moto is missing, it is left out and a line says so.
 * - our embedded store (`src/embedded`), in this process, on a random loopback
 *   port with a fresh data dir (removed at teardown) and the key pair it
 *   generates on first start. It must start: a failure fails the run.
 *
 * Test files get the list with `testStores()` from `test/support/stores.ts`.
 * `TEST_STORES=moto` (comma-separated names) narrows the list, e.g. while
 * working on one store; naming a store that cannot start is an error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedStore } from '../src/embedded/index.js';
import type { StoreName, StoreUnderTest } from './support/provided.js';
import { pythonHas, startMoto } from './support/servers.js';

const ALL_STORES: readonly StoreName[] = ['moto', 'embedded'];

/** moto accepts any credentials; these are only there to sign with. */
const MOTO_CREDENTIALS = { accessKeyId: 'moto-test', secretAccessKey: 'moto-test-secret' };

interface Started {
  store: StoreUnderTest;
  stop(): Promise<void>;
}

function wantedStores(): Set<StoreName> {
  const raw = process.env.TEST_STORES?.trim();
  if (!raw) return new Set(ALL_STORES);
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(ALL_STORES as readonly string[]).includes(n));
  if (unknown.length)
    throw new Error(`TEST_STORES names unknown stores: ${unknown.join(', ')} (known: ${ALL_STORES.join(', ')})`);
  return new Set(names as StoreName[]);
}

async function startMotoStore(explicit: boolean): Promise<Started | undefined> {
  if (!(await pythonHas('moto.server'))) {
    if (explicit) throw new Error('TEST_STORES asks for moto, but python3 cannot import moto.server');
    console.warn('moto not available: skipping the moto runs of the conformance suite');
    return undefined;
  }
  const moto = await startMoto();
  return { store: { name: 'moto', endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS }, stop: moto.stop };
}

async function startEmbedded(): Promise<Started> {
  const dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-embedded-'));
  const removeDir = () => rm(dataDir, { recursive: true, force: true });
  try {
    const embedded = await startEmbeddedStore({ dataDir, port: 0 });
    return {
      store: { name: 'embedded', endpoint: embedded.endpoint, credentials: embedded.credentials },
      stop: async () => {
        await embedded.close();
        await removeDir();
      },
    };
  } catch (err) {
    await removeDir();
    throw err;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const wanted = wantedStores();
  const explicit = Boolean(process.env.TEST_STORES?.trim());
  // Both start at once; the list keeps a fixed order (moto first).
  const results = await Promise.allSettled([
    wanted.has('moto') ? startMotoStore(explicit) : Promise.resolve(undefined),
    wanted.has('embedded') ? startEmbedded() : Promise.resolve(undefined),
  ]);
  const started = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  const teardown = async () => {
    const stopped = await Promise.allSettled(started.map((s) => s.stop()));
    const errors = stopped.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    if (errors.length) throw new AggregateError(errors, 'stopping the test stores failed');
  };

  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failures.length) {
    await teardown();
    throw failures.length === 1 ? failures[0] : new AggregateError(failures, 'starting the test stores failed');
  }
  if (started.length === 0) throw new Error('no S3-compatible store could be started for the tests');

  const stores = started.map((s) => s.store);
  console.log(`test stores: ${stores.map((s) => `${s.name} at ${s.endpoint}`).join(', ')}`);
  project.provide('stores', stores);
  return teardown;
}
