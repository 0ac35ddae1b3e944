// Unpacking a bundle without trusting it: every entry is checked before any
// byte is written, and one unsafe entry refuses the whole bundle.
import fs from 'node:fs';
import path from 'node:path';

import * as tar from 'tar';

import { PluginFormatError, PlughostError } from '../errors.js';
import { MAX_FILE_BYTES } from '../util/regular-file.js';

/** Code of a bundle refused for an entry that could write outside its directory. */
export const BUNDLE_UNSAFE = 'PLUGHOST_BUNDLE_UNSAFE';

/**
 * What one bundle may unpack to. A file past MAX_FILE_BYTES could never be
 * verified anyway; the totals stop a tar bomb before it fills the disk.
 */
export const BUNDLE_LIMITS = { entryBytes: MAX_FILE_BYTES, totalBytes: 4 * MAX_FILE_BYTES, entries: 100_000 } as const;

// Compressed bytes read per step. node-tar reads a small file whole, and one
// gzip write then inflates all of it at once (a 2 MB bomb is 2 GiB in memory);
// 64 KiB at a time bounds what one step can inflate to ~64 MiB.
const READ_SIZE = 64 * 1024;

// What a bundle may inflate to, per byte: plugin binaries compress ~4:1, JSON
// and lockfiles ~10:1; only crafted input comes near 100:1 (zeros reach 1000:1,
// node-tar's default limit, which a bomb just under it passes).
const MAX_DECOMPRESSION_RATIO = 100;

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

const isAbsolute = (p: string): boolean => p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p);
const hasDotDot = (p: string): boolean => p.split(/[\\/]/).includes('..');

/** Why an entry is unsafe to extract, or null. Exported for tests. */
export function unsafeEntry(entryPath: string, type: string, linkpath: string | undefined): string | null {
  if (entryPath.includes('\0')) return 'a path with a NUL byte';
  if (isAbsolute(entryPath)) return 'an absolute path';
  if (hasDotDot(entryPath)) return 'a path with ".."';
  if (REGULAR.has(type)) return null;
  // plughost bundle never writes links, and a chain of them can point anywhere
  // (a/up -> .., x -> a/up/..): refuse every link rather than reason about them.
  if (type === 'SymbolicLink') return `a symbolic link (${linkpath ?? ''})`;
  if (type === 'Link') return `a hard link (${linkpath ?? ''})`;
  return `an entry of type ${type}`;
}

function badArchive(file: string, err: unknown): PlughostError {
  if (err instanceof PlughostError) return err;
  return new PluginFormatError('PLUGHOST_BAD_FORMAT', `not a readable bundle (.tar.gz): ${(err as Error).message}`, {
    file,
    hint: 'Make bundles with plughost bundle',
    cause: err,
  });
}

/**
 * Lists the bundle's entries, streaming: throws PLUGHOST_BUNDLE_UNSAFE for the
 * first unsafe entry or the first limit passed, without inflating the rest.
 * `shownAs`: the path to name in errors (the user's bundle, when `file` is a private copy).
 */
export async function checkBundleEntries(file: string, shownAs: string = file): Promise<string[]> {
  const paths: string[] = [];
  let total = 0;
  let refused: PlughostError | undefined;
  const parser = new tar.Parser({
    strict: true,
    maxDecompressionRatio: MAX_DECOMPRESSION_RATIO,
    onReadEntry: (entry) => {
      entry.resume();
      if (refused !== undefined) return;
      paths.push(entry.path);
      total += entry.size ?? 0;
      const reason =
        unsafeEntry(entry.path, entry.type, entry.linkpath) ??
        (paths.length > BUNDLE_LIMITS.entries ? `more than ${BUNDLE_LIMITS.entries} entries` : null) ??
        ((entry.size ?? 0) > BUNDLE_LIMITS.entryBytes ? `an entry of ${entry.size} bytes, past the ${BUNDLE_LIMITS.entryBytes}-byte limit` : null) ??
        (total > BUNDLE_LIMITS.totalBytes ? `more than ${BUNDLE_LIMITS.totalBytes} bytes in all` : null);
      if (reason === null) return;
      refused = new PluginFormatError(BUNDLE_UNSAFE, `the bundle holds ${reason}: "${entry.path}"; refusing to extract it`, {
        file: shownAs,
        hint: 'A bundle may only hold relative paths inside itself, within the size limits; rebuild it with plughost bundle',
      });
      // Stop reading: the rest of a bomb is never inflated.
      parser.abort(refused);
    },
  });
  const input = fs.createReadStream(file, { highWaterMark: READ_SIZE });
  try {
    await new Promise<void>((resolve, reject) => {
      input.on('error', reject);
      parser.on('error', reject);
      parser.on('abort', reject);
      parser.on('end', () => resolve());
      input.pipe(parser);
    });
  } catch (err) {
    input.destroy();
    if (refused !== undefined) throw refused;
    if (/decompression ratio/.test((err as Error).message)) {
      throw new PluginFormatError(BUNDLE_UNSAFE, `the bundle inflates more than ${MAX_DECOMPRESSION_RATIO}:1 (a tar bomb?); refusing to extract it`, {
        file: shownAs,
        hint: 'Bundles made by plughost bundle never come near this; rebuild it with plughost bundle',
      });
    }
    throw badArchive(shownAs, err);
  }
  if (paths.length === 0) throw badArchive(shownAs, new Error('the archive is empty'));
  return paths;
}

/** Checks every entry, then extracts into `into` (an empty private directory). */
export async function extractBundle(file: string, into: string, shownAs: string = file): Promise<string[]> {
  const paths = await checkBundleEntries(file, shownAs);
  try {
    await tar.x({ file, cwd: into, strict: true, preservePaths: false, preserveOwner: false, maxReadSize: READ_SIZE, maxDecompressionRatio: MAX_DECOMPRESSION_RATIO });
  } catch (err) {
    throw badArchive(shownAs, err);
  }
  return paths;
}
