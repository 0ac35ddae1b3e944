// The host: one object that loads plugins against one release's expectations.
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { PluginUnavailableError, PlughostError, PlughostUsageError, type ErrorCode } from './errors.js';
import { loadNativeModule } from './native/load.js';
import { createNativePlugin, type MethodTable, type NativePlugin } from './native/plugin.js';
import { DynamicPlugin, type DynamicPluginOptions } from './dynamic/dynamic-plugin.js';
import { HostServiceTable, type HostServices } from './dynamic/host-services.js';
import { RemotePlugin, type RemotePluginOptions } from './remote/remote-plugin.js';
import { toLogger, type LoggerLike } from './logger.js';
import { expectedBy, resolveRelease } from './release/release.js';
import { HostMetrics } from './metrics/host-metrics.js';
import { instrumentNative } from './metrics/instrument-native.js';
import type { DynamicPluginObserver } from './dynamic/dynamic-plugin.js';
import type { Plugin } from './registry/plugin.js';
import { Registry, type LoadOptions, type PluginListing } from './registry/registry.js';
import { resolvePluginPackage, type PrebuildResolution, type ResolvePluginPackageOptions } from './prebuild/resolve.js';

export interface HostOptions {
  /**
   * The build ID every plugin built with this release must carry. Default:
   * the app's (the manifest's, else $PLUGHOST_BUILD_ID, else what `plughost
   * build` stamps in this app: `<version>+g<commit>`). docs/deploying.md.
   */
  readonly buildId?: string;
  /**
   * Where host events and plugin logs go: a plughost Logger, or a pino,
   * bunyan, winston or console-style object (default: JSON lines on stderr,
   * level from $PLUGHOST_LOG_LEVEL or info).
   */
  readonly logger?: LoggerLike;
  /**
   * A manifest.json (or a directory holding one): plugins by name with
   * host.load(name), every pin verified at load. Its build ID is the host's.
   * Default: the app's own manifest.json (beside the package.json above the
   * working directory), when there is one and no `buildId` is given; false:
   * none.
   */
  readonly manifest?: string | false;
  /**
   * Time and count calls of native plugins' portable methods (plugin.call /
   * batch) in the metrics. Off by default: it costs ~71 ns per call (measured,
   * docs/metrics.md). Dynamic calls are always counted.
   */
  readonly instrumentNative?: boolean;
  /**
   * Services every dynamic plugin of this host may call back (host calls from
   * plughost SDK plugins; GRPCBroker services for go-plugin plugins), by name.
   * A plugin's own `services` add to these. docs/dynamic-plugins.md.
   */
  readonly services?: HostServices;
}

export interface LoadNativeOptions {
  /** Refuse the file unless its SHA-256 (hex) equals this. */
  readonly sha256?: string;
  /**
   * The build ID the file must carry instead of the host's; null: any (an
   * independently published plugin package, whose plugin API and Node-API
   * versions are still checked; pin it with `sha256`).
   */
  readonly buildId?: string | null;
}

export interface LoadPackageOptions extends ResolvePluginPackageOptions {
  /** Refuse the prebuild unless its SHA-256 (hex) equals this (what the app's manifest pins). */
  readonly sha256?: string;
}

/** A plugin package's prebuild, loaded, and which file was picked and why. */
export interface PackageLoad<M extends MethodTable = MethodTable> {
  readonly plugin: NativePlugin<M>;
  readonly resolution: PrebuildResolution;
}

export type LoadStatus = 'loaded' | 'cached' | 'refused' | 'failed';

export interface LoadEvent {
  readonly file: string;
  readonly plugin: string | undefined;
  readonly status: LoadStatus;
  readonly code: string | undefined;
  readonly totalMs: number;
  readonly verifyMs: number | undefined;
  readonly dlopenMs: number | undefined;
  readonly at: number;
}

export interface HostStats {
  readonly loads: Readonly<Record<LoadStatus, number>>;
  /** The most recent load attempts, oldest first (at most 1000). */
  readonly events: readonly LoadEvent[];
}

