// scaffold(): a new plugin project that builds and passes its own test out of the box.
import fs from 'node:fs';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
import { findProjectRoot } from '../release/build-id.js';
import { packageRoot } from '../package-root.js';
import type { ProjectFiles, TemplateContext } from './templates/common.js';
import { dynamicPython } from './templates/dynamic-python.js';
import { dynamicTs } from './templates/dynamic-ts.js';
import { nativeC } from './templates/native-c.js';
import { nativeCpp } from './templates/native-cpp.js';

export type ScaffoldKind = 'native' | 'dynamic';
export type ScaffoldLang = 'c' | 'cpp' | 'ts' | 'python';

export interface ScaffoldOptions {
  readonly kind: ScaffoldKind;
  /** The plugin's name: also the npm package name and the build target. */
  readonly name: string;
  /** Default: c for native, ts for dynamic. */
  readonly lang?: ScaffoldLang;
  /** The project directory to create; it must not exist or be empty. */
  readonly dir: string;
  /**
   * Where binding.gyp includes plughost.gypi from (C plugins): a path
   * relative to the project, or an absolute one (made relative). Default:
   * node_modules/plughost/native/plughost.gypi, where npm installs it.
   */
  readonly gypi?: string;
  /**
   * The project's plughost dependency: a version range or tag ("^0.1.0"), or
   * a local plughost tarball (.tgz) or directory, written as a `file:` path
   * relative to the project. Default: the plughost dependency of the app the
   * project is created in, else `^<this plughost's version>` (the registry).
   */
  readonly plughost?: string;
}

export interface PlughostDependency {
  /** As written into package.json. */
  readonly spec: string;
  /** Where it comes from, in words. */
  readonly source: string;
}

export interface ScaffoldResult {
  readonly dir: string;
  readonly kind: ScaffoldKind;
  readonly lang: ScaffoldLang;
  readonly name: string;
  /** Files written, relative to `dir`, sorted. */
  readonly files: readonly string[];
  /** What to run next, from the project's parent directory. */
  readonly next: readonly string[];
  readonly plughost: PlughostDependency;
  /** The entry for the app's package.json "plughost.plugins" that builds this project with the app. */
  readonly appEntry: { readonly project: string };
}

export const LANGS: Readonly<Record<ScaffoldKind, readonly ScaffoldLang[]>> = {
  native: ['c', 'cpp'],
  dynamic: ['ts', 'python'],
};

/** npm package name, build target, manifest name and file name at once. */
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

const TEMPLATES: Record<ScaffoldLang, (ctx: TemplateContext) => ProjectFiles> = {
  c: nativeC,
  cpp: nativeCpp,
  ts: dynamicTs,
  python: dynamicPython,
};

function invalid(message: string, expected: string, found: string): PlughostUsageError {
  return new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', message, { expected, found });
}

export function scaffold(options: ScaffoldOptions): ScaffoldResult {
  const { kind, name } = options;
  if (kind !== 'native' && kind !== 'dynamic') throw invalid('unknown plugin kind', 'native or dynamic', String(kind));
  const lang = options.lang ?? LANGS[kind][0]!;
  if (!LANGS[kind].includes(lang)) throw invalid(`a ${kind} plugin cannot be written in "${lang}"`, LANGS[kind].join(' or '), String(lang));
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid('invalid plugin name', '1-63 characters from [a-z0-9_-], starting with a letter', JSON.stringify(name));
  }
  const dir = path.resolve(options.dir);
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'the project directory exists and is not empty', {
      file: dir,
      hint: 'Choose another --dir or name',
    });
  }
  const gypi = options.gypi === undefined ? 'node_modules/plughost/native/plughost.gypi' : path.isAbsolute(options.gypi) ? path.relative(dir, options.gypi) : options.gypi;
  const own = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string; peerDependencies?: Record<string, string> };
  const plughost = plughostDependency(options.plughost, dir, own.version);
  const ctx: TemplateContext = {
    name,
    plughostRange: plughost.spec,
    plughostSource: plughost.source,
    toolRanges: { 'node-gyp': own.peerDependencies?.['node-gyp'] ?? '*', 'cmake-js': own.peerDependencies?.['cmake-js'] ?? '*' },
    gypi: gypi.split(path.sep).join('/'),
  };

  const files = TEMPLATES[lang](ctx);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  const cd = `cd ${path.relative(process.cwd(), dir) || '.'}`;
  const next = kind === 'native' || lang === 'ts' ? [cd, 'npm install', 'npm run build', 'npm test'] : [cd, 'npm install', 'npm test'];
  const app = findProjectRoot(path.dirname(dir));
  return {
    dir,
    kind,
    lang,
    name,
    files: Object.keys(files).sort(),
    next,
    plughost,
    appEntry: { project: (app === null ? path.basename(dir) : path.relative(app, dir)).split(path.sep).join('/') },
  };
}

/** The dependency the project gets: what was asked for, else what its app uses, else this version from the registry. */
function plughostDependency(requested: string | undefined, dir: string, version: string): PlughostDependency {
  if (requested !== undefined) return fromRequest(requested, dir, 'as asked');
  const app = findProjectRoot(path.dirname(dir));
  if (app !== null) {
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as {
      name?: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    if (pkg.name === 'plughost') return local(app, dir, 'the plughost checkout it was created in');
    const spec = pkg.dependencies?.plughost ?? pkg.devDependencies?.plughost;
    if (spec !== undefined) {
      const file = spec.startsWith('file:') ? spec.slice('file:'.length) : null;
      return file === null ? { spec, source: `the npm registry (${spec}, as the app in ${app} has it)` } : local(path.resolve(app, file), dir, `the app in ${app}`);
    }
  }
  return { spec: `^${version}`, source: `the npm registry (^${version})` };
}

function fromRequest(requested: string, dir: string, why: string): PlughostDependency {
  const looksLocal = /^(\.{0,2}\/|file:)|\.(tgz|tar\.gz)$/.test(requested) || fs.existsSync(requested);
  if (!looksLocal) return { spec: requested, source: `the npm registry (${requested})` };
  const target = path.resolve(requested.startsWith('file:') ? requested.slice('file:'.length) : requested);
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  const isPlughost = stat?.isDirectory() === true && readName(path.join(target, 'package.json')) === 'plughost';
  if (stat === undefined || (!stat.isFile() && !isPlughost)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', '--plughost names no plughost tarball or directory', {
      file: target,
      expected: 'a plughost-<version>.tgz made by npm pack, a plughost directory, or a version range',
      found: stat === undefined ? 'nothing there' : 'a directory without plughost\'s package.json',
    });
  }
  return local(target, dir, why);
}

function local(target: string, dir: string, why: string): PlughostDependency {
  const rel = path.relative(dir, target).split(path.sep).join('/');
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  const kind = stat === undefined ? 'path (missing!)' : stat.isDirectory() ? 'directory' : 'tarball';
  return { spec: `file:${rel}`, source: `the local plughost ${kind} ${target} (${why})` };
}

function readName(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).name;
  } catch {
    return undefined;
  }
}
