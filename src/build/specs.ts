// What a project builds: package.json "plughost.plugins", validated, with
// plugin projects inside an app ({ "project": "dir" }) expanded so that every
// path is relative to the app and every plugin gets the app's build ID.
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { PlughostUsageError } from '../errors.js';
import { RunOptionsSchema, type RunOptions } from '../manifest/schema.js';

export type Builder = 'node-gyp' | 'cmake-js';

interface SpecBase {
  readonly name: string;
  readonly options?: RunOptions | undefined;
  /** The plugin project it was declared in, relative to the app ('' for the app itself). */
  readonly project: string;
}

/** A native plugin compiled by this build. */
export interface NativeBuildSpec extends SpecBase {
  readonly kind: 'native';
  readonly builder: Builder;
  /** Directory holding binding.gyp or CMakeLists.txt, relative to the app. */
  readonly dir: string;
  /** The built `.node`, relative to the app. */
  readonly output: string;
  /** Used when node-gyp cannot find Node headers without a download. */
  readonly fallback?: { readonly builder: Builder; readonly dir: string; readonly output: string } | undefined;
  readonly isolate?: boolean | undefined;
}

/** A native plugin installed from npm: an independently published package with prebuilds. */
export interface PackageSpec extends SpecBase {
  readonly kind: 'package';
  readonly package: string;
  readonly isolate?: boolean | undefined;
}

/** A subprocess plugin: nothing of ours to compile, but pinned into the manifest. */
export interface DynamicBuildSpec extends SpecBase {
  readonly kind: 'dynamic';
  /** The entry file, relative to the app. */
  readonly path: string;
  readonly command: readonly string[];
  readonly cookie?: { readonly key: string; readonly value: string } | undefined;
  /** A step to run first, in its project's directory (e.g. ["tsc", "-p", "tsconfig.json"]). */
  readonly build?: readonly string[] | undefined;
  /** Other files it runs (files or directories, relative to the app); default: what npm would pack of its project. */
  readonly files?: readonly string[] | undefined;
}

export type BuildSpec = NativeBuildSpec | PackageSpec | DynamicBuildSpec;

const inside = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), 'a relative path inside the project');
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name of 1-63 characters from [A-Za-z0-9._-]');
const builder = z.enum(['node-gyp', 'cmake-js']);

const NativeRaw = z
  .object({
    name,
    kind: z.literal('native').optional(),
    builder,
    dir: inside,
    output: inside,
    fallback: z.object({ builder, dir: inside, output: inside }).strict().optional(),
    isolate: z.boolean().optional(),
    options: RunOptionsSchema.optional(),
  })
  .strict();
const PackageRaw = z
  .object({
    name,
    kind: z.literal('native').optional(),
    package: z.string().min(1).max(214),
    isolate: z.boolean().optional(),
    options: RunOptionsSchema.optional(),
  })
  .strict();
const DynamicRaw = z
  .object({
    name,
    kind: z.literal('dynamic'),
    path: inside,
    command: z
      .array(z.string().min(1))
      .min(1)
      .refine((argv) => argv.some((a) => a.includes('{path}')), 'must run the pinned file: include "{path}"'),
    cookie: z.object({ key: z.string().min(1), value: z.string() }).strict().optional(),
    build: z.array(z.string().min(1)).min(1).optional(),
    files: z.array(inside).optional(),
    options: RunOptionsSchema.optional(),
  })
  .strict();
const ProjectRaw = z.object({ project: inside }).strict();

const ENTRY_SHAPE = '{ "name", "builder", "dir", "output" }, { "name", "package" }, { "name", "kind": "dynamic", "path", "command" } or { "project": "dir" }';

/** The project's plugins, every path relative to `projectDir`. */
export function readBuildSpecs(projectDir: string): BuildSpec[] {
  const specs = readList(projectDir, '', true);
  const seen = new Map<string, string>();
  for (const spec of specs) {
    const other = seen.get(spec.name);
    if (other !== undefined) {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `two plugins are named "${spec.name}"`, {
        file: path.join(projectDir, 'package.json'),
        found: `in ${other || 'the app'} and in ${spec.project || 'the app'}`,
        hint: 'Plugin names are unique in a release: rename one',
      });
    }
    seen.set(spec.name, spec.project);
  }
  return specs;
}

function readList(appDir: string, project: string, allowProjects: boolean): BuildSpec[] {
  const file = path.join(appDir, project, 'package.json');
  let pkg: { plughost?: { plugins?: unknown } };
  try {
    pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', missing ? 'no package.json: not a project directory' : `package.json is not valid JSON: ${(err as Error).message}`, {
      file,
      hint: missing ? 'Run it in your app (or plugin project), or pass --dir' : undefined,
      cause: err,
    });
  }
  const list = pkg?.plughost?.plugins;
  if (!Array.isArray(list)) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'package.json has no "plughost.plugins" list', {
      file,
      expected: `"plughost": { "plugins": [${ENTRY_SHAPE}] }`,
      hint: 'See docs/getting-started.md',
    });
  }
  const out: BuildSpec[] = [];
  list.forEach((raw: unknown, i: number) => {
    const where = `plughost.plugins[${i}]`;
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if ('project' in entry) {
      const ref = parse(ProjectRaw, raw, file, where);
      if (!allowProjects) {
        throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `${where}: a plugin project cannot list other projects`, {
          file,
          hint: 'List every plugin project in the app itself',
        });
      }
      out.push(...readList(appDir, posix(ref.project), false));
      return;
    }
    out.push(rebase(entry, raw, file, where, project));
  });
  return out;
}

function rebase(entry: Record<string, unknown>, raw: unknown, file: string, where: string, project: string): BuildSpec {
  const at = (p: string): string => posix(path.posix.join(project || '.', p));
  if (entry.kind === 'dynamic') {
    const d = parse(DynamicRaw, raw, file, where);
    return { ...d, kind: 'dynamic', project, path: at(d.path), files: d.files?.map(at) };
  }
  if ('package' in entry) {
    const p = parse(PackageRaw, raw, file, where);
    return { ...p, kind: 'package', project };
  }
  const n = parse(NativeRaw, raw, file, where);
  return {
    ...n,
    kind: 'native',
    project,
    dir: at(n.dir),
    output: at(n.output),
    fallback: n.fallback && { builder: n.fallback.builder, dir: at(n.fallback.dir), output: at(n.fallback.output) },
  };
}

function parse<T>(schema: z.ZodType<T>, raw: unknown, file: string, where: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `invalid plugin entry: ${issues.join('; ')}`, {
    file,
    expected: ENTRY_SHAPE,
    hint: 'See docs/getting-started.md and docs/deploying.md',
  });
}

const posix = (p: string): string => path.posix.normalize(p.split(path.sep).join('/')).replace(/\/$/, '');
