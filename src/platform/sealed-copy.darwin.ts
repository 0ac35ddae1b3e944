// macOS (and a Linux filesystem without O_TMPFILE): a named copy in a fresh
// private directory (0700), read-only (0500), removed as soon as it is mapped.
// Only this user can reach it, for the moment between write and dlopen.
import fs from 'node:fs';
import path from 'node:path';

import { sweepDirsOfDeadPids } from '../util/pid-dirs.js';
import { writeAll } from '../util/regular-file.js';

export const PRIVATE_DIR_PREFIX = 'plughost-load-';

export function privateNamedCopy(dir: string, bytes: Uint8Array, name: string): { fd: number; path: string; remove(): void } | undefined {
  let home: string;
  try {
    // The pid in the name lets a later host sweep what a killed one left.
    home = fs.mkdtempSync(path.join(dir, `${PRIVATE_DIR_PREFIX}${process.pid}-`));
  } catch {
    return undefined;
  }
  const file = path.join(home, name);
  try {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o500);
    writeAll(fd, bytes);
    return { fd, path: file, remove: () => fs.rmSync(home, { recursive: true, force: true }) };
  } catch {
    fs.rmSync(home, { recursive: true, force: true });
    return undefined;
  }
}

const STALE = new RegExp(`^${PRIVATE_DIR_PREFIX}(\\d+)-`);
const swept = new Set<string>();

/** Removes private copies left in `dir` by hosts that are gone (killed before they could clean up); once per directory and process. */
export function sweepStaleCopies(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  sweepDirsOfDeadPids(dir, STALE);
}
