// The app a deploy runs: its package.json and lockfile, so that `npm ci
// --omit=dev --ignore-scripts` on the target installs plughost (with its exec
// helper prebuild) and every plugin package the manifest pins.
import fs from 'node:fs';
import path from 'node:path';

import { PluginFormatError, PlughostError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';

const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json'];

interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly link?: boolean;
  readonly dev?: boolean;
}

export interface AppPackage {
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  /** The lockfile (absolute), or null when there is none. */
  readonly lockfile: string | null;
  /** `packages` of the lockfile, keyed `node_modules/<name>`. */
  readonly locked: Readonly<Record<string, LockEntry>>;
  /** Production dependencies: what `npm ci --omit=dev` installs. */
  readonly dependencies: Readonly<Record<string, string>>;
  /** The app is plughost itself (this repository). */
  readonly isPlughost: boolean;
}

/** The app in `dir`, or null when `dir` has no package.json (a deploy of plugins only). */
export function readApp(dir: string): AppPackage | null {
  const pkgFile = path.join(dir, 'package.json');
  if (!fs.existsSync(pkgFile)) return null;
  const pkg = readJson(pkgFile, 'the app\'s package.json') as { name?: unknown; version?: unknown; dependencies?: unknown };
  const lockfile = LOCKFILES.map((f) => path.join(dir, f)).find((f) => fs.existsSync(f)) ?? null;
  const lock = lockfile === null ? {} : (readJson(lockfile, `the app's ${path.basename(lockfile)}`) as { packages?: Record<string, LockEntry> });
  const dependencies = typeof pkg.dependencies === 'object' && pkg.dependencies !== null ? (pkg.dependencies as Record<string, string>) : {};
  return {
    dir,
    name: typeof pkg.name === 'string' ? pkg.name : path.basename(dir),
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    lockfile,
    locked: lock.packages ?? {},
    dependencies,
    isPlughost: pkg.name === 'plughost',
  };
}

/** What would stop `npm ci --omit=dev` in the deploy from giving the host and its plugin packages. */
export function appProblems(app: AppPackage, manifest: Manifest): PlughostError[] {
  const problems: PlughostError[] = [];
  const incomplete = (message: string, hint: string, file = path.join(app.dir, 'package.json')): void => {
    problems.push(new PluginFormatError('PLUGHOST_DEPLOY_INCOMPLETE', `app "${app.name}": ${message}`, { file, hint }));
  };
  if (app.lockfile === null) {
    incomplete('has no package-lock.json: a deploy installs its dependencies with npm ci', 'Run npm install in the app to write package-lock.json, then bundle again');
    return problems;
  }
  const needed = [
    ...(app.isPlughost ? [] : [{ name: 'plughost', why: 'it runs the host' }]),
    ...manifest.plugins.flatMap((p) => (p.kind === 'native' && p.package !== undefined ? [{ name: p.package, why: `it provides plugin "${p.name}"` }] : [])),
  ];
  for (const { name, why } of needed) {
    const spec = app.dependencies[name];
    if (spec === undefined) {
      incomplete(`"${name}" is not among its dependencies, but ${why}`, `npm install --save ${name} in the app (not --save-dev: a deploy installs with --omit=dev)`);
      continue;
    }
    const locked = app.locked[`node_modules/${name}`];
    if (locked === undefined || locked.dev === true) {
      incomplete(`"${name}" is not in ${path.basename(app.lockfile)} as a production dependency`, 'Run npm install in the app so that the lockfile matches package.json', app.lockfile);
      continue;
    }
    const local = localSpec(spec);
    if (local !== null && !inside(app.dir, path.resolve(app.dir, local))) {
      incomplete(
        `"${name}" comes from ${spec}, outside the app: the deploy could not install it`,
        `Publish "${name}" to your registry and depend on a version, or keep the tarball inside the app (e.g. vendor/) so the bundle carries it`,
      );
    }
  }
  return problems;
}

/** Local dependency tarballs or directories inside the app, which the bundle must carry for npm ci. */
export function localDependencyFiles(app: AppPackage): string[] {
  return Object.values(app.dependencies)
    .map(localSpec)
    .filter((p): p is string => p !== null)
    .map((p) => path.resolve(app.dir, p))
    .filter((abs) => inside(app.dir, abs) && fs.statSync(abs, { throwIfNoEntry: false })?.isFile() === true);
}

/** The installed version of a package in the deploy, or null when it is not installed (before npm ci). */
export function installedVersion(dir: string, name: string): string | null {
  const file = path.join(dir, 'node_modules', name, 'package.json');
  if (!fs.existsSync(file)) return null;
  const version = (readJson(file, `${name}'s package.json`) as { version?: unknown }).version;
  return typeof version === 'string' ? version : null;
}

/** `file:x`, `./x`, `../x`, `/x`: a dependency from the local file system (its path), else null. */
function localSpec(spec: string): string | null {
  if (spec.startsWith('file:')) return spec.slice('file:'.length);
  if (spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/')) return spec;
  return null;
}

function inside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PluginFormatError('PLUGHOST_BAD_FORMAT', `${what} is not readable JSON: ${(err as Error).message}`, { file, cause: err });
  }
}