export interface Host {
  readonly buildId: string;
  /** Verifies, then loads, a native plugin; the same file (by inode) always yields the same plugin. */
  loadNative<M extends MethodTable = MethodTable>(file: string, options?: LoadNativeOptions): NativePlugin<M>;
  /**
   * An installed plugin package's prebuild for this machine, through
   * loadNative: every pre-load check but the build ID (a package is its own
   * release; its plugin API and Node-API versions are checked), and the
   * optional SHA-256 pin. docs/prebuilds.md.
   */
  loadPackage<M extends MethodTable = MethodTable>(packageName: string, options?: LoadPackageOptions): PackageLoad<M>;
  /** A plugin from the manifest by name, verified against every pin, loaded once (lazily). */
  load(name: string, options?: LoadOptions): Promise<Plugin>;
  /** Loads the named plugins now (default: all in the manifest), so first calls pay no start-up. */
  warmUp(names?: readonly string[]): Promise<Plugin[]>;
  /** The manifest's plugins (empty without a manifest). */
  list(): PluginListing[];
  /** Starts a dynamic (subprocess, gRPC) plugin and resolves once every instance is healthy and described. */
  loadDynamic(options: DynamicPluginOptions): Promise<DynamicPlugin>;
  /**
   * Connects to plugin servers already running elsewhere (no spawn): mutual
   * TLS, health checks, round-robin over healthy endpoints, retries of
   * idempotent calls. Resolves once one endpoint is healthy and described.
   * docs/remote-plugins.md.
   */
  connect(options: RemotePluginOptions): Promise<RemotePlugin>;
  /** Native plugins this host has loaded, in load order. */
  plugins(): readonly NativePlugin[];
  /** This host's metrics (prom-client registry in `.registry`; `.serve()` exposes /metrics over HTTP). */
  metrics(): HostMetrics;
  /** Timed wrappers around a native plugin's functions, recorded in this host's metrics (~71 ns per call). */
  instrument<M extends MethodTable>(plugin: NativePlugin<M>): Readonly<M>;
  /** Dynamic plugins this host has started and not closed. */
  dynamicPlugins(): readonly DynamicPlugin[];
  stats(): HostStats;
  /** Stops every dynamic plugin (Shutdown, then signals). Native plugins stay loaded: a process cannot unload them. */
  close(): Promise<void>;
}

const MAX_EVENTS = 1000;
// Codes raised after plugin code started to run; the rest are refusals before it.
const LOAD_FAILURES: ReadonlySet<string> = new Set<ErrorCode>([
  'PLUGHOST_DLOPEN_FAILED',
  'PLUGHOST_INIT_FAILED',
  'PLUGHOST_DESCRIPTOR_MISMATCH',
]);

