import { readdirSync, readFileSync } from 'node:fs';

/**
 * The resident memory of a process and everything it started (`npm start`:
 * npm, and the server it runs), read from /proc (Linux only): the sum of
 * each process's VmRSS, as `ps` shows it. Shared pages (the node binary
 * mapped by npm and by the server) count once per process.
 */

/** The pids of `pid` and of all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${all[i]}/task/${task}/children`, 'utf8');
        for (const child of children.split(' ')) if (child.trim() !== '') all.push(Number(child));
      } catch {
        // The thread or process ended meanwhile.
      }
    }
  }
  return all;
}

/** VmRSS of one process in bytes (0 once it is gone). */
function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The summed RSS of the tree under `pid`, in bytes, and how many processes it has. */
export function treeRss(pid: number): { bytes: number; processes: number } {
  const pids = processTree(pid);
  return { bytes: pids.reduce((sum, p) => sum + rssOf(p), 0), processes: pids.length };
}

/** Samples `treeRss(pid)` every `everyMs` until `stop` settles, and resolves with the highest sum seen. */
export async function peakTreeRss<T>(
  pid: number,
  stop: Promise<T>,
  everyMs = 50,
): Promise<{ peak: number; result: T }> {
  let peak = treeRss(pid).bytes;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRss(pid).bytes);
  }, everyMs);
  try {
    const result = await stop;
    peak = Math.max(peak, treeRss(pid).bytes);
    return { peak, result };
  } finally {
    clearInterval(timer);
  }
}
