/**
 * Who holds a data dir's lock (lock.ts), as its lock file records it, and
 * whether that process still runs. A pid and a start time mean something
 * only inside one PID namespace of one boot: two containers sharing a
 * volume may both run their store as pid 1. So the record also names the
 * boot (/proc/sys/kernel/random/boot_id) and the PID namespace
 * (/proc/self/ns/pid); a holder seen from another one is judged by the
 * lock's heartbeat instead (lock.ts).
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './files.js';

/** Where the kernel describes processes; without it (macOS, Windows) only the pid can be checked. */
const PROC = '/proc';

export interface Holder {
  pid: number;
  /** Its start time (clock ticks since boot, field 22 of /proc/<pid>/stat); undefined without /proc. */
  started: string | undefined;
  /** The kernel's boot id; undefined without /proc. */
  boot: string | undefined;
  /** Its PID namespace (`pid:[4026531836]`); undefined without /proc. */
  pidns: string | undefined;
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

function attempt(read: () => string): string | undefined {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This process, as its lock file records it. */
export function me(): Holder {
  if (!hasProc()) return { pid: process.pid, started: undefined, boot: undefined, pidns: undefined };
  return {
    pid: process.pid,
    started: procStat(process.pid)?.started,
    boot: attempt(() => readFileSync(join(PROC, 'sys', 'kernel', 'random', 'boot_id'), 'utf8')),
    pidns: attempt(() => readlinkSync(join(PROC, 'self', 'ns', 'pid'))),
  };
}

/** One line: `pid started boot pidns`, `-` for what is unknown. */
export function formatHolder(holder: Holder): string {
  return `${[holder.pid, holder.started, holder.boot, holder.pidns].map((v) => v ?? '-').join(' ')}\n`;
}

/** Reads formatHolder's line; also `pid` and `pid started`, as earlier versions wrote. */
export function parseHolder(text: string): Holder | undefined {
  const [pid, started, boot, pidns] = text
    .trim()
    .split(/\s+/)
    .map((v) => (v === '-' ? undefined : v || undefined));
  const n = Number.parseInt(pid ?? '', 10);
  return n > 0 ? { pid: n, started, boot, pidns } : undefined;
}

/**
 * Whether this process sees the holder's pid as the holder's own: the same
 * boot and PID namespace. A record naming neither (an earlier version, or a
 * system without /proc) is taken to be local, as those versions took it.
 */
export function sameView(holder: Holder, self: Holder): boolean {
  if (holder.boot === undefined && holder.pidns === undefined) return true;
  return (
    self.boot !== undefined && self.pidns !== undefined && holder.boot === self.boot && holder.pidns === self.pidns
  );
}

/**
 * Whether the process a local lock names still runs. With /proc: its pid
 * exists, is not a zombie (killed, not yet reaped by its parent: `kill(pid, 0)`
 * still succeeds on it) and started when the lock says (otherwise the pid
 * was reused by an unrelated process). Without /proc, only whether the pid
 * exists (`kill(pid, 0)`), which a zombie or a reused pid fools; remove the
 * lock file by hand then. This process counts as running: a store of its
 * own (on this thread or another) holds the lock.
 */
export function isRunning(holder: Holder): boolean {
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
