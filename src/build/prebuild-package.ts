// `plughost prebuild`: build a plugin package's binary for this machine and lay
// it out inside the package as prebuilds/<platform>-<arch>/<name>.<tags>.node
// (prebuildify's layout), so the package installs and loads with no compiler.
import fs from 'node:fs';
import path from 'node:path';

import { checkBuildId, resolveBuildId } from '../release/build-id.js';
import { buildPlugins } from './build-plugins.js';
import { readBuildSpecs, type Builder } from './specs.js';
import { resolveBuildTool } from './tools.js';
import { findNodeHeaders } from './node-headers.js';
import { runTool } from './run-tool.js';
import { BuildError, PlughostUsageError } from '../errors.js';
import type { NativeDescriptor } from '../native/descriptor.js';
import { verifyNative } from '../native/inspect.js';
import { describeTuple, resolvePrebuildDir, type PrebuildTuple } from '../prebuild/resolve.js';
import { currentFacts } from '../platform/runtime.js';
import { prebuildDirName, prebuildFileName } from '../prebuild/tags.js';

export interface PrebuildOptions {
  /** The plugin package (a directory with package.json). */
  readonly packageDir: string;
  /**
   * Default: $PLUGHOST_BUILD_ID, else the package's own (`<version>+g<commit>`):
   * a plugin package is its own release, and loads in any host of its plugin
   * API major (docs/prebuilds.md).
   */
  readonly buildId?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

export interface PrebuildResult {
  readonly packageName: string;
  readonly packageVersion: string;
  readonly packageDir: string;
  /** The prebuild written (absolute). */
  readonly file: string;
  /** The same, relative to the package: `prebuilds/linux-x64/<name>.napi.glibc.node`. */
  readonly path: string;
  readonly builder: Builder;
  /** Where the build tool left the binary, before it was copied into prebuilds/. */
  readonly builtFile: string;
  readonly buildId: string;
  readonly descriptor: NativeDescriptor;
  readonly sha256: string;
  readonly size: number;
  readonly tuple: PrebuildTuple;
  /** What resolution picks in this package on this machine now (normally `file`). */
  readonly resolvesTo: string;
  readonly buildMs: number;
  readonly ms: number;
}

export async function prebuildPackage(options: PrebuildOptions): Promise<PrebuildResult> {
  const started = performance.now();
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const packageDir = path.resolve(options.packageDir);
  const pkg = readPackage(packageDir);
  const buildId = checkBuildId(options.buildId ?? resolveBuildId(env, packageDir));
  const facts = currentFacts();
  const tuple: PrebuildTuple = { platform: facts.platform, arch: facts.arch, libc: facts.libc, napi: facts.napi };
  // Check the name before spending a build on it.
  const name = prebuildFileName(pkg.name, facts);
  log(`prebuilding ${pkg.name} ${pkg.version} for ${describeTuple(tuple)}, build ${buildId}`);

  const built = pkg.plugins !== undefined ? await buildListed(packageDir, buildId, env, log) : await buildWithNodeGyp(packageDir, buildId, env, log);
  // Every pre-load check the host will run, before the file goes anywhere.
  const verified = verifyNative(built.file, { buildId });
  const size = fs.statSync(built.file).size;

  const dir = path.join(packageDir, 'prebuilds', prebuildDirName(facts));
  const file = path.join(dir, name);
  fs.mkdirSync(dir, { recursive: true });
  // A new inode, then rename: a process that has the old prebuild mapped keeps its copy intact.
  const temporary = `${file}.${process.pid}.tmp`;
  fs.copyFileSync(built.file, temporary);
  fs.renameSync(temporary, file);

  const resolvesTo = resolvePrebuildDir(packageDir, pkg.name, facts).file;
  return {
    packageName: pkg.name,
    packageVersion: pkg.version,
    packageDir,
    file,
    path: path.relative(packageDir, file).split(path.sep).join('/'),
    builder: built.builder,
    builtFile: built.file,
    buildId,
    descriptor: verified.descriptor,
    sha256: verified.sha256,
    size,
    tuple,
    resolvesTo,
    buildMs: built.ms,
    ms: performance.now() - started,
  };
}

interface PackageInfo {
  readonly name: string;
  readonly version: string;
  /** `plughost.plugins`, when the package lists its plugin. */
  readonly plugins: unknown[] | undefined;
}

function readPackage(packageDir: string): PackageInfo {
  const file = path.join(packageDir, 'package.json');
  let json: { name?: unknown; version?: unknown; plughost?: { plugins?: unknown } };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'not a package: no readable package.json', {
      file,
      hint: 'Run plughost prebuild in the plugin package, or pass --dir',
      cause: err,
    });
  }
  if (typeof json.name !== 'string' || json.name === '' || typeof json.version !== 'string') {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'package.json needs a "name" and a "version"', { file });
  }
  const plugins = json.plughost?.plugins;
  return { name: json.name, version: json.version, plugins: Array.isArray(plugins) ? plugins : undefined };
}

