// Private directories named for the pid of the process that made them, so
// that what a killed process left behind (SIGKILL runs no cleanup) can be
// told apart and swept by the next one.
import fs from 'node:fs';
import path from 'node:path';

/** Whether `pid` names a running process (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes this user's 0700 directories under `base` whose name matches
 * `name` (the pid in its first group) and whose process is gone. Another
 * user's, a wider-open one, or one of a live pid is left alone (a recycled
 * pid keeps its stale directory until that process ends too).
 */
export function sweepDirsOfDeadPids(base: string, name: RegExp): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const entry of names) {
    const pid = Number(name.exec(entry)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    const dir = path.join(base, entry);
    try {
      const stat = fs.lstatSync(dir);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o777) !== 0o700) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}
