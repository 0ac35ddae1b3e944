// `plughost verify FILE.node` as a function: one plugin file checked against
// the release createHost() would expect in this directory, without loading it.
import { verifyNative, type NativeVerification } from '../native/inspect.js';
import { expectedBy, resolveRelease } from './release.js';

export interface VerifyPluginFileOptions {
  /** The release to check against instead of the app's. */
  readonly buildId?: string;
  /** Any build ID (an independently published plugin package); the plugin API and Node-API are still checked. */
  readonly anyBuild?: boolean;
  /** The SHA-256 (hex) the file must have. */
  readonly sha256?: string;
}

export interface PluginFileVerification extends NativeVerification {
  /** The build ID the file was checked against; null with `anyBuild`. */
  readonly expectedBuildId: string | null;
}

/** Throws the typed error loadNative would throw; returns what was verified. */
export function verifyPluginFile(file: string, options: VerifyPluginFileOptions = {}): PluginFileVerification {
  const release = options.anyBuild === true ? null : resolveRelease({ buildId: options.buildId });
  const expectedBuildId = release?.buildId ?? null;
  const verification = verifyNative(file, {
    buildId: expectedBuildId,
    buildIdOrigin: release === null ? undefined : expectedBy(release),
    sha256: options.sha256,
  });
  return { ...verification, expectedBuildId };
}
