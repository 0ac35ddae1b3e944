// Finding node-gyp and cmake-js where building happens. They are not
// dependencies of plughost (an app that only loads plugins needs neither):
// a plugin project has them as dev dependencies, or the app installs them.
import { createRequire } from 'node:module';

import { BuildError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export type BuildTool = 'node-gyp' | 'cmake-js';

const ENTRY: Record<BuildTool, string> = {
  'node-gyp': 'node-gyp/bin/node-gyp.js',
  'cmake-js': 'cmake-js/bin/cmake-js',
};

const require = createRequire(import.meta.url);

/**
 * The tool's entry script, resolved from each of `fromDirs` (the plugin's
 * project, then the app), then from beside plughost; a one-line error naming
 * the package to install when it is nowhere.
 */
export function resolveBuildTool(tool: BuildTool, fromDirs: readonly string[], plugin: string): string {
  try {
    return require.resolve(ENTRY[tool], { paths: [...fromDirs, packageRoot()] });
  } catch (err) {
    throw new BuildError('PLUGHOST_BUILD_TOOL_MISSING', `building "${plugin}" needs ${tool}, which is not installed`, {
      found: `no ${tool} from ${fromDirs[0] ?? packageRoot()}`,
      hint: `Install it where the plugin builds: npm install --save-dev ${tool}`,
      cause: err,
    });
  }
}
