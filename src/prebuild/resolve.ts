// Which prebuilt binary of an installed plugin package fits this machine.
// Order: the PLUGHOST_PREBUILD_<NAME> override, then the package's prebuilds/
// by (platform, arch, libc, Node-API) and node-gyp-build's tags, then a
// PLUGHOST_NO_PREBUILD error that lists every file tried and why it did not fit.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { PlughostError } from '../errors.js';
import { currentFacts, type RuntimeFacts } from '../platform/runtime.js';
import type { Libc } from '../platform/target.js';
import { inspectNative } from '../native/inspect.js';
import { packageRoot } from '../package-root.js';
import {
  compareTags,
  compareTuples,
  describeTags,
  parseTags,
  parseTuple,
  type PrebuildDirTuple,
  type PrebuildTags,
} from './tags.js';

/** What a prebuild must fit. */
export interface PrebuildTuple {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly libc: Libc;
  /** The highest Node-API version this Node supports; a prebuild may declare this or less. */
  readonly napi: number;
}

export interface PrebuildCandidate {
  readonly file: string;
  readonly accepted: boolean;
  readonly reason: string;
}

export interface PrebuildResolution {
  /** The binary to load (absolute). */
  readonly file: string;
  /** Every file considered, in the order tried; accepted ones could all load, `file` is the best. */
  readonly candidates: readonly PrebuildCandidate[];
  readonly tuple: PrebuildTuple;
  /** Where `file` came from. */
  readonly source: 'override' | 'prebuilds';
  /** The environment variable that overrides the choice for this package. */
  readonly overrideVariable: string;
  /** The installed package (null when the override chose the file without looking for it). */
  readonly packageDir: string | null;
}

export interface ResolvePluginPackageOptions {
  /** Directories to resolve the package from (default: the working directory, then plughost's own location). */
  readonly paths?: string[];
  /** Where the override variable is read (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** No prebuild of the package fits this machine (or the package or override file is missing). */
export class NoPrebuildError extends PlughostError {
  readonly packageName: string;
  readonly packageDir: string | null;
  readonly tuple: PrebuildTuple;
  readonly candidates: readonly PrebuildCandidate[];
  constructor(
    init: { packageName: string; packageDir: string | null; tuple: PrebuildTuple; candidates: readonly PrebuildCandidate[] },
    message: string,
    hint: string,
  ) {
    // A multi-line message (the candidate list) gets its hint on a line of its own.
    super('PLUGHOST_NO_PREBUILD', message.includes('\n') ? `${message}\n${hint}` : `${message}. ${hint}`);
    (this as unknown as { hint: string }).hint = hint;
    this.packageName = init.packageName;
    this.packageDir = init.packageDir;
    this.tuple = init.tuple;
    this.candidates = init.candidates;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), packageName: this.packageName, packageDir: this.packageDir, tuple: this.tuple, candidates: this.candidates };
  }
}

/** `PLUGHOST_PREBUILD_<NAME>`: the package name upper-cased, every other character run as `_`. */
export function prebuildOverrideVariable(packageName: string): string {
  const snake = packageName
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `PLUGHOST_PREBUILD_${snake}`;
}

/** `linux-x64 glibc, Node-API <= 9`. */
export function describeTuple(t: PrebuildTuple): string {
  return `${t.platform}-${t.arch}${t.libc === null ? '' : ` ${t.libc}`}, Node-API <= ${t.napi}`;
}

const tupleOf = (f: RuntimeFacts): PrebuildTuple => ({ platform: f.platform, arch: f.arch, libc: f.libc, napi: f.napi });

/**
 * Finds the installed package `packageName` and the prebuilt binary in its
 * `prebuilds/` that fits this machine. Nothing is loaded: pass `file` to
 * `host.loadNative`, which verifies it like any native plugin.
 */
