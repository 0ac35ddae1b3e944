// scaffold(): a new plugin project that builds and passes its own test out of the box.
import fs from 'node:fs';
import path from 'node:path';

import { PlughostUsageError } from '../errors.js';
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
  /** The plughost version range for package.json (default: ^ this plughost's version). */
  readonly plughostRange?: string;
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
  const version = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version as string;
  const ctx: TemplateContext = { name, plughostRange: options.plughostRange ?? `^${version}`, gypi: gypi.split(path.sep).join('/') };

  const files = TEMPLATES[lang](ctx);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  const cd = `cd ${path.relative(process.cwd(), dir) || '.'}`;
  const next = kind === 'native' || lang === 'ts' ? [cd, 'npm install', 'npm run build', 'npm test'] : [cd, 'npm install', 'npm test'];
  return { dir, kind, lang, name, files: Object.keys(files).sort(), next };
}
