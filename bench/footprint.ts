/**
 * What `npm start` costs in memory: the memory of its whole process tree
 * (npm and everything under it, from /proc), idle and at its peak while one
 * file of 64 MiB, 256 MiB or 1 GiB uploads through `uploadObject`, with the
 * embedded store (no S3_ENDPOINT), as someone trying the project runs it.
 * Three figures (see support/tree.ts): summed RSS, as `ps` shows it (the
 * Node binary npm and the server both map counts twice); summed PSS; and
 * every page once (root only), what the tree takes on a machine of its own.
 *
 * ours: `npm start` (npm, then `node dist/main.js`, the store on a worker
 * thread); baseline: the same sources started as `npm start` did before,
 * `tsx src/main.ts` under npm (npm, sh, the tsx launcher, the server). A
 * fresh tree per upload, so each peak belongs to one upload; every upload
 * starts once its tree has settled, so trees differ only in the file's size.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './support/build.js';
import { onInterrupt } from './support/cleanup.js';
import { expectCount } from './support/body.js';
import { MiB, Pairs, rotation, type BenchGroup, type Row } from './support/harness.js';
import { graphqlData, multipartRequest, readJson, send } from './support/http.js';
import { peakTreeMemory, processTree, treeMemory, treeOnce } from './support/tree.js';

const SIZES = [64 * MiB, 256 * MiB, 1024 * MiB] as const;
/**
 * A start-up allocates far more than the server keeps: idle is read, and every upload starts, once the garbage
 * collector has had time to give it back. Were only the first tree to settle, the larger files' peaks would also
 * count the start-up's garbage, and the growth from 64 MiB to 1 GiB would measure that rather than the file.
 */
const SETTLE_MS = 15_000;
/**
 * Each round starts six trees (each settling 15 s) and uploads 2.6 GiB: three rounds, so that the growth, a
 * difference of two peaks each sampled every 50 ms, is a median rather than the mean of two.
 */
const MAX_ROUNDS = 3;

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
const sizeLabel = (size: number) => (size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`);

/** What one tree gives: idle figures (the first tree of a round only) and the peaks of its upload, MiB. */
type Figures = Map<string, number>;

/** Starts a tree, lets it settle, uploads one file of `size` (after the idle reading when `idle`), and closes it. */
async function measureTree(side: Side, size: number, idle: boolean): Promise<Figures> {
  const figures: Figures = new Map();
  const tree = await startTree(side);
  try {
    await graphql(tree.base, 'mutation { createBucket(name: "bench") { name } }');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = treeMemory(tree.pid);
    const once = treeOnce(tree.pid);
    if (idle) {
      figures.set('idle rss', toMiB(before.rss));
      figures.set('idle pss', toMiB(before.pss));
      if (once !== undefined) figures.set('idle once', toMiB(once));
      figures.set('processes', before.processes);
    }
    const peak = await peakTreeMemory(tree.pid, upload(tree.base, size));
    figures.set('peak rss', toMiB(peak.rss));
    figures.set('peak pss', toMiB(peak.pss));
    // The pages npm and the server share stay shared during the upload (what the upload adds is the
    // server's own): the peak, each page once, is at most the peak RSS less what was shared before it.
    if (once !== undefined) figures.set('peak once', toMiB(peak.rss - (before.rss - once)));
  } finally {
    await tree.close();
  }
  return figures;
}

export const group: BenchGroup = {
  name: 'footprint',
  description:
    '`npm start` process tree memory (RSS, PSS, each page once): idle, and peak during 64 MiB / 256 MiB / 1 GiB uploads',
  async run({ rounds, log }) {
    log('compiling the server (scripts/build-server.mjs), as npm ci does');
    const build = spawnSync(process.execPath, ['scripts/build-server.mjs'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
    const [ours, before] = SIDES as [Side, Side];
    const pairs = new Map<string, Pairs>();
    const pair = (name: string) => pairs.get(name) ?? pairs.set(name, new Pairs()).get(name)!;
    const processes = new Map<Side, number>();
    const measured = Math.min(rounds, MAX_ROUNDS);
    for (let round = 0; round < measured; round++) {
      const of = new Map<Side, Figures>([
        [ours, new Map()],
        [before, new Map()],
      ]);
      for (const side of rotation(SIDES, round)) {
        for (const [i, size] of SIZES.entries()) {
          for (const [name, value] of await measureTree(side, size, i === 0)) {
            if (name === 'processes') processes.set(side, value);
            else of.get(side)!.set(name.startsWith('peak') ? `${name} ${size}` : name, value);
          }
        }
      }
      const [small, , large] = SIZES;
      for (const figures of of.values()) {
        for (const kind of ['rss', 'pss', 'once']) {
          const [a, b] = [figures.get(`peak ${kind} ${large}`), figures.get(`peak ${kind} ${small}`)];
          if (a !== undefined && b !== undefined) figures.set(`growth ${kind}`, a - b);
        }
      }
      for (const name of of.get(ours)!.keys()) {
        const baseline = of.get(before)!.get(name);
        if (baseline !== undefined) pair(name).add(of.get(ours)!.get(name)!, baseline);
      }
      const f = (name: string) => of.get(ours)!.get(name)?.toFixed(0) ?? '–';
      log(
        `round ${round + 1}/${measured}, npm start: idle RSS ${f('idle rss')}, PSS ${f('idle pss')}, once ${f('idle once')} MiB; peaks (RSS/PSS/once) ` +
          SIZES.map(
            (size) => `${sizeLabel(size)} ${f(`peak rss ${size}`)}/${f(`peak pss ${size}`)}/${f(`peak once ${size}`)}`,
          ).join(', '),
      );
    }
    const rows: Row[] = [];
    const add = (name: string, measure: string, notes: string) => {
      const found = pairs.get(name);
      if (found) rows.push(found.row(`${measure}: npm start vs tsx under npm`, 'MiB', notes));
    };
    const kinds = [
      ['rss', 'RSS'],
      ['pss', 'PSS'],
      ['once', 'each page once'],
    ] as const;
    for (const [kind, label] of kinds) {
      add(
        `idle ${kind}`,
        `\`npm start\` tree ${label}, idle`,
        kind === 'rss'
          ? `target ≤ 150 MiB; ${processes.get(ours)} vs ${processes.get(before)} processes; ${SETTLE_MS / 1000} s after start, embedded store; ${measured} rounds`
          : '',
      );
    }
    for (const size of SIZES) {
      for (const [kind, label] of kinds) {
        add(
          `peak ${kind} ${size}`,
          `\`npm start\` tree peak ${label}, ${sizeLabel(size)} uploadObject`,
          [
            size === 256 * MiB && kind === 'rss'
              ? `target ≤ 230 MiB; sampled every 50 ms, a fresh tree per upload, ${SETTLE_MS / 1000} s after start`
              : '',
            kind === 'once' ? 'at most: peak RSS less the pages shared before the upload' : '',
          ]
            .filter(Boolean)
            .join('; '),
        );
      }
    }
    for (const [kind, label] of kinds) {
      add(
        `growth ${kind}`,
        `\`npm start\` tree peak ${label} growth, 1 GiB − 64 MiB upload`,
        kind === 'rss' ? 'target ≤ 16 MiB (memory does not grow with the file); median of the rounds' : '',
      );
    }
    return rows;
  },
};
