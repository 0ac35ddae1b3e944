// Linux: an anonymous file (O_TMPFILE) holding the verified bytes. It has no
// name, so no other process can open it for writing; the loader maps it
// through /proc/self/fd, so what runs is exactly what was written.
import fs from 'node:fs';

import { writeAll } from '../util/regular-file.js';

// Not in fs.constants. __O_TMPFILE | O_DIRECTORY, per architecture (asm-generic
// vs arm/arm64, whose O_DIRECTORY differs).
const O_TMPFILE: Partial<Record<string, number>> = {
  x64: 0o20200000,
  ia32: 0o20200000,
  riscv64: 0o20200000,
  loong64: 0o20200000,
  s390x: 0o20200000,
  arm64: 0o20040000,
  arm: 0o20040000,
};

/** An open anonymous file in `dir` holding `bytes`, and the path that names it; undefined where O_TMPFILE is not available. */
export function anonymousCopy(dir: string, bytes: Uint8Array): { fd: number; path: string } | undefined {
  const flag = O_TMPFILE[process.arch];
  if (flag === undefined || !fs.existsSync('/proc/self/fd')) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(dir, flag | fs.constants.O_RDWR, 0o500);
  } catch {
    // Unsupported by the filesystem, read-only, or not ours to write: the caller tries elsewhere.
    return undefined;
  }
  try {
    writeAll(fd, bytes);
    return { fd, path: `/proc/self/fd/${fd}` };
  } catch {
    fs.closeSync(fd);
    return undefined;
  }
}
