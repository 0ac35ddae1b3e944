// What goes into a bundle: the manifest, every plugin file it names, and the
// host package. Paths in the archive are POSIX and relative to its root.
import fs from 'node:fs';
import path from 'node:path';

import { PluginFormatError, PluginIntegrityError, PlughostUsageError } from '../errors.js';
import type { LoadedManifest } from '../manifest/load.js';
import { MANIFEST_FILE, type PluginEntry } from '../manifest/schema.js';
import { sha256File } from '../util/sha256.js';

/** The host package's files live under this directory of a bundle. */
export const HOST_PREFIX = 'host';

/** One file of the archive: where it goes and where its bytes come from. */
export interface BundleFile {
  readonly path: string;
  readonly source: string;
  readonly size: number;
  readonly executable: boolean;
}

/** Files packed for one reason (the manifest, one plugin, the host), for progress reports. */
export interface FileGroup {
  readonly name: string;
  readonly files: readonly BundleFile[];
}

/** Entries of a dynamic plugin written in a scripting language: its whole directory ships with it. */
const SCRIPT_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.py']);
/** Never packed from a directory walk. */
const SKIPPED_NAMES = new Set(['__pycache__', '.git', '.DS_Store']);

/** The host package: required paths, then optional ones (copied when present). */
const HOST_REQUIRED = ['package.json', 'dist/src'];
const HOST_OPTIONAL = ['package-lock.json', 'dist/build-info.json', 'native', 'proto', 'plugins-dynamic/python/plughost_plugin'];

const toPosix = (p: string): string => p.split(path.sep).join('/');

function fileOf(archivePath: string, source: string, stat: fs.Stats): BundleFile {
  return { path: archivePath, source, size: stat.size, executable: (stat.mode & 0o111) !== 0 };
}

/**
 * Every regular file under `dir` (symbolic links followed, loops skipped),
 * archived under `prefix`. `exclude` holds absolute paths left out.
 */
export function walkFiles(dir: string, prefix: string, exclude: ReadonlySet<string> = new Set()): BundleFile[] {
  const out: BundleFile[] = [];
  const seen = new Set<string>();
  const visit = (abs: string, rel: string): void => {
    const real = fs.realpathSync(abs);
    if (seen.has(real)) return;
    seen.add(real);
    for (const name of fs.readdirSync(abs).sort()) {
      if (SKIPPED_NAMES.has(name)) continue;
      const child = path.join(abs, name);
      if (exclude.has(child)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let stat: fs.Stats;
      try {
        stat = fs.statSync(child);
      } catch {
        continue; // a dangling symbolic link: nothing to pack
      }
      if (stat.isDirectory()) visit(child, childRel);
      else if (stat.isFile()) out.push(fileOf(prefix === '' ? childRel : `${prefix}/${childRel}`, child, stat));
    }
  };
  visit(dir, '');
  return out;
}

/** The files one manifest entry needs, checked against its pin. */
export function pluginFiles(entry: PluginEntry, dir: string, exclude: ReadonlySet<string>): BundleFile[] {
  if (entry.path === undefined) {
    throw new PlughostUsageError('PLUGHOST_MANIFEST_INVALID', `plugin "${entry.name}" comes from an npm package: a bundle carries files`, {
      hint: 'Install the package on the target with npm (its prebuilds need no compiler), or give the plugin a "path"',
    });
  }
  const file = path.resolve(dir, entry.path);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `plugin "${entry.name}": its file is missing`, {
      file,
      hint: 'Build the plugins (plughost build) or fix "path" in the manifest',
      cause: err,
    });
  }
  if (!stat.isFile()) {
    throw new PluginFormatError('PLUGHOST_NOT_A_FILE', `plugin "${entry.name}": its path is not a regular file`, { file });
  }
  // A bundle whose files do not match their pins could never load: refuse it here.
  const sha = sha256File(file);
  if (sha !== entry.sha256) {
    throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', `plugin "${entry.name}": the file does not match the manifest's sha256`, {
      file,
      expected: `${entry.sha256} (manifest)`,
      found: `${sha} (file)`,
      hint: 'Rebuild the manifest from the files you deploy (plughost build), or restore the file',
    });
  }
  const relDir = path.posix.dirname(toPosix(entry.path));
  if (entry.kind === 'dynamic' && relDir !== '.' && SCRIPT_EXTENSIONS.has(path.extname(file))) {
    // A script imports its neighbours: ship its whole directory.
    return walkFiles(path.dirname(file), relDir, exclude);
  }
  return [fileOf(toPosix(entry.path), file, stat)];
}

/** The plughost package a deploy runs: its package files, compiled code, native build files and protos. */
export function hostFiles(root: string, exclude: ReadonlySet<string>): BundleFile[] {
  const out: BundleFile[] = [];
  const add = (rel: string, required: boolean): void => {
    const abs = path.join(root, rel);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch (err) {
      if (!required) return;
      throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `the host package has no ${rel}`, {
        file: abs,
        hint: 'Build plughost first (npm run build)',
        cause: err,
      });
    }
    if (stat.isDirectory()) out.push(...walkFiles(abs, `${HOST_PREFIX}/${rel}`, exclude));
    else if (!exclude.has(abs)) out.push(fileOf(`${HOST_PREFIX}/${rel}`, abs, stat));
  };
  for (const rel of HOST_REQUIRED) add(rel, true);
  for (const rel of HOST_OPTIONAL) add(rel, false);
  return out;
}

/**
 * The groups of a bundle, in packing order; each file appears once (in the
 * first group that names it). `hostRoot` null: no host files.
 */
export function collectGroups(loaded: LoadedManifest, hostRoot: string | null, exclude: ReadonlySet<string>): FileGroup[] {
  const taken = new Set<string>();
  const groups: FileGroup[] = [];
  const push = (name: string, files: readonly BundleFile[]): void => {
    const fresh = files.filter((f) => !taken.has(f.path));
    for (const f of fresh) taken.add(f.path);
    groups.push({ name, files: fresh });
  };
  push('manifest', [fileOf(MANIFEST_FILE, loaded.file, fs.statSync(loaded.file))]);
  for (const entry of loaded.manifest.plugins) {
    const files = pluginFiles(entry, loaded.dir, exclude);
    if (hostRoot !== null) {
      const clash = files.find((f) => f.path === HOST_PREFIX || f.path.startsWith(`${HOST_PREFIX}/`));
      if (clash !== undefined) {
        throw new PlughostUsageError('PLUGHOST_MANIFEST_INVALID', `plugin "${entry.name}": ${clash.path} collides with the bundle's ${HOST_PREFIX}/ directory`, {
          file: loaded.file,
          hint: `Move the plugin out of ${HOST_PREFIX}/, or bundle without the host`,
        });
      }
    }
    push(`${entry.kind} ${entry.name}`, files);
  }
  if (hostRoot !== null) push('host', hostFiles(hostRoot, exclude));
  return groups;
}
