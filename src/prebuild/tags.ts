// Prebuild names in prebuildify's layout, read with node-gyp-build's own parser:
// prebuilds/<platform>-<arch>[+<arch>...]/<name>.<tag>.<tag>.node. So a package
// that plughost lays out also resolves with node-gyp-build, and the reverse.
import { createRequire } from 'node:module';

import type { RuntimeFacts } from '../platform/runtime.js';
import { tupleDirName } from '../platform/target.js';
import { PlughostUsageError } from '../errors.js';

/** What node-gyp-build reads from a prebuild's file name. */
export interface PrebuildTags {
  readonly file: string;
  /** How many known tags the name carries; more specific names win. */
  readonly specificity: number;
  readonly runtime?: string;
  readonly napi?: boolean;
  readonly abi?: string;
  readonly uv?: string;
  readonly armv?: string;
  readonly libc?: string;
}

/** A `prebuilds/` directory name: one platform, one or more architectures. */
export interface PrebuildDirTuple {
  readonly name: string;
  readonly platform: string;
  readonly architectures: readonly string[];
}

// node-gyp-build exports its parsers and comparators beside the loader (load.parseTags, ...).
interface NodeGypBuild {
  parseTags(file: string): PrebuildTags | undefined;
  parseTuple(name: string): PrebuildDirTuple | undefined;
  compareTags(runtime: string): (a: PrebuildTags, b: PrebuildTags) => number;
  compareTuples(a: PrebuildDirTuple, b: PrebuildDirTuple): number;
}

// Loaded on first use, so importing plughost costs nothing until a prebuild is looked at.
let loaded: NodeGypBuild | undefined;
function nodeGypBuild(): NodeGypBuild {
  return (loaded ??= createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild);
}

export const parseTags = (file: string): PrebuildTags | undefined => nodeGypBuild().parseTags(file);
export const parseTuple = (name: string): PrebuildDirTuple | undefined => nodeGypBuild().parseTuple(name);
export const compareTags = (runtime: string): ((a: PrebuildTags, b: PrebuildTags) => number) => nodeGypBuild().compareTags(runtime);
export const compareTuples = (a: PrebuildDirTuple, b: PrebuildDirTuple): number => nodeGypBuild().compareTuples(a, b);

/** `linux-x64`: the prebuilds/ directory for this platform and arch. */
export function prebuildDirName(facts: Pick<RuntimeFacts, 'platform' | 'arch'>): string {
  return tupleDirName(facts);
}

/** prebuildify writes `@scope/name` as `@scope+name`. */
export function encodePackageName(name: string): string {
  return name.replace(/\//g, '+');
}

/**
 * The file name `plughost prebuild` writes: `<package>.napi[.armv<N>][.<libc>].node`.
 * Tags as prebuildify's `--napi --tag-libc` (and `--tag-armv` on 32-bit ARM),
 * with the `napi` tag kept explicit. Refuses a package name that node-gyp-build
 * would read as a tag (e.g. `uv-tools` reads as uv="-tools").
 */
export function prebuildFileName(packageName: string, facts: RuntimeFacts): string {
  const tags = ['napi'];
  if (facts.arch === 'arm' && facts.armv !== '') tags.push(`armv${facts.armv}`);
  if (facts.platform === 'linux' && facts.libc !== null) tags.push(facts.libc);
  const file = `${encodePackageName(packageName)}.${tags.join('.')}.node`;
  const parsed = parseTags(file);
  const expected = parseTags(`prebuild.${tags.join('.')}.node`);
  const read = (t: PrebuildTags | undefined): string =>
    JSON.stringify(t === undefined ? null : { ...t, file: undefined, specificity: undefined });
  if (read(parsed) !== read(expected)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `the package name "${packageName}" reads as a prebuild tag`, {
      expected: `tags ${tags.join(', ')} only`,
      found: `node-gyp-build reads ${file} as ${describeTags(parsed)}`,
      hint: 'Rename the package so no dot-separated part of it starts with abi, uv or armv, or equals node, electron, node-webkit, napi, glibc or musl',
    });
  }
  return file;
}

export function describeTags(tags: PrebuildTags | undefined): string {
  if (tags === undefined) return 'no tags (not a .node file)';
  const parts: string[] = [];
  if (tags.runtime !== undefined) parts.push(`runtime ${tags.runtime}`);
  if (tags.napi) parts.push('napi');
  if (tags.abi !== undefined) parts.push(`abi${tags.abi}`);
  if (tags.uv !== undefined) parts.push(`uv${tags.uv}`);
  if (tags.armv !== undefined) parts.push(`armv${tags.armv}`);
  if (tags.libc !== undefined) parts.push(tags.libc);
  return parts.length === 0 ? 'no tags' : parts.join(', ');
}
