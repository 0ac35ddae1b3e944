// Builds a project's native plugins with one build ID (node-gyp or cmake-js),
// and runs the build steps its dynamic plugins declare.
import fs from 'node:fs';
import path from 'node:path';

import { BuildError } from '../errors.js';
import { checkBuildId, resolveBuildId } from '../release/build-id.js';
import { findNodeHeaders, type NodeHeaders } from './node-headers.js';
import { runTool } from './run-tool.js';
import { readBuildSpecs, type BuildSpec, type Builder, type NativeBuildSpec } from './specs.js';
import { resolveBuildTool } from './tools.js';

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
  /** The plugins to build (default: read from the project's package.json). */
  readonly specs?: readonly BuildSpec[];
}

export interface BuildResult {
  readonly buildId: string;
  readonly plugins: readonly BuiltPlugin[];
  readonly ms: number;
}

export async function buildPlugins(options: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  // The release is the project's: its own build ID unless one is given.
  const buildId = checkBuildId(options.buildId ?? resolveBuildId(env, options.projectDir));
  const specs = options.specs ?? readBuildSpecs(options.projectDir);
  const compiled = specs.filter((spec): spec is NativeBuildSpec => spec.kind === 'native');
  const headers = compiled.length === 0 ? null : options.headers !== undefined ? options.headers : findNodeHeaders(env);
  if (compiled.length > 0 && headers === null) log('no local Node headers: node-gyp plugins use their cmake-js fallback');
  const plan = compiled.map((spec) => choose(spec, headers !== null));

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
    const projectDirs = [path.resolve(options.projectDir, steps[0]!.project), options.projectDir];
    const tool = resolveBuildTool(builder, projectDirs, steps[0]!.name);
    const ms = await runBuilder(tool, builder, path.resolve(options.projectDir, dir), buildId, env, headers?.nodedir ?? null);
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
    const cwd = path.resolve(options.projectDir, spec.project);
    log(`[build] ${spec.name}: ${spec.build.join(' ')} ...`);
    const run = await runTool(`build step of "${spec.name}"`, args, {
      cwd,
      // As `npm run` would: the project's (and the app's) installed tools come first.
      env: { ...env, PLUGHOST_BUILD_ID: buildId, PATH: withBins(env.PATH, [cwd, options.projectDir]) },
      program: program!,
    });
    log(`      done in ${(run.ms / 1000).toFixed(1)} s`);
  }
  return { buildId, plugins: built, ms: Date.now() - started };
}

function withBins(pathVar: string | undefined, dirs: readonly string[]): string {
  const bins = [...new Set(dirs.map((d) => path.join(d, 'node_modules', '.bin')))].filter((d) => fs.existsSync(d));
  return [...bins, pathVar ?? ''].filter((p) => p !== '').join(path.delimiter);
}

function choose(spec: NativeBuildSpec, haveHeaders: boolean): NativeBuildSpec {
  if (spec.builder !== 'node-gyp' || haveHeaders) return spec;
  if (spec.fallback !== undefined) return { ...spec, ...spec.fallback };
  throw new BuildError('PLUGHOST_NO_NODE_HEADERS', `cannot build "${spec.name}" with node-gyp: no local Node headers`, {
    expected: 'include/node/common.gypi under npm_config_nodedir, beside the node binary, or in the node-gyp cache',
    found: 'none (node-gyp would try to download them)',
    hint: 'Install your distribution\'s Node development headers, set npm_config_nodedir, or give the plugin a cmake-js fallback',
  });
}

async function runBuilder(
  tool: string,
  builder: Builder,
  dir: string,
  buildId: string,
  baseEnv: NodeJS.ProcessEnv,
  nodedir: string | null,
): Promise<number> {
  const env = { ...baseEnv, PLUGHOST_BUILD_ID: buildId };
  if (builder === 'node-gyp') {
    const args = [tool, 'rebuild', '--jobs=max'];
    if (nodedir !== null) args.push(`--nodedir=${nodedir}`);
    return (await runTool('node-gyp', args, { cwd: dir, env })).ms;
  }
  // cmake-js builds against the Node-API headers it ships (binary.napi_versions), no download.
  const args = [tool, 'rebuild', '--log-level', 'warn'];
  return (await runTool('cmake-js', args, { cwd: dir, env })).ms;
}
