// The manifest.json contract (docs/manifest.md, schema/manifest.schema.json
// generated from this file). Validated with zod so every error names a path.
import { z } from 'zod';

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name of 1-63 characters from [A-Za-z0-9._-]');
const buildId = z.string().regex(/^[A-Za-z0-9._+-]{1,63}$/, 'a build ID of 1-63 characters from [A-Za-z0-9._+-]');
const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'a path relative to the manifest, inside its directory');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256');

export const RestartPolicySchema = z
  .object({
    maxRestarts: z.number().int().min(0).optional(),
    windowMs: z.number().int().positive().optional(),
    initialBackoffMs: z.number().int().min(0).optional(),
    maxBackoffMs: z.number().int().min(0).optional(),
  })
  .strict();

/** How a plugin runs: used by dynamic and isolated native plugins. */
export const RunOptionsSchema = z
  .object({
    pool: z.number().int().min(1).max(64).optional(),
    handshakeTimeoutMs: z.number().int().positive().optional(),
    rpcTimeoutMs: z.number().int().positive().optional(),
    callTimeoutMs: z.number().int().positive().optional(),
    maxMessageBytes: z.number().int().min(1024).optional(),
    microBatch: z.union([z.literal(false), z.object({ maxBatch: z.number().int().min(1) }).strict()]).optional(),
    restart: RestartPolicySchema.optional(),
    /** Variables set for the plugin, on top of what it may see of the host's. */
    env: z
      .record(z.string(), z.string())
      .describe("Environment variables set for the plugin, on top of what it may see of the host's environment.")
      .optional(),
    /** More host environment variables the plugin may see, besides the minimal set (docs/dynamic-plugins.md). */
    envAllow: z
      .array(z.string().min(1))
      .describe(
        'More host environment variables the plugin may see, by name (a trailing * matches a prefix). By default a plugin sees only PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR (and on Windows SYSTEMROOT, WINDIR, COMSPEC, PATHEXT, TEMP, TMP, USERPROFILE); the rest, e.g. secrets, stays out.',
      )
      .optional(),
    /** true: the host's whole environment (an explicit opt-in); false: none of it. */
    inheritEnv: z
      .boolean()
      .describe("true: the plugin sees the host's whole environment (secrets included; an explicit opt-in). false: none of it, not even the minimal set. Default: the minimal set plus envAllow.")
      .optional(),
    limits: z
      .object({
        memoryBytes: z.number().int().positive().optional(),
        cpuSeconds: z.number().positive().optional(),
        openFiles: z.number().int().min(3).optional(),
        coreDumps: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const common = {
  name,
  version: z.string().min(1).max(31),
  /** The plugin file (native: the .node; dynamic: its entry file), relative to the manifest. */
  path: relativePath,
  sha256,
  methods: z.array(z.string().min(1)),
  options: RunOptionsSchema.optional(),
};

export const NativeEntrySchema = z
  .object({
    ...common,
    /** Either `path`, or `package`: an installed npm package whose prebuild for this machine is the file. */
    path: relativePath.optional(),
    package: z.string().min(1).max(214).optional(),
    /** With `package`: the installed package's version (its package.json), pinned. */
    packageVersion: z.string().min(1).max(64).optional(),
    kind: z.literal('native'),
    buildId,
    platform: z.enum(['linux', 'darwin']),
    arch: z.string().min(1),
    /** glibc or musl on Linux; null on macOS. */
    libc: z.enum(['glibc', 'musl']).nullable(),
    apiVersion: z.string().regex(/^\d+\.\d+$/, 'major.minor'),
    napiVersion: z.number().int().min(1),
    /** Run in a subprocess (crash-contained) instead of in-process. */
    isolate: z.boolean().optional(),
  })
  .strict()
  .refine((e) => (e.path === undefined) !== (e.package === undefined), {
    message: 'a native plugin names its file with exactly one of "path" or "package"',
    path: ['path'],
  })
  .refine((e) => (e.package === undefined) === (e.packageVersion === undefined), {
    message: 'a plugin from an npm package pins its version: "package" and "packageVersion" go together',
    path: ['packageVersion'],
  });

/** Another file a dynamic plugin runs (a module it imports, its package.json), pinned like its entry. */
const PinnedFileSchema = z.object({ path: relativePath, sha256 }).strict();

export const DynamicEntrySchema = z
  .object({
    ...common,
    kind: z.literal('dynamic'),
    /** argv; "{path}" is the absolute entry file, "{dir}" the manifest's directory; "node" is the host's Node. */
    command: z
      .array(z.string().min(1))
      .min(1)
      .refine((argv) => argv.some((a) => a.includes('{path}')), 'must run the pinned file: include "{path}"'),
    /** go-plugin handshake cookie, for plugins not written with plughost's SDKs. */
    cookie: z.object({ key: z.string().min(1), value: z.string() }).strict().optional(),
    /** Every other file the plugin needs, relative to the manifest, each pinned; bundled with it. */
    files: z.array(PinnedFileSchema).optional(),
  })
  .strict();

export const PluginEntrySchema = z.discriminatedUnion('kind', [NativeEntrySchema, DynamicEntrySchema]);

export const ManifestSchema = z
  .object({
    $schema: z.string().optional(),
    schemaVersion: z.literal(1),
    /** The release build ID: the host and every native plugin carry it. */
    buildId,
    plugins: z.array(PluginEntrySchema),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.plugins.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['plugins', i, 'name'], message: `duplicate plugin name "${p.name}"` });
      seen.add(p.name);
      // Plugins built with the release are in lockstep with it; an independently
      // published package carries its own build ID, pinned here with its SHA-256.
      if (p.kind === 'native' && p.package === undefined && p.buildId !== m.buildId) {
        ctx.addIssue({ code: 'custom', path: ['plugins', i, 'buildId'], message: `native plugin build ID "${p.buildId}" differs from the release's "${m.buildId}"` });
      }
    });
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type PluginEntry = z.infer<typeof PluginEntrySchema>;
export type NativeEntry = z.infer<typeof NativeEntrySchema>;
export type DynamicEntry = z.infer<typeof DynamicEntrySchema>;
export type RunOptions = z.infer<typeof RunOptionsSchema>;
export type PinnedFile = z.infer<typeof PinnedFileSchema>;

export const MANIFEST_FILE = 'manifest.json';
