/**
 * Locking: Mutex serialises the writes of one bucket (and bucket creation
 * and deletion) inside the process; the data dir's lock file keeps a second
 * process, or a second store in this one, off the same data dir (the listing
 * index lives in memory, so one store owns a dir), and never keeps a restart
 * out after a crash (see `isRunning`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StartupError } from '../errors.js';
import { isErrno } from './files.js';

/** Data dirs locked by this process. */
const held = new Set<string>();

/** Runs tasks one after another. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Where the kernel describes processes; without it (macOS, Windows) only the pid can be checked. */
const PROC = '/proc';

/** What a lock file records of the process holding it. */
interface Holder {
  pid: number;
  /** Its start time (clock ticks since boot, field 22 of /proc/<pid>/stat); undefined without /proc. */
  started: string | undefined;
}

/**
 * State and start time of a process from /proc/<pid>/stat, or undefined when
 * there is no such process. The command name (field 2) is in parentheses and
 * may hold spaces and parentheses itself: the fields after its last `)` are
 * state (3) ... starttime (22).
 */
function procStat(pid: number): { state: string; started: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(join(PROC, String(pid), 'stat'), 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const started = fields[22 - 3];
  return state === undefined || started === undefined ? undefined : { state, started };
}

const hasProc = (): boolean => existsSync(join(PROC, 'self', 'stat'));

/** This process, as its lock file records it. */
function me(): Holder {
  return { pid: process.pid, started: hasProc() ? procStat(process.pid)?.started : undefined };
}

function parseHolder(text: string): Holder | undefined {
  const [pid, started] = text.trim().split(/\s+/);
  const n = Number.parseInt(pid ?? '', 10);
  return n > 0 ? { pid: n, started: started || undefined } : undefined;
}

/**
 * Whether the process a lock names still runs. With /proc: its pid exists,
 * is not a zombie (killed, not yet reaped by its parent: `kill(pid, 0)`
 * still succeeds on it) and started when the lock says (otherwise the pid
 * was reused, e.g. in a fresh container, by an unrelated process). Without
 * /proc, only whether the pid exists (`kill(pid, 0)`), which a zombie or a
 * reused pid fools; remove the lock file by hand then.
 */
function isRunning(holder: Holder): boolean {
  if (hasProc()) {
    const stat = procStat(holder.pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
    return holder.started === undefined || holder.started === stat.started;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/**
 * Takes `<dir>/.lock`, holding our pid and start time. A lock left by a
 * process that is gone (or a zombie, or whose pid now belongs to another
 * process: see `isRunning`) is taken over; one held by a running process, or
 * by this process for a store still open, is a StartupError (ELOCKED).
 * `shown` is the data dir as the operator wrote it, for messages.
 */
export async function acquireLock(dir: string, lockPath: string, shown: string): Promise<void> {
  const self = me();
  const record = self.started === undefined ? `${self.pid}\n` : `${self.pid} ${self.started}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lockPath, record, { flag: 'wx', mode: 0o644 });
      held.add(dir);
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const holder = parseHolder(await readFile(lockPath, 'utf8').catch(() => ''));
    const ours = holder?.pid === process.pid && held.has(dir);
    if (ours || (holder !== undefined && holder.pid !== process.pid && isRunning(holder))) {
      throw new StartupError(
        `DATA_DIR ${shown} is in use by another embedded store (pid ${holder.pid}); stop it, or remove ${join(shown, '.lock')} if none runs`,
        'ELOCKED',
      );
    }
    await rm(lockPath, { force: true });
  }
  throw new StartupError(`DATA_DIR ${shown}: could not take the lock ${join(shown, '.lock')}`, 'ELOCKED');
}

/** Releases a lock taken by acquireLock. */
export async function releaseLock(dir: string, lockPath: string): Promise<void> {
  held.delete(dir);
  await rm(lockPath, { force: true });
}
