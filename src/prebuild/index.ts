// Plugins shipped as npm packages with prebuilt binaries: build them into the
// package (prebuildPackage), find the one that fits (resolvePluginPackage), load it.
import type { Host, LoadNativeOptions } from '../host.js';
import type { MethodTable, NativePlugin } from '../native/plugin.js';
import { resolvePluginPackage, type PrebuildResolution, type ResolvePluginPackageOptions } from './resolve.js';

export {
  NoPrebuildError,
  describeTuple,
  prebuildOverrideVariable,
  resolvePluginPackage,
  resolvePrebuildDir,
} from './resolve.js';
export type { PrebuildCandidate, PrebuildResolution, PrebuildTuple, ResolvePluginPackageOptions } from './resolve.js';
export { prebuildPackage } from './prebuild.js';
export type { PrebuildOptions, PrebuildResult } from './prebuild.js';
export { prebuildFileName } from './tags.js';

export interface LoadPluginPackageOptions extends ResolvePluginPackageOptions, LoadNativeOptions {}

/**
 * Resolves the prebuild of an installed plugin package and loads it through
 * `host.loadNative`: every pre-load check but the build ID (a package is its
 * own release; its plugin API and Node-API versions are checked), and the
 * optional SHA-256 pin.
 * `plugin.file` and `resolution` say which file was loaded and why.
 */
export function loadPluginPackage<M extends MethodTable = MethodTable>(
  host: Host,
  packageName: string,
  options: LoadPluginPackageOptions = {},
): { plugin: NativePlugin<M>; resolution: PrebuildResolution } {
  const resolution = resolvePluginPackage(packageName, { paths: options.paths, env: options.env });
  const plugin = host.loadNative<M>(resolution.file, { buildId: null, ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }) });
  return { plugin, resolution };
}
