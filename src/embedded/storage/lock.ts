/**
 * Locking: Mutex serialises the writes of one bucket (and bucket creation
 * and deletion) inside the process; the data dir's lock file (DataDirLock)
 * keeps a second store, in this process, another process, another container
 * or on another host, off the same data dir (the listing index lives in
 * memory, so one store owns a dir), and never keeps a restart out after a
 * crash.
 *
 * The lock file `<dir>/.lock` names its holder: pid, start time, boot id and
 * PID namespace (holder.ts). A holder seen from the same boot and PID
 * namespace is judged at once by its pid and start time. Any other holder
 * (another container, another host) is judged by the lock's heartbeat: the
 * holder refreshes the file's mtime every HEARTBEAT_MS, and a lock not
 * refreshed for STALE_MS is stale. A starter that finds a fresh foreign lock
 * watches it for up to STALE_MS before refusing.
 *
 * The file only ever appears whole (written under a temporary name, then
 * hard-linked into place, which fails if a lock exists), a stale one is
 * moved aside (rename) and checked to be the very file judged stale before
 * it is dropped, and a holder releases the lock only while the file is still
 * its own. A holder that finds its lock gone or replaced (it stalled for
 * longer than STALE_MS and was taken over, or the file was removed) throws
 * from its heartbeat: the store stops rather than share the dir.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  futimesSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from '../errors.js';
import { isErrno } from './files.js';
import { formatHolder, type Holder, isRunning, me, parseHolder, sameView } from './holder.js';

/** Runs tasks one after another. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** How often the holder refreshes its lock file's mtime. */
export const HEARTBEAT_MS = 2_000;
/** A lock judged by its heartbeat is stale once not refreshed for this long. */
export const STALE_MS = 3 * HEARTBEAT_MS;
/** How often a starter looks at a lock it is watching. */
const POLL_MS = 200;
/** Takeovers tried before giving up (each one follows a lock judged stale). */
const ATTEMPTS = 5;

/** A lock file as read: its holder (undefined when empty or unreadable) and identity. */
interface Seen {
  holder: Holder | undefined;
  ino: number;
  dev: number;
  mtimeMs: number;
}

/**
 * Opens the file to read it: on NFS, an open revalidates the attributes
 * (close-to-open), where a bare stat may answer from a cache older than the
 * heartbeat. Undefined when there is no lock.
 */
function look(path: string): Seen | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const { ino, dev, mtimeMs } = fstatSync(fd);
    return { holder: parseHolder(readFileSync(fd, 'utf8')), ino, dev, mtimeMs };
  } finally {
    closeSync(fd);
  }
}

const sameFile = (a: { ino: number; dev: number }, b: { ino: number; dev: number }) =>
  a.ino === b.ino && a.dev === b.dev;

type Verdict = { stale: true; seen: Seen } | { stale: false; seen: Seen; foreign: boolean } | 'changed';

/**
 * Whether a lock held in another PID namespace or boot (or an unreadable
 * one) is stale, by its heartbeat: stale when its mtime has not moved for
 * STALE_MS while watched, or, on this boot (one clock), when it is older
 * than STALE_MS already; live when it is still moving after STALE_MS of
 * watching (a holder that stops meanwhile is watched on until stale, so a
 * restart racing a crash waits up to 2 × STALE_MS instead of failing).
 * 'changed' when another file took its place meanwhile (judge that one).
 */
async function watch(path: string, first: Seen, sameClock: boolean): Promise<Verdict> {
  const start = performance.now();
  let seen = first;
  let movedAt = start;
  for (;;) {
    const now = performance.now();
    if ((sameClock && Date.now() - seen.mtimeMs > STALE_MS) || now - movedAt > STALE_MS) return { stale: true, seen };
    if (now - start > STALE_MS && now - movedAt < HEARTBEAT_MS) return { stale: false, seen, foreign: true };
    await sleep(POLL_MS);
    const next = look(path);
    if (next === undefined || !sameFile(next, seen)) return 'changed';
    if (next.mtimeMs !== seen.mtimeMs) movedAt = performance.now();
    seen = next;
  }
}

