/**
 * The data dir's lock never keeps a restart out after a crash and still
 * refuses a second live store: a server killed with `kill -9` is restarted
 * on the same DATA_DIR at once, also while the killed process is still a
 * zombie (its parent has not reaped it); a lock naming a live unrelated
 * process (a reused pid: same pid, another start time) is taken over; a
 * store that runs keeps its dir, also against a store in another PID
 * namespace or on another host (judged by the lock's heartbeat), and two
 * stores starting at once never both win; the lock file is never partial.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat as fileStat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore } from '../../src/embedded/index.js';
import { HEARTBEAT_MS, STALE_MS } from '../../src/embedded/storage/lock.js';
import { eventually } from '../support/app.js';

const ROOT = new URL('../../', import.meta.url);
const SERVER = ['--import', 'tsx', 'src/main.ts'];
const HAS_PROC = existsSync('/proc/self/stat');
/** Whether a real second PID namespace can be made here (`unshare` as root). */
const CAN_UNSHARE = HAS_PROC && spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0;

const children: ChildProcess[] = [];
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 's3-graphql-lock-'));
});

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const env = () => ({ PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: '0', EMBEDDED_S3_PORT: '0' });

function track(child: ChildProcess) {
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return () => output;
}

const BANNER = /s3-graphql is serving GraphQL at/;

