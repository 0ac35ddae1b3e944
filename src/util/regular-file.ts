// Opening a file plughost is about to trust (a plugin, a pinned file, a
// bundle) so that no path can hang, crash or surprise it: FIFOs and devices
// are opened non-blocking and refused by type, not read; sizes past what one
// Buffer holds are refused up front, not met with a RangeError.
import fs from 'node:fs';

import { PluginFormatError } from '../errors.js';

/** The largest file plughost reads whole: far past any real plugin, well inside one Buffer. */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

export interface OpenedFile {
  /** Open read-only; the caller closes it. */
  readonly fd: number;
  readonly stat: fs.Stats;
  readonly bytes: Buffer;
}

// O_NONBLOCK: open() of a FIFO with no writer returns at once instead of
// waiting forever; O_NOCTTY: a terminal device never becomes ours. Neither
// changes how a regular file reads.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

/** Opens and reads a regular file whole; throws PLUGHOST_FILE_NOT_FOUND, _NOT_A_FILE or _FILE_TOO_LARGE. */
export function openRegularFile(file: string, maxBytes: number = MAX_FILE_BYTES): OpenedFile {
  let fd: number;
  try {
    // libuv opens with O_CLOEXEC already: plugin subprocesses never inherit it.
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw openError(file, err);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw new PluginFormatError('PLUGHOST_NOT_A_FILE', 'not a regular file', { file, expected: 'a regular file', found: kindOf(stat) });
    }
    if (stat.size > maxBytes) {
      throw new PluginFormatError('PLUGHOST_FILE_TOO_LARGE', 'file is too large to be read', {
        file,
        expected: `at most ${maxBytes} bytes`,
        found: `${stat.size} bytes`,
      });
    }
    const bytes = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = fs.readSync(fd, bytes, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { fd, stat, bytes: bytes.subarray(0, read) };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** openRegularFile, closed: just the bytes. */
export function readRegularFile(file: string, maxBytes: number = MAX_FILE_BYTES): Buffer {
  const opened = openRegularFile(file, maxBytes);
  fs.closeSync(opened.fd);
  return opened.bytes;
}

/** What a path that is not a regular file is, for the error. */
export function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFile()) return 'a regular file';
  return 'a special file';
}

function openError(file: string, err: unknown): PluginFormatError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', 'no such file', { file, cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    return new PluginFormatError('PLUGHOST_NOT_A_FILE', 'not readable by this user', { file, expected: 'a file this user may read', found: 'permission denied', cause: err });
  }
  // A unix socket cannot be opened at all (ENXIO): it exists, and it is not a file.
  let found = `cannot open: ${(err as Error).message}`;
  try {
    found = kindOf(fs.statSync(file));
  } catch {
    // The open error is the best description left.
  }
  return new PluginFormatError('PLUGHOST_NOT_A_FILE', 'not a readable regular file', { file, expected: 'a regular file', found, cause: err });
}

/** Writes all of `bytes` at the start of `fd`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, written);
}