export function resolvePluginPackage(packageName: string, options: ResolvePluginPackageOptions = {}): PrebuildResolution {
  const env = options.env ?? process.env;
  const facts = currentFacts();
  const tuple = tupleOf(facts);
  const variable = prebuildOverrideVariable(packageName);
  const override = env[variable];
  if (override !== undefined && override !== '') {
    const file = path.resolve(override);
    const isFile = fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true;
    const candidates = [{ file, accepted: isFile, reason: isFile ? `set by ${variable}` : `set by ${variable}, but no such file` }];
    if (!isFile) {
      throw new NoPrebuildError(
        { packageName, packageDir: null, tuple, candidates },
        `${variable} names ${file}, which is not a file`,
        `Point ${variable} at a .node file, or unset it to use the package's prebuilds`,
      );
    }
    return { file, candidates, tuple, source: 'override', overrideVariable: variable, packageDir: null };
  }
  const packageDir = findPackageDir(packageName, options.paths ?? [process.cwd(), packageRoot()], tuple, variable);
  return { ...resolvePrebuildDir(packageDir, packageName, facts, variable), source: 'prebuilds', overrideVariable: variable, packageDir };
}

/** The prebuild in `packageDir/prebuilds` that fits this machine; throws NoPrebuildError listing every candidate. */
export function resolvePrebuildDir(
  packageDir: string,
  packageName: string,
  facts: RuntimeFacts = currentFacts(),
  variable: string = prebuildOverrideVariable(packageName),
): { file: string; candidates: PrebuildCandidate[]; tuple: PrebuildTuple } {
  const tuple = tupleOf(facts);
  const root = path.join(packageDir, 'prebuilds');
  const files = listFiles(root);
  const candidates: PrebuildCandidate[] = [];
  const accepted: Array<{ file: string; dir: PrebuildDirTuple; tags: PrebuildTags }> = [];
  for (const file of files) {
    const verdict = judge(root, file, facts);
    candidates.push({ file, accepted: verdict.reason === null, reason: verdict.reason ?? verdict.fit });
    if (verdict.reason === null) accepted.push({ file, dir: verdict.dir!, tags: verdict.tags! });
  }
  // node-gyp-build's preferences: single-arch directories first, then the runtime's own, abi over napi, most tags.
  const byTags = compareTags(facts.runtime);
  accepted.sort((a, b) => compareTuples(a.dir, b.dir) || byTags(a.tags, b.tags));
  const best = accepted[0];
  if (best !== undefined) return { file: best.file, candidates, tuple };

  const relative = path.relative(process.cwd(), root);
  const where = relative === '' || relative.startsWith('..') ? root : relative;
  const lines = candidates.map((c) => `  ${path.relative(packageDir, c.file).split(path.sep).join('/')}: ${c.reason}`);
  const tried = files.length === 0 ? `${where} ${fs.existsSync(root) ? 'is empty' : 'does not exist'}` : `tried ${files.length} file(s) in ${where}:`;
  throw new NoPrebuildError(
    { packageName, packageDir, tuple, candidates },
    [
      `no prebuild of "${packageName}" fits this machine: ${describeTuple(tuple)} (runtime ${facts.runtime}, abi ${facts.abi}, uv ${facts.uv}${facts.armv ? `, armv ${facts.armv}` : ''})`,
      tried,
      ...lines,
    ].join('\n'),
    `Install a version of "${packageName}" that ships prebuilds/${tuple.platform}-${tuple.arch}/*${tuple.libc ? `.${tuple.libc}` : ''}.node, ` +
      `run \`plughost prebuild\` in the package on a machine like this one, or point ${variable} at a .node file`,
  );
}

interface Verdict {
  /** null: it fits. */
  readonly reason: string | null;
  readonly fit: string;
  readonly dir?: PrebuildDirTuple;
  readonly tags?: PrebuildTags;
}

