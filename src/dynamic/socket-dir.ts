// The private directory each plugin instance gets for its socket (and its
// TMPDIR). Named for the host's pid, so that one left by a host that was
// killed (SIGKILL: no cleanup ran, and no helper removed it) is found and
// swept at the next start; removed on every exit path of a live host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { PluginStartError } from '../errors.js';
import { sweepDirsOfDeadPids } from '../util/pid-dirs.js';

const NAME = /^plughost-(\d+)-[A-Za-z0-9]{6}$/;
const live = new Set<string>();
const swept = new Set<string>();
let exitHook = false;

/**
 * Removes this user's socket directories under `base` whose host is dead.
 * A directory of another user, not 0700, or of a live pid is left alone
 * (a recycled pid keeps a stale directory until that process ends too).
 */
export function sweepStaleSocketDirs(base: string = os.tmpdir()): string[] {
  return sweepDirsOfDeadPids(base, NAME);
}

/** A new 0700 directory for one plugin instance; the first one under a temp dir sweeps stale ones there. */
export function createSocketDir(): string {
  const base = os.tmpdir();
  if (!swept.has(base)) {
    swept.add(base);
    sweepStaleSocketDirs(base);
  }
  if (!exitHook) {
    exitHook = true;
    // process.exit() or the end of the event loop: whatever is still live goes.
    process.once('exit', () => {
      for (const dir of live) fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(base, `plughost-${process.pid}-`));
  } catch (err) {
    throw new PluginStartError('PLUGHOST_SPAWN_FAILED', 'cannot create the private socket directory for a plugin', {
      file: base,
      found: (err as Error).message,
      hint: 'Set TMPDIR to a directory this user can write',
      cause: err,
    });
  }
  fs.chmodSync(dir, 0o700);
  live.add(dir);
  return dir;
}

export function removeSocketDir(dir: string): void {
  live.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
