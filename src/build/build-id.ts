// The release build ID: one value stamped into the host and every plugin.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
import { packageRoot } from '../package-root.js';

interface BuildIdScript {
  resolveBuildId(env?: NodeJS.ProcessEnv, root?: string): string;
  BUILD_ID_PATTERN: RegExp;
}

// The same script binding.gyp and plughost.cmake run, so the three agree.
const script = createRequire(import.meta.url)(path.join(packageRoot(), 'native', 'build-id.cjs')) as BuildIdScript;

/** PLUGHOST_BUILD_ID if set, else `<version>+g<commit>`; validated. */
export function resolveBuildId(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return script.resolveBuildId(env, packageRoot());
  } catch (err) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', (err as Error).message, { cause: err });
  }
}

export function isValidBuildId(id: string): boolean {
  return script.BUILD_ID_PATTERN.test(id);
}

export const BUILD_INFO_FILE = path.join('dist', 'build-info.json');

export interface BuildInfo {
  readonly buildId: string;
  readonly builtAt: string;
  readonly plugins: ReadonlyArray<{ readonly name: string; readonly file: string; readonly builder: string }>;
}

/** What the last `plughost build` of this package stamped, if it ran. */
export function readBuildInfo(root: string = packageRoot()): BuildInfo | undefined {
  const file = path.join(root, BUILD_INFO_FILE);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BuildInfo;
}

/** The build ID this host was stamped with, falling back to the one its sources would get now. */
export function hostBuildId(): string {
  return readBuildInfo()?.buildId ?? resolveBuildId();
}
