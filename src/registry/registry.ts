// Plugins by name, from a manifest: verified against every pin before any
// plugin code runs, loaded lazily, loaded once.
import { performance } from 'node:perf_hooks';

import { PluginIntegrityError, PlughostUsageError } from '../errors.js';
import type { DynamicPlugin, DynamicPluginOptions } from '../dynamic/dynamic-plugin.js';
import { isolatedNativeOptions } from '../isolate/options.js';
import { summarizeEntry, type EntrySummary } from '../manifest/listing.js';
import { sealedExecutable } from '../platform/sealed-executable.js';
import { launchCommand } from '../manifest/launch.js';
import type { LoadedManifest } from '../manifest/load.js';
import type { DynamicEntry, NativeEntry, PluginEntry, RunOptions } from '../manifest/schema.js';
import { verifyEntry } from '../manifest/verify-entry.js';
import type { NativePlugin } from '../native/plugin.js';
import { fromDynamic, fromNative, type Plugin } from './plugin.js';

export interface RegistryLoaders {
  loadNative(file: string, options: { sha256: string; buildId?: string }): NativePlugin;
  /** Starts a subprocess plugin without recording its load (the registry records the outcome). */
  loadDynamic(options: DynamicPluginOptions, kind: 'native' | 'dynamic'): Promise<DynamicPlugin>;
  /** Stops a started plugin the registry refused, and forgets it. */
  discard(plugin: DynamicPlugin): Promise<void>;
  recordLoad(name: string, kind: 'native' | 'dynamic', status: 'loaded' | 'refused' | 'failed', seconds: number): void;
  /** When set, native plugins' portable calls go through these timed wrappers. */
  instrument?: ((plugin: NativePlugin) => Readonly<Record<string, (...args: any[]) => any>>) | undefined;
}

export interface LoadOptions {
  /** Run a native plugin in a subprocess (or in-process with false), whatever its manifest says. */
  readonly isolate?: boolean;
}

export interface PluginListing extends EntrySummary {
  /** A native plugin the manifest runs in a subprocess. */
  readonly isolate: boolean;
  readonly loaded: boolean;
}

export class Registry {
  readonly #source: LoadedManifest;
  readonly #loaders: RegistryLoaders;
  readonly #loading = new Map<string, Promise<Plugin>>();

  constructor(source: LoadedManifest, loaders: RegistryLoaders) {
    this.#source = source;
    this.#loaders = loaders;
  }

  get buildId(): string {
    return this.#source.manifest.buildId;
  }

