// Unpacking a bundle without trusting it: every entry is checked before any
// byte is written, and one unsafe entry refuses the whole bundle.
import path from 'node:path';

import * as tar from 'tar';

import { PluginFormatError, PlughostError } from '../errors.js';

/** Code of a bundle refused for an entry that could write outside its directory. */
export const BUNDLE_UNSAFE = 'PLUGHOST_BUNDLE_UNSAFE';

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

/** Lists the bundle's entries; throws PLUGHOST_BUNDLE_UNSAFE for the first unsafe one. */
/** `shownAs`: the path to name in errors (the user's bundle, when `file` is a private copy). */
export async function checkBundleEntries(file: string, shownAs: string = file): Promise<string[]> {
  const paths: string[] = [];
  let unsafe: PlughostError | undefined;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        paths.push(entry.path);
        const reason = unsafeEntry(entry.path, entry.type, entry.linkpath);
        if (reason !== null && unsafe === undefined) {
          unsafe = new PluginFormatError(BUNDLE_UNSAFE, `the bundle holds ${reason}: "${entry.path}"; refusing to extract it`, {
            file: shownAs,
            hint: 'A bundle may only hold relative paths inside itself; rebuild it with plughost bundle',
          });
        }
      },
    });
  } catch (err) {
    throw badArchive(shownAs, err);
  }
  if (unsafe !== undefined) throw unsafe;
  if (paths.length === 0) throw badArchive(shownAs, new Error('the archive is empty'));
  return paths;
}

/** Checks every entry, then extracts into `into` (an empty private directory). */
export async function extractBundle(file: string, into: string, shownAs: string = file): Promise<string[]> {
  const paths = await checkBundleEntries(file, shownAs);
  try {
    await tar.x({ file, cwd: into, strict: true, preservePaths: false, preserveOwner: false });
  } catch (err) {
    throw badArchive(shownAs, err);
  }
  return paths;
}
