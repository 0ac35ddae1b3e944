// A path the dynamic loader can open that names exactly an already-open,
// verified file. The per-platform mechanics live in the files named for them.
import type fs from 'node:fs';

import { PluginIntegrityError } from '../errors.js';
import { realPathWithInode } from './open-file-path.darwin.js';
import { descriptorPath } from './open-file-path.linux.js';

export function pathOfOpenFile(fd: number, file: string, stat: fs.Stats): string {
  if (process.platform === 'linux') {
    const named = descriptorPath(fd);
    if (named !== undefined) return named;
  }
  // Elsewhere (and on a Linux without /proc) a replacement between the
  // verification and here is refused rather than loaded.
  const real = realPathWithInode(file);
  if (real.dev !== stat.dev || real.ino !== stat.ino) {
    throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', 'file was replaced while it was being verified', {
      file,
      expected: `inode ${stat.ino}`,
      found: `inode ${real.ino}`,
    });
  }
  return real.path;
}
