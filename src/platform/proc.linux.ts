// What Linux's /proc says of a process: whether it has ended (a zombie or
// gone), its CPU time, its children. Elsewhere (no /proc) each answer is
// "unknown", and callers fall back to what the process reports itself.
import fs from 'node:fs';

/** USER_HZ: the unit of /proc/PID/stat times, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

const hasProc = (): boolean => fs.existsSync('/proc/self/stat');

/** Whether `pid` has ended (zombie, dead or gone); false where /proc cannot tell. */
export function procEnded(pid: number): boolean {
  if (!hasProc()) return false;
  try {
    return /^\d+ \(.*\) [ZX]/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** CPU seconds (user + system) of `pid`, or undefined where there is no /proc (or the process is gone). */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; fields 14 and 15 are utime and stime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The pids of `pid`'s children; empty where the kernel lacks CONFIG_PROC_CHILDREN or there is no /proc. */
export function procChildren(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
