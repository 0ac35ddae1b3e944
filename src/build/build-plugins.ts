// Builds a project's native plugins with one build ID (node-gyp or cmake-js).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { BuildError, PlughostUsageError } from '../errors.js';
import { resolveBuildId, isValidBuildId, BUILD_INFO_FILE, type BuildInfo } from './build-id.js';
import { findNodeHeaders, type NodeHeaders } from './node-headers.js';
import { runTool } from './run-tool.js';
import type { RunOptions } from '../manifest/schema.js';

export type Builder = 'node-gyp' | 'cmake-js';

/** A native entry of `plughost.plugins` in a project's package.json. */
export interface PluginBuildSpec {
  readonly name: string;
  readonly kind?: 'native';
  readonly builder: Builder;
  /** Directory holding binding.gyp or CMakeLists.txt, relative to the project. */
  readonly dir: string;
  /** The built `.node`, relative to the project. */
  readonly output: string;
  /** Used when node-gyp cannot find Node headers without a download. */
  readonly fallback?: Omit<PluginBuildSpec, 'name' | 'fallback' | 'kind' | 'isolate' | 'options'>;
  /** Manifest: run it in a subprocess. */
  readonly isolate?: boolean;
  readonly options?: RunOptions;
}

/** A dynamic entry: nothing to compile, but it goes into the manifest. */
export interface DynamicBuildSpec {
  readonly name: string;
  readonly kind: 'dynamic';
  /** The entry file, relative to the project (pinned by SHA-256). */
  readonly path: string;
  /** argv; "{path}" is the entry file; "node" is the host's Node, "python3" a Python with grpc. */
  readonly command: readonly string[];
  readonly cookie?: { readonly key: string; readonly value: string };
  readonly options?: RunOptions;
  /** A build step to run first (argv, in the project directory), e.g. ["npx", "tsc"]. */
  readonly build?: readonly string[];
}

export type AnyBuildSpec = PluginBuildSpec | DynamicBuildSpec;

export interface BuiltPlugin {
  readonly name: string;
  readonly file: string;
  readonly builder: Builder;
  readonly ms: number;
}

export interface BuildOptions {
  readonly projectDir: string;
  readonly buildId?: string;
  /** Progress lines ("building crc32 with node-gyp ..."). */
  readonly log?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Where node-gyp finds Node headers; default: looked up with findNodeHeaders (null: none, use fallbacks). */
  readonly headers?: NodeHeaders | null;
}

export interface BuildResult {
  readonly buildId: string;
  readonly plugins: readonly BuiltPlugin[];
  readonly ms: number;
}

const require = createRequire(import.meta.url);

export function readPluginSpecs(projectDir: string): AnyBuildSpec[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(projectDir, 'package.json'), 'utf8'));
  const specs = manifest?.plughost?.plugins;
  if (!Array.isArray(specs)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'package.json has no "plughost.plugins" list', {
      file: path.join(projectDir, 'package.json'),
      expected: '"plughost": { "plugins": [{ "name", "builder", "dir", "output" }] }',
    });
  }
  return specs as AnyBuildSpec[];
}

export async function buildPlugins(options: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const buildId = options.buildId ?? resolveBuildId(env);
  if (!isValidBuildId(buildId)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'invalid build ID', {
      expected: '1-63 characters from [A-Za-z0-9._+-]',
      found: JSON.stringify(buildId),
    });
  }
  const specs = readPluginSpecs(options.projectDir);
  const headers = options.headers !== undefined ? options.headers : findNodeHeaders(env);
  if (headers === null) log('no local Node headers: node-gyp plugins use their cmake-js fallback');
  const plan = specs
    .filter((spec): spec is PluginBuildSpec => spec.kind !== 'dynamic')
    .map((spec) => choose(spec, headers !== null));

  // One tool run per directory: a binding.gyp with several targets builds them all at once.
  const runs = new Map<string, typeof plan>();
  for (const step of plan) {
    const key = `${step.builder}:${step.dir}`;
    runs.set(key, [...(runs.get(key) ?? []), step]);
  }
  const built: BuiltPlugin[] = [];
  let index = 0;
  for (const steps of runs.values()) {
    const { builder, dir } = steps[0]!;
    index++;
    log(`[${index}/${runs.size}] ${builder} in ${dir}: ${steps.map((s) => s.name).join(', ')} ...`);
    const ms = await runBuilder(builder, path.resolve(options.projectDir, dir), buildId, env, headers?.nodedir ?? null);
    for (const step of steps) {
      const file = path.resolve(options.projectDir, step.output);
      if (!fs.existsSync(file)) {
        throw new BuildError('PLUGHOST_BUILD_FAILED', `${builder} succeeded but did not produce ${step.output}`, {
          file,
          hint: `Check "output" for "${step.name}" in package.json`,
        });
      }
      built.push({ name: step.name, file, builder, ms });
    }
    log(`      done in ${(ms / 1000).toFixed(1)} s`);
  }
  // Dynamic plugins compile nothing of ours; they may declare their own step.
  for (const spec of specs) {
    if (spec.kind !== 'dynamic' || spec.build === undefined || spec.build.length === 0) continue;
    const [program, ...args] = spec.build;
    log(`[build] ${spec.name}: ${spec.build.join(' ')} ...`);
    const run = await runTool(`build step of "${spec.name}"`, args, {
      cwd: options.projectDir,
      env: { ...env, PLUGHOST_BUILD_ID: buildId },
      program: program!,
    });
    log(`      done in ${(run.ms / 1000).toFixed(1)} s`);
  }
  return { buildId, plugins: built, ms: Date.now() - started };
}

/** Records the build so the host (and tests, benches) know the build ID and where plugins are. */
export function writeBuildInfo(projectDir: string, result: BuildResult): string {
  const info: BuildInfo = {
    buildId: result.buildId,
    builtAt: new Date().toISOString(),
    plugins: result.plugins.map((p) => ({ name: p.name, file: path.relative(projectDir, p.file), builder: p.builder })),
  };
  const file = path.join(projectDir, BUILD_INFO_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(info, null, 2) + '\n');
  return file;
}

function choose(spec: PluginBuildSpec, haveHeaders: boolean): PluginBuildSpec {
  if (spec.builder !== 'node-gyp' || haveHeaders) return spec;
  if (spec.fallback !== undefined) return { ...spec, ...spec.fallback };
  throw new BuildError('PLUGHOST_NO_NODE_HEADERS', `cannot build "${spec.name}" with node-gyp: no local Node headers`, {
    expected: 'include/node/common.gypi under npm_config_nodedir, beside the node binary, or in the node-gyp cache',
    found: 'none (node-gyp would try to download them)',
    hint: 'Install your distribution\'s Node development headers, set npm_config_nodedir, or give the plugin a cmake-js fallback',
  });
}

async function runBuilder(
  builder: Builder,
  dir: string,
  buildId: string,
  baseEnv: NodeJS.ProcessEnv,
  nodedir: string | null,
): Promise<number> {
  const env = { ...baseEnv, PLUGHOST_BUILD_ID: buildId };
  if (builder === 'node-gyp') {
    const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--jobs=max'];
    if (nodedir !== null) args.push(`--nodedir=${nodedir}`);
    return (await runTool('node-gyp', args, { cwd: dir, env })).ms;
  }
  // cmake-js builds against the Node-API headers it ships (binary.napi_versions), no download.
  const args = [require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--log-level', 'warn'];
  return (await runTool('cmake-js', args, { cwd: dir, env })).ms;
}
