// verifyDeploy(): everything the host will check at load, for a whole deploy
// (a directory with manifest.json, or a bundle), before it is deployed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { execHelperPrebuild } from '../dynamic/exec-helper.js';
import { PluginCompatibilityError, PluginFormatError, PluginIntegrityError, PlughostUsageError, type PlughostError } from '../errors.js';
import { readManifest } from '../manifest/load.js';
import { MANIFEST_FILE, type Manifest, type NativeEntry, type PluginEntry } from '../manifest/schema.js';
import { currentTarget, type Target } from '../platform/target.js';
import { verifyManifest, type VerifyRow } from '../manifest/verify-entry.js';
import { appProblems, installedVersion, readApp, type AppPackage } from './app.js';
import { extractBundle } from './extract.js';
import { kindOf, readRegularFile } from '../util/regular-file.js';
import { sha256Hex } from '../util/sha256.js';

export interface VerifyDeployOptions {
  /** The machine to check against (default: this one). */
  readonly target?: Target;
  /** The release's build ID the deploy must carry (checked against the manifest's). */
  readonly buildId?: string;
  /** The SHA-256 (hex) the bundle file must have; bundles only. */
  readonly sha256?: string;
  /** Progress, one line per step (reading, extracting, each plugin). */
  readonly onProgress?: (line: string) => void;
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
  /** One row per plugin, then one for the app (the host) when the deploy holds its package.json. */
  readonly rows: VerifyRow[];
  readonly ok: boolean;
  /** Removes the extracted copy of a bundle; a no-op for a directory. */
  cleanup(): void;
}

const BUNDLE_NAME = /\.(tar\.gz|tgz)$/i;