interface Built {
  readonly file: string;
  readonly builder: Builder;
  readonly ms: number;
}

/** The package lists its plugin in "plughost.plugins": plughost build's own builder (one native plugin per package). */
async function buildListed(
  packageDir: string,
  buildId: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<Built> {
  const native = readBuildSpecs(packageDir).filter((p) => p.kind === 'native');
  if (native.length !== 1) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'a plugin package ships exactly one native plugin', {
      file: path.join(packageDir, 'package.json'),
      expected: 'one native entry in "plughost.plugins"',
      found: `${native.length}`,
      hint: 'Publish each native plugin as its own package: prebuilds are named after the package',
    });
  }
  const result = await buildPlugins({ projectDir: packageDir, buildId, env, log, specs: native });
  const plugin = result.plugins[0];
  if (plugin === undefined) throw new BuildError('PLUGHOST_BUILD_FAILED', 'the build produced no native plugin', { file: packageDir });
  return { file: plugin.file, builder: plugin.builder, ms: result.ms };
}

/** No "plughost.plugins": `node-gyp rebuild` in the package, then its one build/Release/*.node. */
async function buildWithNodeGyp(packageDir: string, buildId: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<Built> {
  if (!fs.existsSync(path.join(packageDir, 'binding.gyp'))) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'nothing to build: no "plughost.plugins" in package.json and no binding.gyp', {
      file: packageDir,
      hint: 'List the plugin in package.json "plughost": { "plugins": [...] } (see docs/native-plugins.md), or add a binding.gyp',
    });
  }
  const headers = findNodeHeaders(env);
  if (headers === null) {
    throw new BuildError('PLUGHOST_NO_NODE_HEADERS', 'cannot build with node-gyp: no local Node headers', {
      expected: 'include/node/common.gypi under npm_config_nodedir, beside the node binary, or in the node-gyp cache',
      found: 'none (node-gyp would try to download them)',
      hint: 'Install your distribution\'s Node development headers or set npm_config_nodedir',
    });
  }
  const args = [resolveBuildTool('node-gyp', [packageDir], path.basename(packageDir)), 'rebuild', '--jobs=max'];
  if (headers.nodedir !== null) args.push(`--nodedir=${headers.nodedir}`);
  log('[1/1] node-gyp in . (no "plughost.plugins"; binding.gyp) ...');
  const run = await runTool('node-gyp', args, { cwd: packageDir, env: { ...env, PLUGHOST_BUILD_ID: buildId } });
  log(`      done in ${(run.ms / 1000).toFixed(1)} s`);
  const release = path.join(packageDir, 'build', 'Release');
  const outputs = fs.existsSync(release) ? fs.readdirSync(release).filter((f) => f.endsWith('.node')) : [];
  if (outputs.length !== 1) {
    throw new BuildError('PLUGHOST_BUILD_FAILED', 'node-gyp must build exactly one .node for a plugin package', {
      file: release,
      expected: 'one .node file',
      found: outputs.length === 0 ? 'none' : outputs.join(', '),
    });
  }
  return { file: path.join(release, outputs[0]!), builder: 'node-gyp', ms: run.ms };
}
