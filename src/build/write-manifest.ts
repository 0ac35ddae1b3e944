// Writing manifest.json after a build: every plugin with its pins, read from
// the files themselves (descriptor, SHA-256) and from the plugins (methods).
import fs from 'node:fs';
import path from 'node:path';

import { BuildError, PlughostError } from '../errors.js';
import { createHost, type Host } from '../host.js';
import { silentLogger } from '../logger.js';
import { launchCommand } from '../manifest/launch.js';
import { parseManifest } from '../manifest/load.js';
import { MANIFEST_FILE, type DynamicEntry, type Manifest, type PinnedFile, type PluginEntry } from '../manifest/schema.js';
import { currentTarget } from '../platform/target.js';
import { formatApiVersion } from '../native/descriptor.js';
import { inspectNative } from '../native/inspect.js';
import { resolvePluginPackage } from '../prebuild/resolve.js';
import { npmPackList } from '../util/npm-pack-list.js';
import { sha256File } from '../util/sha256.js';
import type { BuildResult } from './build-plugins.js';
import { readBuildSpecs, type BuildSpec, type DynamicBuildSpec, type NativeBuildSpec, type PackageSpec } from './specs.js';

const relative = (projectDir: string, file: string): string => path.relative(projectDir, file).split(path.sep).join('/');

/** Never pinned or shipped as part of a plugin's files. */
const SKIPPED = new Set(['node_modules', '.git', '__pycache__', '.DS_Store']);