/** A deploy (a directory, a manifest.json or a bundle) rather than one plugin file. */
export function isDeployLocation(location: string): boolean {
  if (BUNDLE_NAME.test(location) || path.basename(location) === MANIFEST_FILE) return true;
  try {
    return fs.statSync(location).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Verifies a deploy: `location` is a directory with manifest.json, a
 * manifest.json, or a .tar.gz bundle. Failed checks are rows (ok: false);
 * a location that is not a deploy at all (missing, no valid manifest, an
 * unsafe or unreadable bundle) throws a PlughostError.
 */
export async function verifyDeploy(location: string, options: VerifyDeployOptions = {}): Promise<DeployVerification> {
  const absolute = path.resolve(location);
  const progress = options.onProgress ?? (() => {});
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_FILE_NOT_FOUND', 'no such deploy directory or bundle', { file: absolute, cause: err });
  }
  if (!stat.isFile() && !stat.isDirectory()) {
    throw new PluginFormatError('PLUGHOST_NOT_A_FILE', 'not a deploy directory, manifest or bundle file', { file: absolute, expected: 'a directory or a regular file', found: kindOf(stat) });
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
    progress(`reading ${path.basename(absolute)} (${(stat.size / 1024 / 1024).toFixed(1)} MiB)`);
    // Refused by type and size before it is read: a FIFO named x.tar.gz cannot hang the check.
    const bytes = readRegularFile(absolute);
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
    if (bundle) {
      const t0 = performance.now();
      const entries = await extractBundle(copy, dir, absolute);
      progress(`extracted ${entries.length} file(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
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
    const app = readApp(dir);
    // A plugin package not installed yet (a bundle, a deploy before npm ci) can only be checked against the lockfile.
    const pending = (e: PluginEntry): e is NativeEntry => e.kind === 'native' && e.package !== undefined && installedVersion(dir, e.package) === null;
    const checked: Manifest = { ...manifest, plugins: manifest.plugins.filter((e) => !pending(e)) };
    const byName = new Map(verifyManifest(checked, dir, target, (name) => progress(`verifying ${name}`)).map((r) => [r.plugin, r]));
    for (const entry of manifest.plugins) rows.push(pending(entry) ? lockedPackageRow(entry, app) : byName.get(entry.name)!);
    rows.push(...appRows(dir, manifest, app));
    const shown = bundle ? rows.map((r) => ({ ...r, detail: r.detail.replaceAll(`${dir}${path.sep}`, '') })) : rows;
    return { location: absolute, bundle, dir, buildId: manifest.buildId, rows: shown, ok: shown.every((r) => r.ok), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** The app in the deploy (package.json): installable with npm ci, and once installed, the host it runs. */
function appRows(dir: string, manifest: Manifest, app: AppPackage | null): VerifyRow[] {
  if (app === null) return [];
  const problems = appProblems(app, manifest);
  if (problems.length > 0) return problems.map((p) => ({ plugin: '(host)', kind: 'host', ok: false, code: p.code, detail: p.message }));
  const lockName = path.basename(app.lockfile!);
  const plughostDir = app.isPlughost ? dir : path.join(dir, 'node_modules', 'plughost');
  const locked = app.isPlughost ? app.version : app.locked['node_modules/plughost']?.version;
  const installed = app.isPlughost ? app.version : installedVersion(dir, 'plughost');
  const what = `app ${app.name} ${app.version}`;
  if (installed === null) {
    return [ok(`${what}: plughost ${locked ?? app.dependencies.plughost} from ${lockName}; not installed yet (npm ci --omit=dev --ignore-scripts)`)];
  }
  if (locked !== undefined && installed !== locked) {
    return [
      fail(
        new PluginIntegrityError('PLUGHOST_DEPLOY_INCOMPLETE', `${what}: the installed plughost is not the one ${lockName} pins`, {
          file: path.join(plughostDir, 'package.json'),
          expected: `${locked} (${lockName})`,
          found: `${installed} (installed)`,
          hint: 'Install with npm ci, which installs exactly what the lockfile says',
        }),
      ),
    ];
  }
  const helper = execHelperPrebuild(plughostDir);
  if (!fs.existsSync(helper)) {
    return [
      fail(
        new PluginFormatError('PLUGHOST_DEPLOY_INCOMPLETE', `${what}: plughost ${installed} has no plughost-exec for this machine: plugins would run without dying with the host or their limits`, {
          file: helper,
          hint: `Use a plughost release that ships it, or build it (cc -O2 -o plughost-exec ${path.join(plughostDir, 'native/exec/plughost-exec.c')}) and set PLUGHOST_EXEC_HELPER`,
        }),
      ),
    ];
  }
  return [ok(`${what}: plughost ${installed} installed, plughost-exec ${path.relative(plughostDir, helper)}`)];
}

/** A plugin from an npm package in a deploy not installed yet: the lockfile must pin the version the manifest pins. */
function lockedPackageRow(entry: NativeEntry, app: AppPackage | null): VerifyRow {
  const row = { plugin: entry.name, kind: entry.kind };
  const locked = app?.locked[`node_modules/${entry.package}`]?.version;
  if (locked === entry.packageVersion) {
    return { ...row, ok: true, code: null, detail: `npm ${entry.package}@${locked} in the lockfile; its prebuild is checked once installed (verify the deploy after npm ci)` };
  }
  const err = new PluginIntegrityError('PLUGHOST_DEPLOY_INCOMPLETE', `plugin "${entry.name}": the app's lockfile does not install ${entry.package}@${entry.packageVersion}`, {
    expected: `${entry.package}@${entry.packageVersion} (manifest)`,
    found: locked === undefined ? 'not in the lockfile' : `${entry.package}@${locked} (lockfile)`,
    hint: `npm install --save ${entry.package}@${entry.packageVersion} in the app, or rebuild the manifest (plughost build)`,
  });
  return { ...row, ok: false, code: err.code, detail: err.message };
}

const ok = (detail: string): VerifyRow => ({ plugin: '(host)', kind: 'host', ok: true, code: null, detail });
const fail = (err: PlughostError): VerifyRow => ({ plugin: '(host)', kind: 'host', ok: false, code: err.code, detail: err.message });