/** Starts the server on DATA_DIR and waits for its banner. */
async function startServerProcess(prefix: string[] = []): Promise<{ child: ChildProcess; output: () => string }> {
  const [command, ...args] = [...prefix, process.execPath, ...SERVER] as [string, ...string[]];
  const child = spawn(command, args, { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  const output = track(child);
  if (!(await eventually(() => BANNER.test(output()) || child.exitCode !== null, 30_000)) || !BANNER.test(output())) {
    throw new Error(`the server did not start: ${output()}`);
  }
  return { child, output };
}

/** Runs the server in a PID namespace of its own, as pid 1 (as in a container); killing `unshare` kills it. */
const NEW_NAMESPACE = ['unshare', '-fp', '--mount-proc', '--kill-child'];

/** This process's lock record with another PID namespace (and, with `boot`, another boot: another host). */
function foreignRecord(boot?: string): string {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const ownBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  expect(readlinkSync('/proc/self/ns/pid')).not.toBe('pid:[1]');
  return `${process.pid} ${started} ${boot ?? ownBoot} pid:[1]\n`;
}

/** A process that refreshes the lock file's mtime as a live holder does, every HEARTBEAT_MS / 4. */
async function heartbeat(path: string): Promise<ChildProcess> {
  const script = `const fs = require('node:fs'); setInterval(() => { const t = new Date(); fs.utimesSync(${JSON.stringify(path)}, t, t); }, ${HEARTBEAT_MS / 4});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

/** Time a promise takes to settle, in ms, and how it settled. */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

/** The state field of /proc/<pid>/stat (R, S, Z, ...), undefined when there is no such process. */
async function stateOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** A live process that is no store: `sleep`, the test's own child. */
async function unrelatedProcess(): Promise<number> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child.pid!;
}

describe('the data dir lock', () => {
  it('lets a server restart at once after kill -9, and refuses a second one while it runs', async () => {
    const first = await startServerProcess();
    expect((await readFile(join(dataDir, '.lock'), 'utf8')).trim()).toMatch(
      HAS_PROC
        ? new RegExp(`^${first.child.pid} \\d+ [0-9a-f-]{36} pid:\\[\\d+\\]$`)
        : new RegExp(`^${first.child.pid} - - -$`),
    );
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');

    const second = await startServerProcess();
    const third = spawn(process.execPath, SERVER, { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const output = track(third);
    const [code] = (await once(third, 'exit')) as [number];
    expect(code).toBe(1);
    expect(output()).toContain(`is in use by another embedded store (pid ${second.child.pid})`);
    expect(BANNER.test(output())).toBe(false);
    second.child.kill('SIGTERM');
    expect(await once(second.child, 'exit')).toEqual([0, null]);
  });

  it.skipIf(!HAS_PROC)('lets a server restart while the one killed with kill -9 is still a zombie', async () => {
    // The server's parent is `sleep`, which never reaps it: killed, it stays a zombie as long as sleep runs.
    const script = `"${process.execPath}" ${SERVER.join(' ')} & echo "pid $!"; exec sleep 60`;
    const shell = spawn('sh', ['-c', script], {
      cwd: ROOT,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = track(shell);
    expect(await eventually(() => BANNER.test(output()), 30_000)).toBe(true);
    const pid = Number(/^pid (\d+)$/m.exec(output())![1]);
    process.kill(pid, 'SIGKILL');
    expect(await eventually(async () => (await stateOf(pid)) === 'Z')).toBe(true);

    const restarted = await startServerProcess();
    expect(await stateOf(pid)).toBe('Z');
    restarted.child.kill('SIGTERM');
    expect(await once(restarted.child, 'exit')).toEqual([0, null]);
  });

  it.skipIf(!HAS_PROC)(
    'takes over a lock naming a live unrelated process (a reused pid), not one naming a live store',
    async () => {
      const pid = await unrelatedProcess();
      // The pid runs, but did not start when the lock says: an older process had it.
      await writeFile(join(dataDir, '.lock'), `${pid} 1\n`);
      const store = await startEmbeddedStore({ dataDir, port: 0 });
      const record = (await readFile(join(dataDir, '.lock'), 'utf8')).trim().split(' ');
      expect(record[0]).toBe(String(process.pid));
      expect(record[1]).toMatch(/^\d+$/);
      await store.close();

      // The same pid with its real start time: a running process holds the lock.
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      await writeFile(join(dataDir, '.lock'), `${pid} ${started}\n`);
      await expect(startEmbeddedStore({ dataDir, port: 0 })).rejects.toMatchObject({
        code: 'ELOCKED',
        message: expect.stringContaining(`in use by another embedded store (pid ${pid})`),
      });
    },
  );
});

describe.skipIf(!HAS_PROC)('the data dir lock across PID namespaces and hosts', () => {
  it('refuses a live store in another PID namespace, even under our own pid, after watching its heartbeat', async () => {
    const lock = join(dataDir, '.lock');
    const record = foreignRecord();
    await writeFile(lock, record);
    await heartbeat(lock);
    const { ms, error } = await timed(startEmbeddedStore({ dataDir, port: 0 }));
    expect(error).toMatchObject({
      code: 'ELOCKED',
      message: expect.stringContaining(
        `in use by another embedded store (pid ${process.pid} in another container or on another host`,
      ),
    });
    expect(ms).toBeGreaterThanOrEqual(STALE_MS - 100);
    expect(await readFile(lock, 'utf8')).toBe(record);
  });

  it('takes over a foreign lock once its heartbeat stops: at once when long stopped, else within STALE_MS', async () => {
    const lock = join(dataDir, '.lock');
    // Another container on this host, crashed a minute ago (one clock: its age tells).
    await writeFile(lock, foreignRecord());
    const aMinuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, aMinuteAgo, aMinuteAgo);
    const atOnce = await timed(startEmbeddedStore({ dataDir, port: 0 }));
    expect(atOnce.error).toBeUndefined();
    expect(atOnce.ms).toBeLessThan(STALE_MS - 1_500);
    expect((await readFile(lock, 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await atOnce.value!.close();
    expect(existsSync(lock)).toBe(false);

    // Another host (its clock may differ): stale once its mtime stops moving for STALE_MS.
    await writeFile(lock, foreignRecord('00000000-0000-4000-8000-000000000000'));
    const written = (await fileStat(lock)).mtimeMs;
    const beating = await heartbeat(lock);
    expect(await eventually(async () => (await fileStat(lock)).mtimeMs !== written, 10_000)).toBe(true);
    // The holder dies while the starter watches: it waits on until the lock has stood still for STALE_MS.
    setTimeout(() => beating.kill('SIGKILL'), HEARTBEAT_MS).unref();
    const later = await timed(startEmbeddedStore({ dataDir, port: 0 }));
    expect(later.error).toBeUndefined();
    expect(later.ms).toBeGreaterThanOrEqual(HEARTBEAT_MS + STALE_MS - 1_000);
    expect(later.ms).toBeLessThan(HEARTBEAT_MS + STALE_MS + 4_000);
    await later.value!.close();
  });

  it('does not take over an empty lock file at once (a starter of an earlier version may be writing it)', async () => {
    await writeFile(join(dataDir, '.lock'), '');
    const { ms, error, value } = await timed(startEmbeddedStore({ dataDir, port: 0 }));
    expect(error).toBeUndefined();
    expect(ms).toBeGreaterThanOrEqual(STALE_MS - 100);
    await value!.close();
  });

  it('releases only its own lock', async () => {
    const store = await startEmbeddedStore({ dataDir, port: 0 });
    const lock = join(dataDir, '.lock');
    const other = foreignRecord();
    await writeFile(`${lock}.other`, other);
    await rename(`${lock}.other`, lock);
    await store.close();
    expect(await readFile(lock, 'utf8')).toBe(other);
  });

  it('stops a server whose lock was taken over or removed, keeping the new holder’s lock', async () => {
    const server = await startServerProcess();
    const lock = join(dataDir, '.lock');
    const other = foreignRecord();
    await writeFile(`${lock}.other`, other);
    await rename(`${lock}.other`, lock);
    const [code] = (await once(server.child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(server.output()).toContain('was removed or taken over by another store');
    expect(await readFile(lock, 'utf8')).toBe(other);
  });

  it('lets exactly one of three stores starting at once win, with or without a stale lock', async () => {
    const entry = new URL('src/embedded/index.ts', ROOT).href;
    for (let round = 0; round < 4; round++) {
      await rm(join(dataDir, '.lock'), { force: true });
      // Even rounds: a lock left by a process that is gone, which every starter judges stale at once.
      if (round % 2 === 0) await writeFile(join(dataDir, '.lock'), '999999999 1\n');
      // Each starter loads the store, says so, then spins until the go file appears: all take the lock at once.
      const go = `${dataDir}.go`;
      await rm(go, { force: true });
      const script = `
        const { existsSync } = await import('node:fs');
        const { startEmbeddedStore } = await import(${JSON.stringify(entry)});
        console.log('ready');
        while (!existsSync(${JSON.stringify(go)}));
        try {
          const store = await startEmbeddedStore({ dataDir: ${JSON.stringify(dataDir)}, port: 0 });
          console.log('won');
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          await store.close();
        } catch (err) {
          console.log('refused', err.code);
        }`;
      const starters = [0, 1, 2].map(() => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        return { child, output: track(child) };
      });
      expect(await eventually(() => starters.every(({ output }) => output().includes('ready')), 30_000)).toBe(true);
      await writeFile(go, '');
      await Promise.all(starters.map(({ child }) => once(child, 'exit')));
      await rm(go);
      const outcomes = starters.map(({ output }) => output().replace('ready', '').trim()).sort();
      expect(outcomes, `round ${round}`).toEqual(['refused ELOCKED', 'refused ELOCKED', 'won']);
    }
  }, 240_000);

  it.skipIf(!CAN_UNSHARE)(
    'refuses a second server in another PID namespace while the first runs (both pid 1), takes over after kill -9',
    async () => {
      const first = await startServerProcess(NEW_NAMESPACE);
      expect((await readFile(join(dataDir, '.lock'), 'utf8')).split(' ')[0]).toBe('1');

      const second = spawn(NEW_NAMESPACE[0]!, [...NEW_NAMESPACE.slice(1), process.execPath, ...SERVER], {
        cwd: ROOT,
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = track(second);
      expect(await eventually(() => second.exitCode !== null || BANNER.test(output()), 60_000)).toBe(true);
      expect(second.exitCode).toBe(1);
      expect(output()).toContain('is in use by another embedded store (pid 1 in another container or on another host');
      expect(BANNER.test(output())).toBe(false);

      first.child.kill('SIGKILL');
      await once(first.child, 'exit');
      const { ms, error, value } = await timed(startServerProcess(NEW_NAMESPACE));
      expect(error).toBeUndefined();
      expect(ms).toBeLessThan(STALE_MS + 40_000);
      // `unshare` ignores SIGTERM while it waits for its child.
      value!.child.kill('SIGKILL');
      await once(value!.child, 'exit');
    },
    // Three server starts and two waits on the heartbeat, on a busy machine.
    180_000,
  );
});
