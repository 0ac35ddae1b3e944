// macOS has no /proc: the loader must be given a path, so the best it can do
// is the real path, whose inode the caller checks is still the verified one.
import fs from 'node:fs';

export function realPathWithInode(file: string): { path: string; dev: number; ino: number } {
  const real = fs.realpathSync(file);
  const now = fs.statSync(real);
  return { path: real, dev: now.dev, ino: now.ino };
}
