// What goes into a bundle: the manifest, every plugin file it pins, and the
// app that runs them (package.json, lockfile, and what npm would pack of
// it). Paths in the archive are POSIX and relative to the manifest's
// directory, which is the deploy's root.
import fs from 'node:fs';
import path from 'node:path';

import { PluginFormatError, PluginIntegrityError } from '../errors.js';
import type { LoadedManifest } from '../manifest/load.js';
import { MANIFEST_FILE, type PluginEntry } from '../manifest/schema.js';
import { npmPackList } from '../util/npm-pack-list.js';
import { sha256File } from '../util/sha256.js';
import { appProblems, localDependencyFiles, type AppPackage } from './app.js';

/** One file of the archive: where it goes and where its bytes come from. */
export interface BundleFile {
  readonly path: string;
  readonly source: string;
  readonly size: number;
  readonly executable: boolean;
}

/** Files packed for one reason (the manifest, one plugin, the app), for progress reports. */
export interface FileGroup {
  readonly name: string;
  readonly files: readonly BundleFile[];
}

const toPosix = (p: string): string => p.split(path.sep).join('/');

function fileAt(dir: string, archivePath: string, what: string): BundleFile {
  const source = path.resolve(dir, archivePath);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', `${what}: its file is missing`, {
      file: source,
      hint: 'Build the plugins (plughost build) or fix the manifest',
      cause: err,
    });
  }
  if (!stat.isFile()) throw new PluginFormatError('PLUGHOST_NOT_A_FILE', `${what}: not a regular file`, { file: source });
  return { path: toPosix(archivePath), source, size: stat.size, executable: (stat.mode & 0o111) !== 0 };
}

/** A file checked against its pin: a bundle whose files differ from their pins could never load. */
function pinnedFile(dir: string, archivePath: string, sha256: string, entry: PluginEntry): BundleFile {
  const file = fileAt(dir, archivePath, `plugin "${entry.name}"`);
  const sha = sha256File(file.source);
  if (sha !== sha256) {
    throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', `plugin "${entry.name}": ${archivePath} does not match the manifest's sha256`, {
      file: file.source,
      expected: `${sha256} (manifest)`,
      found: `${sha} (file)`,
      hint: 'Rebuild the manifest from the files you deploy (plughost build), or restore the file',
    });
  }
  return file;
}

/** The files one manifest entry needs, each checked against its pin; none for a plugin from an npm package (npm ci installs it). */
export function pluginFiles(entry: PluginEntry, dir: string): BundleFile[] {
  if (entry.path === undefined) return [];
  const files = [pinnedFile(dir, entry.path, entry.sha256, entry)];
  if (entry.kind === 'dynamic') for (const other of entry.files ?? []) files.push(pinnedFile(dir, other.path, other.sha256, entry));
  return files;
}

/** The app: package.json, its lockfile, local dependency tarballs, and what npm would pack of it (no node_modules). */
export async function appFiles(app: AppPackage): Promise<BundleFile[]> {
  const listed = await npmPackList(app.dir);
  const extra = [app.lockfile!, ...localDependencyFiles(app)].map((f) => toPosix(path.relative(app.dir, f)));
  return [...new Set([...listed, ...extra])].map((rel) => fileAt(app.dir, rel, `app "${app.name}"`));
}

/**
 * The groups of a bundle, in packing order; each file appears once (in the
 * first group that names it). `app` null: manifest and plugins only.
 */
export async function collectGroups(loaded: LoadedManifest, app: AppPackage | null, exclude: ReadonlySet<string>): Promise<FileGroup[]> {
  const taken = new Set<string>();
  const groups: FileGroup[] = [];
  const push = (name: string, files: readonly BundleFile[]): void => {
    const fresh = files.filter((f) => !taken.has(f.path) && !exclude.has(f.source));
    for (const f of fresh) taken.add(f.path);
    groups.push({ name, files: fresh });
  };
  if (app !== null) {
    // Refuse a deploy that could not install before packing anything.
    const problem = appProblems(app, loaded.manifest)[0];
    if (problem !== undefined) throw problem;
  }
  const manifest = fs.statSync(loaded.file);
  push('manifest', [{ path: MANIFEST_FILE, source: loaded.file, size: manifest.size, executable: false }]);
  for (const entry of loaded.manifest.plugins) {
    const from = entry.kind === 'native' && entry.package !== undefined ? ` (npm ${entry.package}@${entry.packageVersion})` : '';
    push(`${entry.kind} ${entry.name}${from}`, pluginFiles(entry, loaded.dir));
  }
  if (app !== null) push(`app ${app.name}`, await appFiles(app));
  return groups;
}
