/**
 * Locking: Mutex serialises the writes of one bucket (and bucket creation
 * and deletion) inside the process; the data dir's lock file keeps a second
 * process, or a second store in this one, off the same data dir (the listing
 * index lives in memory, so one store owns a dir).
 */
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/**
 * Takes `<dir>/.lock` (holding our pid). A lock left by a process that is
 * gone is taken over; one held by a live process, or by this process for a
 * store still open, is a StartupError (ELOCKED). `shown` is the data dir as
 * the operator wrote it, for messages.
 */
export async function acquireLock(dir: string, lockPath: string, shown: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      held.add(dir);
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const pid = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    const ours = pid === process.pid && held.has(dir);
    if (ours || (pid > 0 && pid !== process.pid && isAlive(pid))) {
      throw new StartupError(
        `DATA_DIR ${shown} is in use by another embedded store (pid ${pid}); stop it, or remove ${join(shown, '.lock')} if none runs`,
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
