// A private copy of a plugin's verified bytes for the loader to map, so the
// code that runs is the code that was hashed: a file rewritten in place after
// verification (same inode) no longer changes what loads. Linux gets an
// anonymous file (sealed-copy.linux.ts); elsewhere, or where O_TMPFILE is not
// supported, a named copy in a private directory (sealed-copy.darwin.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { anonymousCopy } from './sealed-copy.linux.js';
import { privateNamedCopy, sweepStaleCopies } from './sealed-copy.darwin.js';

export interface SealedCopy {
  /** What to hand the loader. */
  readonly path: string;
  /** Where it was made. */
  readonly dir: string;
  /** After the loader mapped it: what must stay open stays, names are removed. */
  mapped(): void;
  /** Not mapped: remove it. */
  discard(): void;
}

/**
 * Where copies may go, in order: $PLUGHOST_LOAD_DIR, the plugin's own
 * directory (its filesystem is mounted with exec: the plugin would load from
 * it), the temporary directory — each only if no other user can rename what
 * we put there (see privateCopiesSafeIn).
 */
export function copyDirs(pluginFile: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = [env.PLUGHOST_LOAD_DIR, path.dirname(pluginFile), os.tmpdir()].filter((d): d is string => d !== undefined && d !== '');
  return [...new Set(dirs.map((d) => path.resolve(d)))].filter(privateCopiesSafeIn);
}

/**
 * A directory where another user cannot rename our private directory away
 * and put theirs in its place: writable by its owner only (this user or
 * root), or sticky (like /tmp: only an entry's owner may rename it).
 */
export function privateCopiesSafeIn(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return false;
  }
  const uid = process.getuid?.();
  const trustedOwner = uid === undefined || stat.uid === uid || stat.uid === 0;
  const othersMayWrite = (stat.mode & 0o022) !== 0;
  const sticky = (stat.mode & 0o1000) !== 0;
  return stat.isDirectory() && trustedOwner && (!othersMayWrite || sticky);
}

/** Each copy that can be made, in `copyDirs` order; the caller maps the first its loader accepts. */
export function* sealedCopies(bytes: Uint8Array, pluginFile: string, env: NodeJS.ProcessEnv = process.env): Generator<SealedCopy> {
  for (const dir of copyDirs(pluginFile, env)) {
    if (process.platform === 'linux') {
      const anonymous = anonymousCopy(dir, bytes);
      if (anonymous !== undefined) {
        // Once mapped, the descriptor stays open for the life of the process:
        // glibc finds a loaded object by name first, so /proc/self/fd/N must
        // never come to name another plugin.
        yield { path: anonymous.path, dir, mapped: () => undefined, discard: () => closeQuietly(anonymous.fd) };
        continue;
      }
    }
    sweepStaleCopies(dir);
    const named = privateNamedCopy(dir, bytes, path.basename(pluginFile));
    if (named !== undefined) {
      const remove = (): void => {
        closeQuietly(named.fd);
        named.remove();
      };
      yield { path: named.path, dir, mapped: remove, discard: remove };
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
}