/** Whether one file under prebuilds/ fits, and if not the first reason why (cheapest checks first). */
function judge(root: string, file: string, f: RuntimeFacts): Verdict {
  const reject = (reason: string): Verdict => ({ reason, fit: '' });
  const rel = path.relative(root, file).split(path.sep);
  if (rel.length !== 2) return reject('not directly in a prebuilds/<platform>-<arch>/ directory');
  const dir = parseTuple(rel[0]!);
  if (dir === undefined) return reject(`directory "${rel[0]}" is not <platform>-<arch>`);
  if (dir.platform !== f.platform) return reject(`platform ${dir.platform}, this machine is ${f.platform}`);
  if (!dir.architectures.includes(f.arch)) return reject(`arch ${dir.architectures.join('+')}, this machine is ${f.arch}`);
  const tags = parseTags(rel[1]!);
  if (tags === undefined) return reject('not a .node file');
  // The rules of node-gyp-build's matchTags, each with its reason; libc is plughost's own reading.
  if (tags.runtime !== undefined && tags.runtime !== f.runtime && !(tags.runtime === 'node' && tags.napi)) {
    return reject(`runtime ${tags.runtime}, this is ${f.runtime}`);
  }
  if (tags.abi !== undefined && tags.abi !== f.abi && !tags.napi) return reject(`abi ${tags.abi} (not Node-API), this Node is abi ${f.abi}`);
  if (tags.uv !== undefined && tags.uv !== f.uv) return reject(`libuv ${tags.uv}, this Node has libuv ${f.uv}`);
  if (tags.armv !== undefined && tags.armv !== f.armv) return reject(`armv${tags.armv}, this machine is ${f.armv ? `armv${f.armv}` : 'not ARM'}`);
  if (tags.libc !== undefined && tags.libc !== f.libc) return reject(`libc ${tags.libc}, this machine has ${f.libc ?? `neither (${f.platform})`}`);
  // The file itself, read but not loaded: its descriptor's Node-API version and its machine code.
  let info;
  try {
    // A universal file, through the slice of the arch being resolved for (not necessarily this process's).
    info = inspectNative(file, { arch: f.arch });
  } catch (err) {
    if (err instanceof PlughostError) return reject(`unreadable: ${err.code}`);
    throw err;
  }
  if (info.arch !== null && info.arch !== f.arch) return reject(`filed under ${rel[0]} but the binary is ${info.arch} code`);
  if (info.descriptor === null) return reject(`not a plughost plugin: ${info.problem?.code ?? 'no descriptor'}`);
  const napi = info.descriptor.napiVersion;
  if (napi > f.napi) return reject(`Node-API ${napi}, this Node supports up to ${f.napi}`);
  const libc = tags.libc ?? (f.libc === null ? '' : 'any libc');
  return {
    reason: null,
    fit: `fits ${dir.platform}-${f.arch}${libc ? ` ${libc}` : ''} (tags: ${describeTags(tags)}); plugin "${info.descriptor.name}" ${info.descriptor.version}, Node-API ${napi} <= ${f.napi}`,
    dir,
    tags,
  };
}

/** Every file under `root`, sorted (byte order); none if it does not exist. Symlinked directories are not followed. */
function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The installed package's directory: `<name>/package.json` resolved from each of `paths` in turn. */
function findPackageDir(packageName: string, paths: string[], tuple: PrebuildTuple, variable: string): string {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve(`${packageName}/package.json`, { paths }));
  } catch (err) {
    // A package whose "exports" hides package.json is still found where Node would look.
    if ((err as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      for (const start of paths) {
        for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
          const candidate = path.join(dir, 'node_modules', packageName);
          if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
          if (path.dirname(dir) === dir) break;
        }
      }
    }
    throw new NoPrebuildError(
      { packageName, packageDir: null, tuple, candidates: [] },
      `the plugin package "${packageName}" is not installed where plughost looked (node_modules from ${paths.join(', ')})`,
      `Install it (npm install ${packageName}), pass the directory that depends on it in "paths", or point ${variable} at a .node file`,
    );
  }
}