async function judge(path: string, seen: Seen, self: Holder): Promise<Verdict> {
  const { holder } = seen;
  if (holder !== undefined && sameView(holder, self)) {
    return isRunning(holder) ? { stale: false, seen, foreign: false } : { stale: true, seen };
  }
  return watch(path, seen, holder?.boot !== undefined && holder.boot === self.boot);
}

/**
 * Removes the lock file judged stale, and only that one: it is moved aside,
 * then dropped if it is the same file with the same mtime; otherwise (a
 * starter took the stale lock over meanwhile, or its holder woke up and
 * refreshed it) it is put back.
 */
function remove(dir: string, path: string, judged: Seen): void {
  const aside = join(dir, `.lock.stale.${randomUUID()}`);
  try {
    renameSync(path, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const moved = statSync(aside);
  if (!sameFile(moved, judged) || moved.mtimeMs !== judged.mtimeMs) {
    try {
      linkSync(aside, path);
    } catch (err) {
      // A third starter's lock is in place already; the displaced holder sees its loss at its next heartbeat.
      if (!isErrno(err, 'EEXIST')) throw err;
    }
  }
  unlinkSync(aside);
}

/** The data dir's lock, held by this process until `release`. */
export class DataDirLock {
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private constructor(
    private readonly path: string,
    private readonly fd: number,
    shown: string,
  ) {
    // Sync calls, small and quick: a heartbeat must not queue behind the store's file I/O in libuv's thread pool.
    this.timer = setInterval(() => {
      let current: { ino: number; dev: number } | undefined;
      try {
        current = statSync(this.path);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) return;
      }
      if (current === undefined || !sameFile(current, fstatSync(this.fd))) {
        clearInterval(this.timer);
        throw new Error(
          `DATA_DIR ${shown}: the lock ${join(shown, '.lock')} was removed or taken over by another store; stopping so that two stores never share the data dir`,
        );
      }
      try {
        const now = new Date();
        futimesSync(this.fd, now, now);
      } catch {
        // Tried again at the next beat; a lock left unrefreshed long enough is taken over, which the next beat sees.
      }
    }, HEARTBEAT_MS).unref();
  }

  /**
   * Takes `<dir>/.lock`. A lock whose holder is gone is taken over: a pid
   * that no longer runs, is a zombie or belongs to another process now
   * (holder.ts), or, for a holder in another PID namespace or boot, a lock
   * not refreshed for STALE_MS (watched for up to 2 × STALE_MS). A live holder,
   * including a store of this process, is a StartupError (ELOCKED). `shown`
   * is the data dir as the operator wrote it, for messages.
   */
  static async acquire(dir: string, shown: string): Promise<DataDirLock> {
    const path = join(dir, '.lock');
    const self = me();
    const temp = join(dir, `.lock.${randomUUID()}`);
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, formatHolder(self));
      for (let takeovers = 0; ; ) {
        try {
          linkSync(temp, path);
          break;
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
        }
        const seen = look(path);
        if (seen === undefined) continue;
        const verdict = await judge(path, seen, self);
        if (verdict === 'changed') continue;
        if (!verdict.stale) throw refusal(shown, verdict.seen.holder, verdict.foreign);
        if (++takeovers > ATTEMPTS) {
          throw new StartupError(`DATA_DIR ${shown}: could not take the lock ${join(shown, '.lock')}`, 'ELOCKED');
        }
        remove(dir, path, verdict.seen);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    } finally {
      unlinkSync(temp);
    }
    return new DataDirLock(path, fd, shown);
  }

  /** Stops the heartbeat and removes the lock file, if it is still this lock's. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    try {
      if (sameFile(statSync(this.path), fstatSync(this.fd))) unlinkSync(this.path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    } finally {
      closeSync(this.fd);
    }
  }
}

function refusal(shown: string, holder: Holder | undefined, foreign: boolean): StartupError {
  const who = holder === undefined ? 'an unreadable lock' : `pid ${holder.pid}`;
  const where = foreign ? ' in another container or on another host: its lock is being refreshed' : '';
  return new StartupError(
    `DATA_DIR ${shown} is in use by another embedded store (${who}${where}); stop it, or remove ${join(shown, '.lock')} if none runs`,
    'ELOCKED',
  );
}
