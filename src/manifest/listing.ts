// `plughost ls` as a function: a manifest's plugins, one summary row each.
import { readManifest } from './load.js';
import type { PluginEntry } from './schema.js';

/** What every listing of a manifest entry shows. */
export interface EntrySummary {
  readonly name: string;
  readonly kind: 'native' | 'dynamic';
  readonly version: string;
  /** The file, or `npm:<package>` for a plugin package. */
  readonly path: string;
  readonly methods: readonly string[];
}

export function summarizeEntry(e: PluginEntry): EntrySummary {
  return { name: e.name, kind: e.kind, version: e.version, path: e.path ?? `npm:${e.kind === 'native' ? e.package : ''}`, methods: e.methods };
}

export interface ManifestListing {
  readonly file: string;
  readonly buildId: string;
  readonly plugins: ReadonlyArray<EntrySummary & {
    /** Runs in its own process: every dynamic plugin, and native ones the manifest isolates. */
    readonly isolate: boolean;
    /** Native: the platform tuple it was built for. */
    readonly target?: string;
    /** Dynamic: how it is started. */
    readonly command?: readonly string[];
  }>;
}

/** `location`: a manifest.json or a directory holding one. */
export function listManifest(location: string): ManifestListing {
  const { manifest, file } = readManifest(location);
  return {
    file,
    buildId: manifest.buildId,
    plugins: manifest.plugins.map((p) => ({
      ...summarizeEntry(p),
      isolate: p.kind === 'dynamic' || p.isolate === true,
      ...(p.kind === 'native' ? { target: `${p.platform}-${p.arch}${p.libc ? `-${p.libc}` : ''}` } : { command: p.command }),
    })),
  };
}
