/**
 * The data dir's lock never keeps a restart out after a crash and still
 * refuses a second live store: a server killed with `kill -9` is restarted
 * on the same DATA_DIR at once, also while the killed process is still a
 * zombie (its parent has not reaped it); a lock naming a live unrelated
 * process (a reused pid: same pid, another start time) is taken over; a
 * store that runs keeps its dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore } from '../../src/embedded/index.js';
import { eventually } from '../support/app.js';

const ROOT = new URL('../../', import.meta.url);
const SERVER = ['--import', 'tsx', 'src/main.ts'];
const HAS_PROC = existsSync('/proc/self/stat');

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
async function startServerProcess(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, SERVER, { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  const output = track(child);
  if (!(await eventually(() => BANNER.test(output()) || child.exitCode !== null, 30_000)) || !BANNER.test(output())) {
    throw new Error(`the server did not start: ${output()}`);
  }
  return { child, output };
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
    expect((await readFile(join(dataDir, '.lock'), 'utf8')).trim()).toMatch(new RegExp(`^${first.child.pid}( \\d+)?$`));
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