export function createHost(options: HostOptions = {}): Host {
  const release = resolveRelease({ buildId: options.buildId, manifest: options.manifest });
  const source = release.manifest;
  const buildId = release.buildId;
  const logger = toLogger(options.logger);
  const hostServices = new HostServiceTable(options.services ?? {});
  const metrics = new HostMetrics();
  const byKey = new Map<string, NativePlugin>();
  const dynamic = new Set<DynamicPlugin>();
  const remote = new Set<RemotePlugin>();
  const loading = new Set<Promise<DynamicPlugin>>();
  // Metrics are labelled with the name the plugin was loaded under (the manifest's).
  const metricNames = new WeakMap<DynamicPlugin, string>();
  let closed = false;
  const counts: Record<LoadStatus, number> = { loaded: 0, cached: 0, refused: 0, failed: 0 };
  const events: LoadEvent[] = [];

  const record = (event: Omit<LoadEvent, 'at'>): void => {
    counts[event.status]++;
    const name = event.plugin ?? pathName(event.file);
    metrics.recordLoad(name, 'native', event.status, event.totalMs / 1000);
    if (event.status === 'loaded' || event.status === 'cached') metrics.setUp(name, 'native', true);
    events.push({ ...event, at: Date.now() });
    if (events.length > MAX_EVENTS) events.shift();
  };

  /** Starts a subprocess plugin (dynamic, or an isolated native one), tracked for metrics and close(). */
  async function startDynamic(opts: DynamicPluginOptions, kind: 'native' | 'dynamic', recordLoad: boolean): Promise<DynamicPlugin> {
    if (closed) throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `host is closed; cannot start "${opts.name}"`);
    const t0 = performance.now();
    const observer = combineObservers(metrics.dynamicObserver(opts.name, kind), opts.observer);
    const starting = DynamicPlugin.start({ ...opts, observer }, logger, hostServices);
    loading.add(starting);
    try {
      const plugin = await starting;
      if (closed) {
        // The host closed while this plugin started: it must not outlive it.
        await plugin.close();
        throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `host closed while "${opts.name}" was starting`);
      }
      if (recordLoad) metrics.recordLoad(opts.name, kind, 'loaded', (performance.now() - t0) / 1000);
      metrics.trackInflight(opts.name, () => plugin.inFlight);
      metricNames.set(plugin, opts.name);
      dynamic.add(plugin);
      return plugin;
    } catch (err) {
      if (recordLoad && !(err instanceof PluginUnavailableError)) metrics.recordLoad(opts.name, kind, 'failed', (performance.now() - t0) / 1000);
      throw err;
    } finally {
      loading.delete(starting);
    }
  }

  const noManifest = (): PlughostUsageError =>
    new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'this host has no manifest', { hint: 'createHost({ manifest: "path/to/manifest.json" })' });

  const host: Host = {
    buildId,
    load(name, loadOptions) {
      if (registry === undefined) return Promise.reject(noManifest());
      return registry.load(name, loadOptions);
    },
    warmUp(names) {
      if (registry === undefined) return Promise.reject(noManifest());
      return Promise.all((names ?? registry.list().map((p) => p.name)).map((n) => registry!.load(n)));
    },
    list: () => registry?.list() ?? [],
    loadNative<M extends MethodTable = MethodTable>(file: string, opts: LoadNativeOptions = {}): NativePlugin<M> {
      if (typeof file !== 'string' || file === '') {
        throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'loadNative needs a file path', {
          found: String(file),
        });
      }
      const absolute = path.resolve(file);
      const started = performance.now();
      try {
        const expected = opts.buildId === undefined ? buildId : opts.buildId;
        const { module, cached } = loadNativeModule(absolute, {
          buildId: expected,
          buildIdOrigin: opts.buildId === undefined ? expectedBy(release) : 'loadNative option',
          sha256: opts.sha256,
        });
        let plugin = byKey.get(module.key);
        if (plugin === undefined) {
          plugin = createNativePlugin(module);
          byKey.set(module.key, plugin);
        }
        record({
          file: absolute,
          plugin: plugin.name,
          status: cached ? 'cached' : 'loaded',
          code: undefined,
          totalMs: cached ? performance.now() - started : module.timings.totalMs,
          verifyMs: cached ? undefined : module.timings.verifyMs,
          dlopenMs: cached ? undefined : module.timings.dlopenMs,
        });
        return plugin as NativePlugin<M>;
      } catch (err) {
        const code = err instanceof PlughostError ? err.code : undefined;
        record({
          file: absolute,
          plugin: undefined,
          status: code !== undefined && !LOAD_FAILURES.has(code) ? 'refused' : 'failed',
          code,
          totalMs: performance.now() - started,
          verifyMs: undefined,
          dlopenMs: undefined,
        });
        throw err;
      }
    },
    loadPackage<M extends MethodTable = MethodTable>(packageName: string, opts: LoadPackageOptions = {}): PackageLoad<M> {
      const resolution = resolvePluginPackage(packageName, { paths: opts.paths, env: opts.env });
      const plugin = host.loadNative<M>(resolution.file, { buildId: null, ...(opts.sha256 === undefined ? {} : { sha256: opts.sha256 }) });
      return { plugin, resolution };
    },
    loadDynamic: (opts: DynamicPluginOptions) => startDynamic(opts, 'dynamic', true),
    async connect(opts: RemotePluginOptions): Promise<RemotePlugin> {
      if (closed) throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', 'this host is closed');
      const t0 = performance.now();
      const name = typeof opts?.name === 'string' ? opts.name : '';
      try {
        const plugin = await RemotePlugin.connect({ ...opts, observer: combineObservers(metrics.dynamicObserver(name, 'remote'), opts.observer) }, logger, hostServices);
        if (closed) {
          await plugin.close();
          throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `host closed while connecting to "${name}"`);
        }
        metrics.recordLoad(name, 'remote', 'loaded', (performance.now() - t0) / 1000);
        remote.add(plugin);
        return plugin;
      } catch (err) {
        metrics.recordLoad(name, 'remote', err instanceof PlughostUsageError ? 'refused' : 'failed', (performance.now() - t0) / 1000);
        throw err;
      }
    },
    plugins: () => [...byKey.values()],
    metrics: () => metrics,
    instrument: (plugin) => instrumentNative(plugin, metrics.recorder(plugin.name)),
    dynamicPlugins: () => [...dynamic],
    stats: () => ({ loads: { ...counts }, events: [...events] }),
    async close(): Promise<void> {
      closed = true;
      const all = [...dynamic];
      dynamic.clear();
      const remotes = [...remote];
      remote.clear();
      await Promise.all(remotes.map((p) => p.close()));
      for (const p of all) metrics.untrack(metricNames.get(p) ?? p.name);
      await Promise.all([...all.map((p) => p.close()), ...[...loading].map((l) => l.then((p) => p.close(), () => undefined))]);
    },
  };
  const registry =
    source === undefined
      ? undefined
      : new Registry(source, {
          loadNative: (file, o) => host.loadNative(file, o),
          loadDynamic: (o, kind) => startDynamic(o, kind, false),
          discard: async (plugin) => {
            dynamic.delete(plugin);
            metrics.untrack(metricNames.get(plugin) ?? plugin.name);
            await plugin.close();
          },
          recordLoad: (name, kind, status, seconds) => metrics.recordLoad(name, kind, status, seconds),
          instrument: options.instrumentNative === true ? (plugin) => host.instrument(plugin) : undefined,
        });
  return host;
}

function pathName(file: string): string {
  return path.basename(file).replace(/\.node$/, '');
}

function combineObservers(a: DynamicPluginObserver, b: DynamicPluginObserver | undefined): DynamicPluginObserver {
  if (b === undefined) return a;
  return {
    onCall: (method, status, seconds) => {
      a.onCall?.(method, status, seconds);
      b.onCall?.(method, status, seconds);
    },
    onHostCall: (service, status, seconds) => {
      a.onHostCall?.(service, status, seconds);
      b.onHostCall?.(service, status, seconds);
    },
    onRestart: () => {
      a.onRestart?.();
      b.onRestart?.();
    },
    onUp: (up) => {
      a.onUp?.(up);
      b.onUp?.(up);
    },
  };
}
