// Checking one manifest entry against this machine and the file on disk,
// without running any plugin code. Used by the host before every load and
// by `plughost verify` for a whole deploy.
import fs from 'node:fs';
import path from 'node:path';

import { PluginFormatError, PluginIntegrityError, PlughostError } from '../errors.js';
import { formatApiVersion, type NativeDescriptor } from '../native/descriptor.js';
import { verifyNative } from '../native/inspect.js';
import { resolvePluginPackage } from '../prebuild/resolve.js';
import type { DynamicEntry, Manifest, NativeEntry, PluginEntry } from './schema.js';
import { currentTarget, describeTarget, type Target } from '../platform/target.js';
import { readRegularFile } from '../util/regular-file.js';
import { sha256Hex } from '../util/sha256.js';

export interface EntryCheck {
  readonly plugin: string;
  readonly file: string;
  /** Set for native plugins: what the file's descriptor says. */
  readonly descriptor: NativeDescriptor | null;
  /** Set for dynamic plugins: the entry file's bytes that matched the pin (what an executable entry runs). */
  readonly bytes?: Buffer;
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
    if (resolution.packageDir !== null) checkPackageVersion(entry, resolution.packageDir);
    return checkContained(entry, resolution.file, resolution.packageDir ?? path.dirname(resolution.file));
  }
  return checkContained(entry, entryFile(entry, dir), dir);
}

/** The installed package is the version the manifest pinned (its prebuild's SHA-256 is checked next). */
function checkPackageVersion(entry: NativeEntry, packageDir: string): void {
  let version: unknown;
  try {
    version = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `plugin "${entry.name}": its package has no readable package.json`, {
      file: path.join(packageDir, 'package.json'),
      cause: err,
    });
  }
  if (version !== entry.packageVersion) {
    throw new PluginIntegrityError('PLUGHOST_MANIFEST_MISMATCH', `plugin "${entry.name}": packageVersion does not match the manifest`, {
      file: path.join(packageDir, 'package.json'),
      expected: `${entry.package}@${entry.packageVersion} (manifest)`,
      found: `${entry.package}@${String(version)} (installed)`,
      hint: 'Install the version the release pinned (npm ci installs what package-lock.json says), or rebuild the manifest (plughost build)',
    });
  }
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
    // Built with the release: its build ID. An independently published
    // package: the build ID its prebuild was pinned with.
    const fromPackage = entry.package !== undefined;
    const checked = verifyNative(file, {
      buildId: fromPackage ? entry.buildId : manifest.buildId,
      buildIdOrigin: fromPackage ? `manifest pin of ${entry.package}@${entry.packageVersion}` : 'manifest',
      sha256: entry.sha256,
    });
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

  const bytes = checkPinnedFile(entry, file, entry.sha256, 'sha256');
  for (const other of entry.files ?? []) {
    const otherFile = checkContained(entry, path.resolve(dir, other.path), dir);
    checkPinnedFile(entry, otherFile, other.sha256, `files: ${other.path}`);
  }
  return { plugin: entry.name, file, descriptor: null, bytes };
}

function checkPinnedFile(entry: DynamicEntry, file: string, pin: string, field: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file);
  } catch (err) {
    const e = err as PlughostError;
    throw new PluginFormatError(e.code, `plugin "${entry.name}": cannot read ${file}`, { file, expected: e.expected, found: e.found, cause: err });
  }
  const sha = sha256Hex(bytes);
  if (sha !== pin) {
    throw new PluginIntegrityError('PLUGHOST_MANIFEST_MISMATCH', `plugin "${entry.name}": ${field} does not match the manifest`, {
      file,
      expected: `${pin} (manifest)`,
      found: `${sha} (file)`,
      hint: 'The file changed after the manifest was written',
    });
  }
  return bytes;
}

export interface VerifyRow {
  readonly plugin: string;
  readonly kind: string;
  readonly ok: boolean;
  readonly code: string | null;
  readonly detail: string;
}

/** Every entry checked; failures are collected, not thrown. */
export function verifyManifest(manifest: Manifest, dir: string, target: Target = currentTarget(), onEntry?: (name: string) => void): VerifyRow[] {
  return manifest.plugins.map((entry) => {
    onEntry?.(entry.name);
    try {
      const check = verifyEntry(manifest, entry, dir, target);
      const detail = check.descriptor
        ? `${check.descriptor.name} ${check.descriptor.version}, build ${check.descriptor.buildId}, sha256 ok` +
          (entry.kind === 'native' && entry.package !== undefined ? `, from ${entry.package}@${entry.packageVersion}` : '')
        : `entry ${entry.path ?? ''}${entry.kind === 'dynamic' && entry.files?.length ? ` (+${entry.files.length} file(s))` : ''}, sha256 ok`;
      return { plugin: entry.name, kind: entry.kind + (entry.kind === 'native' && entry.isolate ? ' (isolated)' : ''), ok: true, code: null, detail };
    } catch (err) {
      if (!(err instanceof PlughostError)) throw err;
      return { plugin: entry.name, kind: entry.kind, ok: false, code: err.code, detail: err.message };
    }
  });
}
