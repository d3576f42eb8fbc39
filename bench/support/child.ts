import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { builtProject } from './build.js';

/**
 * Servers under test run in their own child processes, so that each one's
 * peak memory can be measured apart from the client and from each other.
 *
 * The child protocol (see `serveChild`): once listening the child prints one
 * JSON line `{"ready": info}` on stdout; each line `stats` on its stdin is
 * answered with `{"peakRssBytes": n}`; the end of stdin makes it shut down
 * and exit.
 */

export interface ChildServer<Info> {
  pid: number;
  info: Info;
  /** The child's peak resident set size so far (getrusage maxrss, = VmHWM on Linux). */
  peakRssBytes(): Promise<number>;
  /** Shuts the child down and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Starts `bench/<script>.ts` as plain JavaScript under Node (see build.ts),
 * with `nodeFlags` before it, and waits for its ready line; with `ref`, in
 * the project built with that commit's `src/`.
 */
export async function startChild<Info>(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  ref?: string,
  nodeFlags: readonly string[] = [],
): Promise<ChildServer<Info>> {
  const entry = join(await builtProject(ref), 'bench', script.replace(/\.ts$/, '.js'));
  const child = spawn(process.execPath, [...nodeFlags, entry, ...args], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((message: Record<string, unknown>) => void)[] = [];
  let exited: Error | undefined;
  const exitWaiters: (() => void)[] = [];

  const failAll = (error: Error) => {
    exited = error;
    for (const waiter of waiting.splice(0)) waiter({ error: error.message });
    for (const waiter of exitWaiters.splice(0)) waiter();
  };
  child.on('exit', (code, signal) => failAll(new Error(`${script} exited (code ${code}, signal ${signal})`)));
  child.on('error', (error) => failAll(error));
  lines.on('line', (line) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      process.stderr.write(`[${script}] ${line}\n`);
      return;
    }
    waiting.shift()?.(message);
  });

  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (exited) reject(exited);
      else
        waiting.push((message) => {
          if ('error' in message) reject(new Error(String(message.error)));
          else resolve(message);
        });
    });

  let ready: Record<string, unknown>;
  try {
    ready = await next();
  } catch (error) {
    child.kill();
    throw error;
  }
  if (!('ready' in ready)) {
    child.kill();
    throw new Error(`${script}: unexpected first message ${JSON.stringify(ready)}`);
  }

  return {
    pid: child.pid!,
    info: ready.ready as Info,
    async peakRssBytes() {
      const reply = next();
      child.stdin!.write('stats\n');
      return Number((await reply).peakRssBytes);
    },
    close: () => closeChild(child, () => exited !== undefined, exitWaiters),
  };
}

function closeChild(child: ChildProcess, hasExited: () => boolean, exitWaiters: (() => void)[]): Promise<void> {
  if (hasExited()) return Promise.resolve();
  return new Promise<void>((resolve) => {
    exitWaiters.push(resolve);
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    exitWaiters.push(() => clearTimeout(timer));
  });
}

/**
 * The child side of the protocol: announce `info`, answer `stats`, and call
 * `close` when the parent ends stdin (or the parent goes away).
 */
export function serveChild(info: unknown, close: () => Promise<void>): void {
  const send = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
  send({ ready: info });
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === 'stats') send({ peakRssBytes: process.resourceUsage().maxRSS * 1024 });
  });
  input.on('close', () => {
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`close failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
