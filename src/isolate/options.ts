// Options for host.loadDynamic that run a native plugin isolated: the
// isolation runner in a subprocess loads and verifies the `.node` and serves
// its portable methods over the dynamic protocol.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DynamicPluginOptions } from '../dynamic/dynamic-plugin.js';
import { PluginStartError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export type IsolatedNativeOptions = { name: string; buildId: string; sha256?: string } & Partial<Omit<DynamicPluginOptions, 'name' | 'command'>>;

let runner: string | undefined;

/**
 * The runner's absolute path: runner.js beside this module (dist/src/isolate/),
 * else, when running from the TypeScript sources, the compiled one in dist/.
 */
export function isolateRunnerPath(): string {
  if (runner !== undefined) return runner;
  const beside = fileURLToPath(new URL('./runner.js', import.meta.url));
  const candidates = [beside, path.join(packageRoot(), 'dist/src/isolate/runner.js')];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) {
    throw new PluginStartError('PLUGHOST_SPAWN_FAILED', 'the isolation runner (runner.js) was not found', {
      expected: candidates.join(' or '),
      found: 'neither exists',
      hint: 'Compile plughost first (npm run build:ts)',
    });
  }
  return (runner = found);
}

/**
 * Options for `host.loadDynamic` that run the native plugin `file` in a
 * subprocess, verified exactly as `createHost({ buildId }).loadNative(file, { sha256 })`
 * would. A relative `file` is resolved against this process's working directory.
 * Every other dynamic option (pool, restart, callTimeoutMs, ...) passes through.
 */
export function isolatedNativeOptions(file: string, opts: IsolatedNativeOptions): DynamicPluginOptions {
  const { buildId, sha256, ...dynamic } = opts;
  const command = [process.execPath, isolateRunnerPath(), path.resolve(file), buildId];
  if (sha256 !== undefined) command.push(sha256);
  // The runner loads a private copy of the plugin: where the host's copies
  // go, its go too (its TMPDIR is the socket directory, perhaps noexec).
  const loadDir = process.env.PLUGHOST_LOAD_DIR;
  // A caller's own PLUGHOST_LOAD_DIR for the runner wins.
  const env = loadDir === undefined ? dynamic.env : { PLUGHOST_LOAD_DIR: loadDir, ...dynamic.env };
  // `command` last: it is the runner's, whatever a caller passed.
  return { ...dynamic, ...(env === undefined ? {} : { env }), name: opts.name, command };
}
