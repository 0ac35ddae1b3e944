// verifyDeploy(): everything the host will check at load, for a whole deploy
// (a directory with manifest.json, or a bundle), before it is deployed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { PluginCompatibilityError, PluginFormatError, PluginIntegrityError, PlughostUsageError, type PlughostError } from '../errors.js';
import { readManifest } from '../manifest/load.js';
import { MANIFEST_FILE } from '../manifest/schema.js';
import { currentTarget, type Target } from '../manifest/target.js';
import { verifyManifest, type VerifyRow } from '../manifest/verify-entry.js';
import { extractBundle } from './extract.js';
import { HOST_PREFIX } from './files.js';
import { sha256Hex } from '../util/sha256.js';

export interface VerifyDeployOptions {
  /** The machine to check against (default: this one). */
  readonly target?: Target;
  /** The release's build ID the deploy must carry (checked against the manifest's). */
  readonly buildId?: string;
  /** The SHA-256 (hex) the bundle file must have; bundles only. */
  readonly sha256?: string;
}

export interface DeployVerification {
  /** The location given, absolute. */
  readonly location: string;
  /** True when `location` was a bundle (extracted into `dir`). */
  readonly bundle: boolean;
  /** The directory holding manifest.json (a private temporary directory for a bundle). */
  readonly dir: string;
  /** The release's build ID, from the manifest. */
  readonly buildId: string;
  /** One row per plugin, then one for the host package when the deploy holds one (host/). */
  readonly rows: VerifyRow[];
  readonly ok: boolean;
  /** Removes the extracted copy of a bundle; a no-op for a directory. */
  cleanup(): void;
}

/**
 * Verifies a deploy: `location` is a directory with manifest.json, a
 * manifest.json, or a .tar.gz bundle. Failed checks are rows (ok: false);
 * a location that is not a deploy at all (missing, no valid manifest, an
 * unsafe or unreadable bundle) throws a PlughostError.
 */
export async function verifyDeploy(location: string, options: VerifyDeployOptions = {}): Promise<DeployVerification> {
  const absolute = path.resolve(location);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', 'no such deploy directory or bundle', { file: absolute, cause: err });
  }
  const bundle = stat.isFile() && path.basename(absolute) !== MANIFEST_FILE;
  let dir = stat.isDirectory() ? absolute : path.dirname(absolute);
  if (options.sha256 !== undefined && !bundle) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'a SHA-256 pin applies to a bundle file, not to a directory', { file: absolute });
  }
  let cleanup = (): void => {};
  // A bundle is read once, into a private copy: the bytes hashed, checked and
  // extracted are the same even if the file is replaced meanwhile.
  let copy = absolute;
  if (bundle) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-verify-'));
    cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
    dir = path.join(tmp, 'deploy');
    fs.mkdirSync(dir, { mode: 0o700 });
    copy = path.join(tmp, 'bundle.tar.gz');
    const bytes = fs.readFileSync(absolute);
    fs.writeFileSync(copy, bytes, { mode: 0o600 });
    if (options.sha256 !== undefined) {
      const sha = sha256Hex(bytes);
      if (sha !== options.sha256.toLowerCase()) {
        cleanup();
        throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', 'the bundle does not match its SHA-256 pin', {
          file: absolute,
          expected: options.sha256.toLowerCase(),
          found: sha,
          hint: 'Deploy the bundle plughost bundle printed the SHA-256 of',
        });
      }
    }
  }
  try {
    if (bundle) await extractBundle(copy, dir, absolute);
    const { manifest } = readManifest(bundle ? dir : absolute);
    const target = options.target ?? currentTarget();
    const rows: VerifyRow[] = [];
    if (options.buildId !== undefined && options.buildId !== manifest.buildId) {
      rows.push({
        plugin: '(release)',
        kind: 'manifest',
        ok: false,
        code: 'PLUGHOST_BUILD_ID_MISMATCH',
        detail: new PluginCompatibilityError('PLUGHOST_BUILD_ID_MISMATCH', 'the deploy is another release', {
          file: MANIFEST_FILE,
          expected: `"${options.buildId}" (--build-id)`,
          found: `"${manifest.buildId}" (manifest)`,
        }).message,
      });
    }
    rows.push(...verifyManifest(manifest, dir, target));
    const host = hostRow(dir, manifest.buildId);
    if (host !== null) rows.push(host);
    const shown = bundle ? rows.map((r) => ({ ...r, detail: r.detail.replaceAll(`${dir}${path.sep}`, '') })) : rows;
    return { location: absolute, bundle, dir, buildId: manifest.buildId, rows: shown, ok: shown.every((r) => r.ok), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

const failed = (err: PlughostError): VerifyRow => ({ plugin: '(host)', kind: 'host', ok: false, code: err.code, detail: err.message });

/** The host package shipped in the deploy (host/): present, plughost, and built for this release. */
function hostRow(dir: string, buildId: string): VerifyRow | null {
  const root = path.join(dir, HOST_PREFIX);
  if (!fs.existsSync(root)) return null;
  const pkgFile = path.join(root, 'package.json');
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  } catch (err) {
    return failed(new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', 'the host package has no readable package.json', { file: pkgFile, cause: err }));
  }
  if (pkg.name !== 'plughost') {
    return failed(new PluginFormatError('PLUGHOST_BAD_FORMAT', `${HOST_PREFIX}/ is not the plughost package`, { file: pkgFile, expected: '"plughost"', found: JSON.stringify(pkg.name) }));
  }
  const entry = path.join(root, 'dist', 'src', 'index.js');
  if (!fs.existsSync(entry)) {
    return failed(new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', 'the host package is not built', { file: entry, hint: 'Bundle a built plughost (npm run build)' }));
  }
  const infoFile = path.join(root, 'dist', 'build-info.json');
  let hostBuild: string | undefined;
  if (fs.existsSync(infoFile)) {
    try {
      hostBuild = String(JSON.parse(fs.readFileSync(infoFile, 'utf8')).buildId);
    } catch (err) {
      return failed(new PluginFormatError('PLUGHOST_BAD_FORMAT', 'the host\'s build-info.json is not readable', { file: infoFile, cause: err }));
    }
    if (hostBuild !== buildId) {
      return failed(
        new PluginCompatibilityError('PLUGHOST_BUILD_ID_MISMATCH', 'the host package is from another build than the plugins', {
          file: infoFile,
          expected: `"${buildId}" (manifest)`,
          found: `"${hostBuild}" (host)`,
          hint: 'Build the host and its plugins in lockstep (plughost build), then bundle again',
        }),
      );
    }
  }
  const version = typeof pkg.version === 'string' ? pkg.version : '?';
  return {
    plugin: '(host)',
    kind: 'host',
    ok: true,
    code: null,
    detail: `plughost ${version}, ${hostBuild === undefined ? 'no build-info.json (the manifest sets the build ID)' : `build ${hostBuild}`}`,
  };
}
