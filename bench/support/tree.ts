import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/**
 * The memory of a process and everything it started (`npm start`: npm, and
 * the server it runs), read from /proc (Linux only), three ways:
 *
 * - RSS: the sum of each process's resident pages, as `ps` shows them.
 *   Pages two processes share (the Node binary mapped by npm and by the
 *   server) count once per process.
 * - PSS (`Pss` of /proc/<pid>/smaps_rollup): each shared page is divided
 *   among all the processes that map it, those outside the tree too. On a
 *   machine where other Node processes run, the tree is charged only a part
 *   of the Node binary, so PSS understates what the tree alone would take.
 * - once: every physical page the tree maps counted once, from the page
 *   frames in /proc/<pid>/pagemap (readable by root only): what the tree
 *   would take alone on the machine.
 */

const PAGE = 4096;

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

/** One `Name: N kB` field of a /proc text, in bytes (0 when absent). */
function kB(text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // The process ended meanwhile.
  }
}

export interface TreeMemory {
  /** Summed RSS, bytes. */
  rss: number;
  /** Summed PSS, bytes. */
  pss: number;
  processes: number;
}

/** The summed RSS and PSS of the tree under `pid`, and how many processes it has. */
export function treeMemory(pid: number): TreeMemory {
  const pids = processTree(pid);
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    const rollup = read(`/proc/${p}/smaps_rollup`);
    rss += kB(rollup, 'Rss');
    pss += kB(rollup, 'Pss');
  }
  return { rss, pss, processes: pids.length };
}

/**
 * The tree's resident pages, each counted once, in bytes; undefined when the
 * page frames cannot be read (not root). Only mappings with shared pages are
 * looked up in pagemap (the others' pages belong to one process): their
 * frames are collected in one set, the rest is summed.
 */
export function treeOnce(pid: number): number | undefined {
  let bytes = 0;
  const frames = new Set<number>();
  let framesHidden = false;
  for (const p of processTree(pid)) {
    const smaps = read(`/proc/${p}/smaps`);
    let fd: number;
    try {
      fd = openSync(`/proc/${p}/pagemap`, 'r');
    } catch {
      continue;
    }
    try {
      for (const mapping of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
        const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(mapping);
        if (!range) continue;
        if (kB(mapping, 'Shared_Clean') + kB(mapping, 'Shared_Dirty') === 0) {
          bytes += kB(mapping, 'Rss');
          continue;
        }
        const first = Number.parseInt(range[1]!, 16) / PAGE;
        const entries = Buffer.alloc((Number.parseInt(range[2]!, 16) / PAGE - first) * 8);
        readSync(fd, entries, 0, entries.length, first * 8);
        for (let i = 0; i < entries.length; i += 8) {
          // Bit 63: present; bits 0–54: the page frame number (0 for readers without CAP_SYS_ADMIN).
          const high = entries.readUInt32LE(i + 4);
          if ((high & 0x80000000) === 0) continue;
          const frame = (high & 0x7fffff) * 2 ** 32 + entries.readUInt32LE(i);
          if (frame === 0) framesHidden = true;
          frames.add(frame);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return framesHidden ? undefined : bytes + frames.size * PAGE;
}

/** Samples `treeMemory(pid)` every `everyMs` until `stop` settles, and resolves with the highest sums seen. */
export async function peakTreeMemory<T>(
  pid: number,
  stop: Promise<T>,
  everyMs = 50,
): Promise<{ rss: number; pss: number; result: T }> {
  const peak = { rss: 0, pss: 0 };
  const sample = () => {
    const { rss, pss } = treeMemory(pid);
    peak.rss = Math.max(peak.rss, rss);
    peak.pss = Math.max(peak.pss, pss);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  try {
    const result = await stop;
    sample();
    return { ...peak, result };
  } finally {
    clearInterval(timer);
  }
}