  list(): PluginListing[] {
    return this.#source.manifest.plugins.map((e) => ({
      ...summarizeEntry(e),
      isolate: e.kind === 'native' && e.isolate === true,
      loaded: [...this.#loading.keys()].some((k) => k.startsWith(`${e.name}\0`)),
    }));
  }

  async load(name: string, options: LoadOptions = {}): Promise<Plugin> {
    const entry = this.#entry(name);
    const isolate = entry.kind === 'native' && (options.isolate ?? entry.isolate ?? false);
    const key = `${name}\0${isolate}`;
    let loading = this.#loading.get(key);
    if (loading === undefined) {
      loading = this.#load(entry, isolate);
      this.#loading.set(key, loading);
      // A failed start may succeed later (a dynamic plugin's dependency came up): do not cache failures.
      loading.catch(() => this.#loading.delete(key));
    }
    return loading;
  }

  #entry(name: string): PluginEntry {
    const entry = this.#source.manifest.plugins.find((p) => p.name === name);
    if (entry === undefined) {
      throw new PlughostUsageError('PLUGHOST_UNKNOWN_PLUGIN', `no plugin "${name}" in the manifest`, {
        file: this.#source.file,
        expected: `one of ${this.#source.manifest.plugins.map((p) => p.name).join(', ') || '(none)'}`,
        found: name,
      });
    }
    return entry;
  }

  async #load(entry: PluginEntry, isolate: boolean): Promise<Plugin> {
    const { manifest, dir } = this.#source;
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    // Every pin, before any plugin code runs.
    let file: string;
    try {
      file = verifyEntry(manifest, entry, dir).file;
    } catch (err) {
      this.#loaders.recordLoad(entry.name, entry.kind, 'refused', seconds());
      throw err;
    }
    if (entry.kind === 'native' && !isolate) {
      // Records its own outcome (the host's native load events).
      // A plugin package is its own release: the build ID it was pinned with.
      const native = this.#loaders.loadNative(file, { sha256: entry.sha256, ...(entry.package === undefined ? {} : { buildId: entry.buildId }) });
      const plugin = fromNative(native, this.#loaders.instrument?.(native));
      checkMethods(entry, plugin.methods, file);
      return plugin;
    }
    let dynamic: DynamicPlugin;
    try {
      const options = entry.kind === 'native' ? this.#isolated(entry, file) : this.#dynamic(entry, file);
      dynamic = await this.#loaders.loadDynamic(options, entry.kind);
    } catch (err) {
      this.#loaders.recordLoad(entry.name, entry.kind, 'failed', seconds());
      throw err;
    }
    const plugin = fromDynamic(dynamic, entry.kind === 'native', entry.name);
    try {
      // A deploy that changed under the load is refused (an interpreted
      // plugin's afterStart caught a swap already; an executable ran its
      // private copy, but the deploy no longer matches the manifest).
      if (entry.kind === 'dynamic') verifyEntry(manifest, entry, dir);
      checkMethods(entry, plugin.methods, file);
    } catch (err) {
      this.#loaders.recordLoad(entry.name, entry.kind, 'refused', seconds());
      await this.#loaders.discard(dynamic);
      throw err;
    }
    this.#loaders.recordLoad(entry.name, entry.kind, 'loaded', seconds());
    return plugin;
  }

  #isolated(entry: NativeEntry, file: string): DynamicPluginOptions {
    const { manifest, dir } = this.#source;
    return {
      ...isolatedNativeOptions(file, { name: entry.name, buildId: entry.buildId, sha256: entry.sha256, ...runOptions(entry.options) }),
      // Every restart re-checks the pins first (the runner then verifies the bytes it loads itself).
      beforeStart: () => void verifyEntry(manifest, entry, dir),
    };
  }

  /**
   * An executable entry (`{path}` is the program) starts from a private copy
   * of the bytes that matched its pin, renewed before every start; an
   * interpreted one (`node {path}`) is read by its interpreter by path, so
   * its pins are checked before each start and again once it is up.
   */
  #dynamic(entry: DynamicEntry, file: string): DynamicPluginOptions {
    const { manifest, dir } = this.#source;
    const options = runOptions(entry.options);
    const executable = entry.command[0] === '{path}' ? sealedExecutable(file) : undefined;
    const { command, env } = launchCommand(entry.command, file, dir, options.env);
    const argv = executable === undefined ? command : [executable.path, ...command.slice(1)];
    return {
      name: entry.name,
      command: argv,
      cwd: dir,
      cookie: entry.cookie,
      ...options,
      ...(env ? { env } : {}),
      beforeStart: () => {
        const checked = verifyEntry(manifest, entry, dir);
        if (executable !== undefined && checked.bytes !== undefined) executable.write(checked.bytes);
      },
      afterClose: executable === undefined ? undefined : () => executable.dispose(),
      // An interpreter opened the files by path after beforeStart checked them:
      // a file swapped in between is caught before the instance takes a call,
      // on every start (restarts and reloads too).
      afterStart: executable === undefined ? () => void verifyEntry(manifest, entry, dir) : undefined,
    };
  }
}

function runOptions(options: RunOptions | undefined): Partial<DynamicPluginOptions> {
  if (options === undefined) return {};
  const { env, ...rest } = options;
  return { ...rest, ...(env === undefined ? {} : { env }) };
}

/** The manifest's method list is a pin too: the plugin must serve exactly those. */
function checkMethods(entry: PluginEntry, served: readonly string[], file: string): void {
  const want = [...entry.methods].sort().join(', ');
  const have = [...served].sort().join(', ');
  if (want !== have) {
    throw new PluginIntegrityError('PLUGHOST_MANIFEST_MISMATCH', `plugin "${entry.name}": methods do not match the manifest`, {
      file,
      expected: `${want || '(none)'} (manifest)`,
      found: `${have || '(none)'} (plugin)`,
      hint: 'Rebuild the manifest (plughost build) from the plugins you deploy',
    });
  }
}
