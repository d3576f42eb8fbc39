/**
 * What `npm start` costs in memory: the resident memory of its whole process
 * tree (npm and everything under it, summed from /proc), idle and at its peak
 * while one file of 64 MiB, 256 MiB or 1 GiB uploads through `uploadObject`,
 * with the embedded store (no S3_ENDPOINT), as someone trying the project
 * runs it.
 *
 * ours: `npm start` (npm, then `node dist/main.js`, the store on a worker
 * thread); baseline: the same sources started as `npm start` did before,
 * `tsx src/main.ts` under npm (npm, sh, the tsx launcher, the server). A
 * fresh tree per upload, so each peak belongs to one upload.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from './support/cleanup.js';
import { expectCount } from './support/body.js';
import { MiB, median, Pairs, rotation, type BenchGroup, type Row } from './support/harness.js';
import { graphqlData, multipartRequest, readJson, send } from './support/http.js';
import { peakTreeRss, processTree, treeRss } from './support/tree.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SIZES = [64 * MiB, 256 * MiB, 1024 * MiB] as const;
/** A start-up allocates far more than the server keeps: idle is read once the garbage collector has had time to give it back. */
const SETTLE_MS = 15_000;
/** Each round starts six trees and uploads 2.6 GiB: two rounds are plenty for measures this steady. */
const MAX_ROUNDS = 2;

const UPLOAD = `mutation Upload($bucket: String!, $key: String!, $file: Upload!) {
  uploadObject(bucket: $bucket, key: $key, file: $file) { size }
}`;

interface Side {
  name: string;
  command: string[];
}

const SIDES: Side[] = [
  { name: 'npm start', command: ['npm', 'start', '--silent'] },
  { name: 'tsx under npm', command: ['npm', 'exec', '--', 'tsx', 'src/main.ts'] },
];

interface Tree {
  pid: number;
  base: string;
  close(): Promise<void>;
}

async function startTree(side: Side): Promise<Tree> {
  const dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-bench-footprint-'));
  const unregister = onInterrupt(() => rm(dataDir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PORT: '0',
    EMBEDDED_S3_PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  for (const name of ['TMPDIR', 'TMP', 'TEMP']) if (process.env[name] !== undefined) env[name] = process.env[name];
  const child = spawn(side.command[0]!, side.command.slice(1), {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const found = /serving GraphQL at (http:\/\/\S+)\/graphql/.exec(output);
      if (found) resolve(found[1]!);
    });
    void exited.then(() => reject(new Error(`${side.name} exited before serving: ${output}`)));
  });
  return {
    pid: child.pid!,
    base,
    async close() {
      // As a supervisor stops it: SIGTERM to the top of the tree (npm passes it on). Under the old
      // start-up (npm, sh, tsx) the server outlives npm, so whatever of the tree is left is ended too.
      const cmdline = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return undefined;
        }
      };
      const started = new Map(processTree(child.pid!).map((pid) => [pid, cmdline(pid)]));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        for (const [pid, line] of started) {
          // Only a process still running what it ran then: a pid may be reused meanwhile.
          if (pid === child.pid || line === undefined || cmdline(pid) !== line) continue;
          try {
            process.kill(pid, signal);
          } catch {
            // Already gone.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      await rm(dataDir, { recursive: true, force: true });
      unregister();
    },
  };
}

async function graphql(base: string, query: string): Promise<void> {
  const body = Buffer.from(JSON.stringify({ query }));
  const response = await send(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    body,
  });
  graphqlData(response, await readJson(response));
}

async function upload(base: string, size: number): Promise<void> {
  const { body, headers } = multipartRequest({ query: UPLOAD, variables: { bucket: 'bench', key: 'file' } }, size);
  const response = await send(`${base}/graphql`, {
    method: 'POST',
    headers: { ...headers, 'x-graphql-csrf': '1' },
    body,
  });
  const data = graphqlData<{ uploadObject: { size: number } }>(response, await readJson(response));
  expectCount('uploadObject size', data.uploadObject.size, size);
}

const toMiB = (bytes: number) => bytes / MiB;

export const group: BenchGroup = {
  name: 'footprint',
  description: '`npm start` process tree memory: idle, and peak during 64 MiB / 256 MiB / 1 GiB uploads',
  async run({ rounds, log }) {
    log('compiling the server (scripts/build-server.mjs), as npm ci does');
    const build = spawnSync(process.execPath, ['scripts/build-server.mjs'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
    const [ours, before] = SIDES as [Side, Side];
    const idle = new Pairs();
    const processes = new Map<Side, number>();
    const peaks = new Map<number, Pairs>(SIZES.map((size) => [size, new Pairs()]));
    const measured = Math.min(rounds, MAX_ROUNDS);
    for (let round = 0; round < measured; round++) {
      const idleOf = new Map<Side, number>();
      const peakOf = new Map<string, number>();
      for (const side of rotation(SIDES, round)) {
        for (const [i, size] of SIZES.entries()) {
          const tree = await startTree(side);
          try {
            await graphql(tree.base, 'mutation { createBucket(name: "bench") { name } }');
            if (i === 0) {
              await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
              const { bytes, processes: count } = treeRss(tree.pid);
              idleOf.set(side, toMiB(bytes));
              processes.set(side, count);
            }
            const { peak } = await peakTreeRss(tree.pid, upload(tree.base, size));
            peakOf.set(`${side.name} ${size}`, toMiB(peak));
          } finally {
            await tree.close();
          }
        }
      }
      idle.add(idleOf.get(ours)!, idleOf.get(before)!);
      for (const size of SIZES) {
        peaks.get(size)!.add(peakOf.get(`${ours.name} ${size}`)!, peakOf.get(`${before.name} ${size}`)!);
      }
      log(
        `round ${round + 1}/${measured}: idle ${idleOf.get(ours)!.toFixed(0)} vs ${idleOf.get(before)!.toFixed(0)} MiB; peaks ` +
          SIZES.map(
            (size) =>
              `${size / MiB} MiB ${peakOf.get(`${ours.name} ${size}`)!.toFixed(0)} vs ${peakOf.get(`${before.name} ${size}`)!.toFixed(0)}`,
          ).join(', '),
      );
    }
    const [small, , large] = SIZES;
    const growth = (pairs: Pairs['ours'], smaller: Pairs['ours']) =>
      median(pairs.map((peak, i) => peak - smaller[i]!)).toFixed(1);
    const rows: Row[] = [
      idle.row(
        '`npm start` tree RSS, idle: npm start vs tsx under npm',
        'MiB',
        `target ≤ 150 MiB; ${processes.get(ours)} vs ${processes.get(before)} processes; ${SETTLE_MS / 1000} s after start, embedded store; ${measured} rounds`,
      ),
    ];
    for (const size of SIZES) {
      const label = size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`;
      rows.push(
        peaks
          .get(size)!
          .row(
            `\`npm start\` tree peak RSS, ${label} uploadObject: npm start vs tsx under npm`,
            'MiB',
            size === 256 * MiB
              ? 'target ≤ 230 MiB; sampled every 50 ms, a fresh tree per upload'
              : 'sampled every 50 ms, a fresh tree per upload',
          ),
      );
    }
    const p = (size: number) => peaks.get(size)!;
    rows.push({
      measure: '`npm start` tree peak RSS growth, 1 GiB − 64 MiB upload',
      unit: 'MiB',
      ours: Number(growth(p(large).ours, p(small).ours)),
      baseline: Number(growth(p(large).baseline, p(small).baseline)),
      ratio: undefined,
      notes: 'target ≤ 16 MiB (memory does not grow with the file)',
    });
    return rows;
  },
};
