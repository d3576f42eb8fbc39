/**
 * `npm start` as an operator runs it: the compiled server (`npm ci` builds
 * it; this file builds it again from the current sources first) in one Node
 * process under npm, with the embedded store on its own worker thread.
 * Uploads and downloads go through the API, the store's own port and the
 * API's `/s3` mount byte for byte; SIGTERM to npm ends the server too; and
 * when the store's thread dies the process exits (no server left hanging
 * without its store), after which a restart on the same data dir serves the
 * objects stored before.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerOf } from '../support/app.js';
import { MiB, randomBytes, sha256Of, digestOf } from '../support/data.js';

const ROOT = new URL('../../', import.meta.url);

interface Started {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` of the API. */
  base: string;
  /** The embedded store's own endpoint, from the banner. */
  storeEndpoint: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `command args` with a temp DATA_DIR on free ports and waits for the banner. */
async function start(command: string, args: string[], dataDir: string): Promise<Started> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      DATA_DIR: dataDir,
      PORT: '0',
      EMBEDDED_S3_PORT: '0',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const banner = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving within 60 s:\n${output}`)), 60_000);
    const look = () => {
      const found = /serving GraphQL at (http:\/\/\S+)\/graphql[\s\S]*embedded S3 store: (http:\/\/\S+)/.exec(output);
      if (!found) return;
      clearTimeout(timer);
      resolve(found);
    };
    child.stdout!.on('data', look);
    void exited.then((code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
  return { child, base: banner[1]!, storeEndpoint: banner[2]!, output: () => output, exited };
}

/** The pids of a process's children (all its threads' children). */
function childrenOf(pid: number): number[] {
  const tasks = spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  return tasks.flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
}

const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const environmentOf = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );

function storeClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

async function credentialsIn(dataDir: string) {
  return JSON.parse(await readFile(join(dataDir, '.credentials.json'), 'utf8')) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
}

async function upload(base: string, bucket: string, key: string, bytes: Buffer): Promise<void> {
  const form = new FormData();
  const query =
    'mutation($b: String!, $k: String!, $f: Upload!) { uploadObject(bucket: $b, key: $k, file: $f) { size } }';
  form.set('operations', JSON.stringify({ query, variables: { b: bucket, k: key, f: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.f'] }));
  form.set('0', new Blob([new Uint8Array(bytes)]), 'file.bin');
  const res = await answerOf(
    await fetch(`${base}/graphql`, { method: 'POST', headers: { 'x-graphql-csrf': '1' }, body: form }),
  );
  expect(res.errors).toBeUndefined();
  expect(res.data).toEqual({ uploadObject: { size: bytes.length } });
}

async function createBucket(base: string, name: string): Promise<void> {
  const res = await answerOf(
    await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `mutation { createBucket(name: "${name}") { name } }` }),
    }),
  );
  expect(res.errors).toBeUndefined();
}

async function downloaded(base: string, bucket: string, key: string) {
  const res = await fetch(`${base}/objects/${bucket}/${key}`);
  expect(res.status).toBe(200);
  return digestOf(Buffer.from(await res.arrayBuffer()));
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's3-graphql-lean-'));
  // What `npm ci` does after installing: the server compiled into dist/, from the sources under test.
  const build = spawnSync(process.execPath, ['scripts/build-server.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);
}, 240_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('runs one node process under npm, with the store on a worker thread, byte-exact through the API, the store and /s3', async () => {
    const dataDir = join(dir, 'start');
    const npm = await start('npm', ['start', '--silent'], dataDir);
    try {
      const [server, ...others] = childrenOf(npm.child.pid!);
      expect(others).toEqual([]);
      expect(commandLine(server!)).toEqual([
        expect.stringMatching(/(^|\/)node$/),
        '--max-semi-space-size=2',
        '--expose-gc',
        '--v8-pool-size=1',
        'dist/main.js',
      ]);
      // glibc's malloc settings, for the server alone: npm itself runs without them.
      expect(environmentOf(server!)).toMatchObject({ MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' });
      expect(environmentOf(npm.child.pid!).MALLOC_ARENA_MAX).toBeUndefined();
      expect(childrenOf(server!)).toEqual([]);

      const bytes = await randomBytes(3 * MiB + 17, 'lean-start');
      await createBucket(npm.base, 'lean');
      await upload(npm.base, 'lean', 'file.bin', bytes);
      expect(await downloaded(npm.base, 'lean', 'file.bin')).toEqual(digestOf(bytes));

      const credentials = await credentialsIn(dataDir);
      for (const endpoint of [npm.storeEndpoint, `${npm.base}/s3`]) {
        const client = storeClient(endpoint, credentials);
        try {
          const object = await client.send(new GetObjectCommand({ Bucket: 'lean', Key: 'file.bin' }));
          expect(await sha256Of(object.Body as AsyncIterable<Uint8Array>)).toEqual(digestOf(bytes));
        } finally {
          client.destroy();
        }
      }

      // A supervisor signals npm only: the server ends with it.
      npm.child.kill('SIGTERM');
      await npm.exited;
      await expect.poll(() => spawnSync('kill', ['-0', String(server)]).status, { timeout: 15_000 }).not.toBe(0);
    } finally {
      npm.child.kill('SIGKILL');
    }
  }, 120_000);

  it('exits when the store thread dies instead of serving without it; a restart serves what was stored', async () => {
    const dataDir = join(dir, 'crash');
    const bytes = await randomBytes(MiB + 3, 'lean-crash');
    // The preload ends the store's worker thread on SIGUSR2, as an uncaught error in it would.
    const first = await start(
      process.execPath,
      ['--import', 'tsx', '--import', './test/support/end-store-thread-preload.ts', 'dist/main.js'],
      dataDir,
    );
    try {
      await createBucket(first.base, 'kept');
      await upload(first.base, 'kept', 'before.bin', bytes);
      first.child.kill('SIGUSR2');
      const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]);
      expect(code).toBe(1);
      expect(first.output()).toContain('the embedded store stopped');
    } finally {
      first.child.kill('SIGKILL');
    }

    const again = await start(process.execPath, ['dist/main.js'], dataDir);
    try {
      expect(await downloaded(again.base, 'kept', 'before.bin')).toEqual(digestOf(bytes));
      const client = storeClient(again.storeEndpoint, await credentialsIn(dataDir));
      try {
        await client.send(new CreateBucketCommand({ Bucket: 'after-restart' }));
      } finally {
        client.destroy();
      }
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  }, 120_000);
});
