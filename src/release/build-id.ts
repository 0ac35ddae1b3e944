// The release build ID: one value stamped into every plugin a project builds.
// The release is the project's (the app, or a plugin package built on its
// own), never plughost's.
import { createRequire } from 'node:module';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
import { packageRoot } from '../package-root.js';

interface BuildIdScript {
  resolveBuildId(env?: NodeJS.ProcessEnv, root?: string | null): string;
  findProjectRoot(start?: string): string | null;
  BUILD_ID_PATTERN: RegExp;
}

// The same script plughost.gypi and plughost.cmake run, so the three agree.
const script = createRequire(import.meta.url)(path.join(packageRoot(), 'native', 'build-id.cjs')) as BuildIdScript;

/** The project `start` belongs to: the nearest package.json above it, outside node_modules; null if none. */
export function findProjectRoot(start: string = process.cwd()): string | null {
  return script.findProjectRoot(start);
}

/**
 * What a build of `projectDir` stamps: PLUGHOST_BUILD_ID if set, else
 * `<project version>+g<commit>` (`+local` outside git); validated.
 */
export function resolveBuildId(env: NodeJS.ProcessEnv = process.env, projectDir: string | null = findProjectRoot()): string {
  try {
    return script.resolveBuildId(env, projectDir);
  } catch (err) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', (err as Error).message, { cause: err });
  }
}

export function isValidBuildId(id: unknown): id is string {
  return typeof id === 'string' && script.BUILD_ID_PATTERN.test(id);
}

/** Throws PLUGHOST_INVALID_ARGUMENT for anything that is not a build ID. */
export function checkBuildId(id: unknown, what = 'build ID'): string {
  if (isValidBuildId(id)) return id;
  throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `invalid ${what}`, {
    expected: '1-63 characters from [A-Za-z0-9._+-]',
    found: JSON.stringify(id) ?? String(id),
  });
}

