// Linux names an open file by its descriptor, so the loader maps exactly the
// inode that was verified, whatever happens to the path afterwards.
import fs from 'node:fs';

/** `/proc/self/fd/<fd>`, or undefined where /proc is not mounted. */
export function descriptorPath(fd: number): string | undefined {
  const named = `/proc/self/fd/${fd}`;
  return fs.existsSync(named) ? named : undefined;
}
