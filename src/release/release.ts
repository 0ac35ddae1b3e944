// Which release a host (or a verify) belongs to: its build ID, where that
// came from, and the manifest that goes with it. The release is the app's:
// every command and createHost() in one app directory agree by default.
import fs from 'node:fs';
import path from 'node:path';

import { checkBuildId, findProjectRoot, resolveBuildId } from './build-id.js';
import { PluginCompatibilityError, PlughostUsageError } from '../errors.js';
import { readManifest, type LoadedManifest } from '../manifest/load.js';
import { MANIFEST_FILE } from '../manifest/schema.js';

export interface Release {
  /** The build ID every plugin built in lockstep with this release carries. */
  readonly buildId: string;
  /** Where the build ID came from, for messages: `manifest /app/manifest.json`, `PLUGHOST_BUILD_ID`, …; null: given by the caller. */
  readonly origin: string | null;
  /** The release's manifest: the one given, or the app's own manifest.json. */
  readonly manifest: LoadedManifest | undefined;
}

export interface ReleaseOptions {
  /** An explicit build ID (no manifest is looked for then). */
  readonly buildId?: string | undefined;
  /** A manifest.json or its directory; false: do not look for the app's. */
  readonly manifest?: string | false | undefined;
  /** Where the app is looked for (default: the working directory). */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * In order: an explicit manifest (its build ID), an explicit build ID,
 * $PLUGHOST_BUILD_ID, the app's own manifest.json (the last `plughost build`),
 * and the app's default (`<version>+g<commit>`, what `plughost build` stamps).
 * Two sources that disagree are an error, never a silent choice.
 */
export function resolveRelease(options: ReleaseOptions = {}): Release {
  const env = options.env ?? process.env;
  const fromEnv = env.PLUGHOST_BUILD_ID || undefined;
  if (typeof options.manifest === 'string') {
    const loaded = readManifest(options.manifest);
    const id = loaded.manifest.buildId;
    if (options.buildId !== undefined && options.buildId !== id) {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', "the host build ID differs from the manifest's", {
        file: loaded.file,
        expected: `"${id}" (manifest)`,
        found: `"${options.buildId}" (buildId option)`,
      });
    }
    if (options.buildId === undefined && fromEnv !== undefined && fromEnv !== id) throw envConflict(loaded, fromEnv);
    return { buildId: id, origin: `manifest ${loaded.file}`, manifest: loaded };
  }
  if (options.buildId !== undefined) {
    return { buildId: checkBuildId(options.buildId), origin: null, manifest: undefined };
  }
  const root = findProjectRoot(options.cwd ?? process.cwd());
  const own = options.manifest === false || root === null ? undefined : appManifest(root);
  if (fromEnv !== undefined) {
    if (own !== undefined && own.manifest.buildId !== fromEnv) throw envConflict(own, fromEnv);
    return { buildId: checkBuildId(fromEnv, 'PLUGHOST_BUILD_ID'), origin: 'PLUGHOST_BUILD_ID', manifest: own };
  }
  if (own !== undefined) return { buildId: own.manifest.buildId, origin: `manifest ${own.file}`, manifest: own };
  return {
    buildId: resolveBuildId(env, root),
    origin: root === null ? `default: no package.json above ${options.cwd ?? process.cwd()}` : `default of the app in ${root}`,
    manifest: undefined,
  };
}

/** The app's manifest.json, written beside its package.json by `plughost build`. */
function appManifest(root: string): LoadedManifest | undefined {
  const file = path.join(root, MANIFEST_FILE);
  return fs.existsSync(file) ? readManifest(file) : undefined;
}

function envConflict(loaded: LoadedManifest, fromEnv: string): PluginCompatibilityError {
  return new PluginCompatibilityError('PLUGHOST_BUILD_ID_MISMATCH', 'PLUGHOST_BUILD_ID names another release than the manifest', {
    file: loaded.file,
    expected: `"${loaded.manifest.buildId}" (manifest)`,
    found: `"${fromEnv}" (PLUGHOST_BUILD_ID)`,
    hint: 'Unset PLUGHOST_BUILD_ID to run the release the manifest describes, or deploy the manifest of that build',
  });
}

/** "host", or "host: <where its build ID came from>": the expected side of a build ID refusal. */
export function expectedBy(release: Release): string {
  return release.origin === null ? 'host' : `host: ${release.origin}`;
}
