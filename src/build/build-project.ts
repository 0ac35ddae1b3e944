// buildProject(): what `plughost build` does, as one call: compile the
// project's native plugins and run its dynamic plugins' build steps with one
// build ID, and write manifest.json: every plugin with its pins, the one record
// of the build that the host, verify and bundle read.
import path from 'node:path';

import { stageExecHelperPrebuild } from '../dynamic/exec-helper.js';
import type { Manifest } from '../manifest/schema.js';
import { buildPlugins, type BuiltPlugin } from './build-plugins.js';
import { readBuildSpecs } from './specs.js';
import { buildManifest, writeManifest } from './write-manifest.js';

export interface BuildProjectOptions {
  /** The app (or plugin project): a directory with package.json "plughost.plugins". Default: the working directory. */
  readonly dir?: string;
  /** Default: $PLUGHOST_BUILD_ID, else the project's `<version>+g<commit>`. */
  readonly buildId?: string;
  /** Progress, one line at a time. */
  readonly log?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface BuildProjectResult {
  readonly dir: string;
  readonly buildId: string;
  readonly plugins: readonly BuiltPlugin[];
  readonly manifest: Manifest;
  readonly manifestFile: string;
  /** plughost's own exec helper, when the project built is plughost itself. */
  readonly execHelper: string | null;
  readonly leftOut: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  readonly ms: number;
}

export async function buildProject(options: BuildProjectOptions = {}): Promise<BuildProjectResult> {
  const started = performance.now();
  const dir = path.resolve(options.dir ?? '.');
  const log = options.log ?? (() => {});
  const specs = readBuildSpecs(dir);
  const result = await buildPlugins({ projectDir: dir, buildId: options.buildId, log, env: options.env, specs });
  // Building plughost itself: its exec helper ships as a prebuild in the npm tarball.
  const execHelper = stageExecHelperPrebuild(dir);
  const { manifest, leftOut } = await buildManifest(dir, result, log, specs);
  const manifestFile = writeManifest(dir, manifest);
  return { dir, buildId: result.buildId, plugins: result.plugins, manifest, manifestFile, execHelper, leftOut, ms: performance.now() - started };
}
