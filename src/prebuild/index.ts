// Plugins shipped as npm packages with prebuilt binaries: find the file that
// fits this machine (resolvePluginPackage). Building them is build/prebuild-package.ts;
// loading them is host.loadPackage.
export {
  NoPrebuildError,
  describeTuple,
  prebuildOverrideVariable,
  resolvePluginPackage,
  resolvePrebuildDir,
} from './resolve.js';
export type { PrebuildCandidate, PrebuildResolution, PrebuildTuple, ResolvePluginPackageOptions } from './resolve.js';
export { prebuildFileName } from './tags.js';