export interface ManifestBuild {
  readonly manifest: Manifest;
  /** Plugins that could not start on this machine, with why; they are not in the manifest. */
  readonly leftOut: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

/** Builds the manifest for a finished build; plugins are loaded once to learn their methods. */
export async function buildManifest(
  projectDir: string,
  result: BuildResult,
  log: (line: string) => void = () => {},
  specs: readonly BuildSpec[] = readBuildSpecs(projectDir),
): Promise<ManifestBuild> {
  const host = createHost({ buildId: result.buildId, logger: silentLogger });
  const plugins: PluginEntry[] = [];
  const leftOut: Array<{ name: string; reason: string }> = [];
  try {
    for (const spec of specs) {
      if (spec.kind === 'dynamic') {
        const entry = await dynamicEntry(host, projectDir, spec);
        if (entry instanceof PlughostError) {
          // One that cannot start here (e.g. no Python gRPC on this machine) is left out, loudly.
          log(`manifest: ${spec.name} (dynamic) LEFT OUT: it did not start here: ${entry.code}: ${entry.message}`);
          leftOut.push({ name: spec.name, reason: `${entry.code}: ${entry.message}` });
          continue;
        }
        plugins.push(entry);
        log(`manifest: ${spec.name} (dynamic) ${entry.methods.length} method(s)${entry.files?.length ? `, ${entry.files.length} other file(s) pinned` : ''}`);
        continue;
      }
      const entry = spec.kind === 'package' ? packageEntry(host, projectDir, spec) : nativeEntry(host, projectDir, spec, result);
      if (entry === undefined) continue;
      plugins.push(entry);
      const from = entry.kind === 'native' && entry.package !== undefined ? ` from ${entry.package}@${entry.packageVersion}` : '';
      log(`manifest: ${spec.name} (native${from}) ${entry.methods.length} method(s)`);
    }
  } finally {
    await host.close();
  }
  // Validated like any manifest the host will read.
  return { manifest: parseManifest({ schemaVersion: 1, buildId: result.buildId, plugins }), leftOut };
}

function nativeEntry(host: Host, projectDir: string, spec: NativeBuildSpec, result: BuildResult): PluginEntry | undefined {
  const built = result.plugins.find((p) => p.name === spec.name);
  if (built === undefined) return undefined;
  return describeNative(host, built.file, spec, { path: relative(projectDir, built.file) });
}

/** An independently published package: the prebuild npm installed, pinned with its own build ID. */
function packageEntry(host: Host, projectDir: string, spec: PackageSpec): PluginEntry {
  const resolution = resolvePluginPackage(spec.package, { paths: [path.resolve(projectDir, spec.project), projectDir] });
  const pkgFile = path.join(resolution.packageDir ?? path.dirname(resolution.file), 'package.json');
  let packageVersion: string;
  try {
    packageVersion = String(JSON.parse(fs.readFileSync(pkgFile, 'utf8')).version);
  } catch (err) {
    throw new BuildError('PLUGHOST_BUILD_FAILED', `plugin "${spec.name}": cannot read the version of ${spec.package}`, { file: pkgFile, cause: err });
  }
  return describeNative(host, resolution.file, spec, { package: spec.package, packageVersion });
}

/**
 * The pins of a native file, read from it. Built with the release: it must
 * carry the release's build ID; from a package: its own build ID is pinned.
 */
function describeNative(
  host: Host,
  file: string,
  spec: NativeBuildSpec | PackageSpec,
  where: { path: string } | { package: string; packageVersion: string },
): PluginEntry {
  const info = inspectNative(file);
  if (info.descriptor === null) throw info.problem!;
  const d = info.descriptor;
  const lockstep = 'path' in where;
  const methods = host.loadNative(file, lockstep ? {} : { buildId: d.buildId }).methodNames;
  const target = currentTarget();
  return {
    name: spec.name,
    kind: 'native',
    version: d.version,
    ...where,
    sha256: info.sha256,
    methods: [...methods],
    buildId: d.buildId,
    platform: target.platform as 'linux' | 'darwin',
    arch: target.arch,
    libc: target.libc,
    apiVersion: formatApiVersion(d.apiVersion),
    napiVersion: d.napiVersion,
    ...(spec.isolate ? { isolate: true } : {}),
    ...(spec.options ? { options: spec.options } : {}),
  };
}

/** Started once to ask it (Describe) what it serves; a PlughostError if it cannot start here. */
async function dynamicEntry(host: Host, projectDir: string, spec: DynamicBuildSpec): Promise<DynamicEntry | PlughostError> {
  const file = path.resolve(projectDir, spec.path);
  const files = await pluginFiles(projectDir, spec);
  let plugin;
  try {
    const { command, env } = launchCommand(spec.command, file, projectDir, spec.options?.env);
    plugin = await host.loadDynamic({ name: spec.name, command, cookie: spec.cookie, cwd: projectDir, ...(env ? { env } : {}) });
  } catch (err) {
    if (err instanceof PlughostError) return err;
    throw err;
  }
  try {
    return {
      name: spec.name,
      kind: 'dynamic',
      version: plugin.version || '0.0.0',
      path: relative(projectDir, file),
      sha256: sha256File(file),
      methods: plugin.methods.map((m) => m.name),
      command: [...spec.command],
      ...(spec.cookie ? { cookie: { ...spec.cookie } } : {}),
      ...(files.length > 0 ? { files } : {}),
      ...(spec.options ? { options: spec.options } : {}),
    };
  } finally {
    await plugin.close();
  }
}

/**
 * Every other file a dynamic plugin runs, pinned: those it declares, else
 * what npm would pack of its own plugin project; a plugin of the app itself
 * ships with the app's files.
 */
async function pluginFiles(projectDir: string, spec: DynamicBuildSpec): Promise<PinnedFile[]> {
  let paths: string[];
  if (spec.files !== undefined) {
    paths = spec.files.flatMap((rel) => expand(projectDir, rel, spec));
  } else if (spec.project !== '') {
    paths = (await npmPackList(path.resolve(projectDir, spec.project))).map((p) => path.posix.join(spec.project, p));
    if (!paths.includes(spec.path)) {
      throw new BuildError('PLUGHOST_BUILD_FAILED', `plugin "${spec.name}": npm would not publish its entry file ${spec.path}`, {
        file: path.resolve(projectDir, spec.project, 'package.json'),
        hint: `Add it to "files" in ${spec.project}/package.json (a plugin project ships what npm pack selects), or list "files" in its plugin entry`,
      });
    }
  } else {
    return [];
  }
  return [...new Set(paths)]
    .filter((p) => p !== spec.path)
    .sort()
    .map((p) => ({ path: p, sha256: sha256File(path.resolve(projectDir, p)) }));
}

function expand(projectDir: string, rel: string, spec: DynamicBuildSpec): string[] {
  const abs = path.resolve(projectDir, rel);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch (err) {
    throw new BuildError('PLUGHOST_BUILD_FAILED', `plugin "${spec.name}": a file it declares is missing: ${rel}`, { file: abs, cause: err });
  }
  if (stat.isFile()) return [rel];
  if (!stat.isDirectory()) return [];
  return fs
    .readdirSync(abs)
    .filter((n) => !SKIPPED.has(n))
    .sort()
    .flatMap((n) => expand(projectDir, path.posix.join(rel, n), spec));
}

export function writeManifest(projectDir: string, manifest: Manifest): string {
  const file = path.join(projectDir, MANIFEST_FILE);
  // Atomically: a host reading it meanwhile sees the old or the new one, never half.
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(temporary, file);
  return file;
}
