// Checking one manifest entry against this machine and the file on disk,
// without running any plugin code. Used by the host before every load and
// by `plughost verify` for a whole deploy.
import fs from 'node:fs';
import path from 'node:path';

import { PluginFormatError, PluginIntegrityError, PlughostError } from '../errors.js';
import { formatApiVersion, type NativeDescriptor } from '../native/descriptor.js';
import { verifyNative } from '../native/inspect.js';
import { resolvePluginPackage } from '../prebuild/resolve.js';
import type { Manifest, PluginEntry } from './schema.js';
import { currentTarget, describeTarget, type Target } from './target.js';
import { sha256Hex } from '../util/sha256.js';

export interface EntryCheck {
  readonly plugin: string;
  readonly file: string;
  /** Set for native plugins: what the file's descriptor says. */
  readonly descriptor: NativeDescriptor | null;
}

export function entryFile(entry: PluginEntry, dir: string): string {
  if (entry.path === undefined) throw new Error(`plugin "${entry.name}" comes from an npm package, not a path`);
  return path.resolve(dir, entry.path);
}

/**
 * The entry's file, refusing one that is not a regular file inside the
 * manifest's directory once symlinks are resolved (a link in a deploy must
 * not lead a pin to a file the deploy does not hold).
 */
function containedFile(entry: PluginEntry, dir: string): string {
  // From an installed npm package: its prebuild for this machine, inside the package.
  if (entry.kind === 'native' && entry.package !== undefined) {
    const resolution = resolvePluginPackage(entry.package, { paths: [dir] });
    return checkContained(entry, resolution.file, resolution.packageDir ?? path.dirname(resolution.file));
  }
  return checkContained(entry, entryFile(entry, dir), dir);
}

function checkContained(entry: PluginEntry, file: string, dir: string): string {
  let real: string;
  let realDir: string;
  try {
    real = fs.realpathSync(file);
    realDir = fs.realpathSync(dir);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `plugin "${entry.name}": no such file`, { file, cause: err });
  }
  if (real !== realDir && !real.startsWith(realDir + path.sep)) {
    throw new PluginIntegrityError('PLUGHOST_MANIFEST_MISMATCH', `plugin "${entry.name}": path leads outside the deploy`, {
      file,
      expected: `a file under ${realDir}`,
      found: real,
      hint: 'A deploy holds its plugin files itself; do not link to files outside it',
    });
  }
  if (!fs.statSync(real).isFile()) {
    throw new PluginFormatError('PLUGHOST_NOT_A_FILE', `plugin "${entry.name}": not a regular file`, { file, expected: 'a regular file', found: real });
  }
  return file;
}

/** Throws the first failed check as a typed error naming plugin, field, expected and found. */
export function verifyEntry(manifest: Manifest, entry: PluginEntry, dir: string, target: Target = currentTarget()): EntryCheck {
  const file = containedFile(entry, dir);
  const mismatch = (field: string, expected: string, found: string, hint?: string): PluginIntegrityError =>
    new PluginIntegrityError('PLUGHOST_MANIFEST_MISMATCH', `plugin "${entry.name}": ${field} does not match the manifest`, {
      file,
      expected: `${expected} (manifest)`,
      found: `${found} (file)`,
      hint,
    });

  if (entry.kind === 'native') {
    const wanted: Target = { platform: entry.platform, arch: entry.arch, libc: entry.libc };
    if (wanted.platform !== target.platform || wanted.arch !== target.arch || (wanted.libc ?? null) !== target.libc) {
      throw new PluginFormatError('PLUGHOST_WRONG_TARGET', `plugin "${entry.name}" was built for another machine`, {
        file,
        expected: `${describeTarget(target)} (this machine)`,
        found: `${describeTarget(wanted)} (manifest)`,
        hint: 'Deploy the bundle built for this platform, arch and libc',
      });
    }
    const checked = verifyNative(file, { buildId: manifest.buildId, sha256: entry.sha256 });
    const d = checked.descriptor;
    const fields: Array<[string, string, string]> = [
      ['name', entry.name, d.name],
      ['version', entry.version, d.version],
      ['buildId', entry.buildId, d.buildId],
      ['apiVersion', entry.apiVersion, formatApiVersion(d.apiVersion)],
      ['napiVersion', String(entry.napiVersion), String(d.napiVersion)],
    ];
    for (const [field, expected, found] of fields) {
      if (expected !== found) throw mismatch(field, expected, found, 'Rebuild the manifest from the files you deploy (plughost build)');
    }
    return { plugin: entry.name, file, descriptor: d };
  }

  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `plugin "${entry.name}": cannot read its entry file`, { file, cause: err });
  }
  const sha = sha256Hex(bytes);
  if (sha !== entry.sha256) throw mismatch('sha256', entry.sha256, sha, 'The file changed after the manifest was written');
  return { plugin: entry.name, file, descriptor: null };
}

export interface VerifyRow {
  readonly plugin: string;
  readonly kind: string;
  readonly ok: boolean;
  readonly code: string | null;
  readonly detail: string;
}

/** Every entry checked; failures are collected, not thrown. */
export function verifyManifest(manifest: Manifest, dir: string, target: Target = currentTarget()): VerifyRow[] {
  return manifest.plugins.map((entry) => {
    try {
      const check = verifyEntry(manifest, entry, dir, target);
      const detail = check.descriptor
        ? `${check.descriptor.name} ${check.descriptor.version}, build ${check.descriptor.buildId}, sha256 ok`
        : `entry ${entry.path ?? ''}, sha256 ok`;
      return { plugin: entry.name, kind: entry.kind + (entry.kind === 'native' && entry.isolate ? ' (isolated)' : ''), ok: true, code: null, detail };
    } catch (err) {
      if (!(err instanceof PlughostError)) throw err;
      return { plugin: entry.name, kind: entry.kind, ok: false, code: err.code, detail: err.message };
    }
  });
}
