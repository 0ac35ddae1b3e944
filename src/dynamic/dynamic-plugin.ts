// A dynamic plugin as the host's user sees it: a supervised pool of plugin
// processes behind one call API, restarted on crash, reloadable without losing
// calls. This class is the facade; each job is its own module:
//   pool.ts (which instance gets a call)   supervisor.ts (restarts, crash loops)
//   reload.ts (hot reload)                 launcher.ts (starting, configuration)
//   app-services.ts (go-plugin services)   ../metrics/call-timer.ts (call timing)
import type * as protoLoader from '@grpc/proto-loader';

import { PluginCallError } from '../errors.js';
import { asBytes } from '../protocol/bytes.js';
import { childLogger, type Logger } from '../logger.js';
import { CallTimer } from '../metrics/call-timer.js';
import { ObserverReporter } from '../metrics/plugin-observer.js';
import { appService, type AppService } from './app-services.js';
import type { CallOptions, DynamicStream } from './call-channel.js';
import { withDefaultTimeout } from './call-types.js';
import { pluginCallError, pluginClosed } from './call-errors.js';
import type { MethodDescription, PluginInstance } from './instance.js';
import { configureUnsupported, Launcher } from './launcher.js';
import { instanceSpecOf, poolSizeOf, type DynamicPluginOptions } from './options.js';
import type { HostServiceTable } from './host-services.js';
import { Pool } from './pool.js';
import { Reloader, type ReloadChanges } from './reload.js';
import { restartPolicy } from './restart-policy.js';
import type { SlotState } from './slot.js';
import { Supervisor } from './supervisor.js';

export type { AppService } from './app-services.js';
export type { DynamicPluginOptions } from './options.js';
export type { RestartPolicy } from './restart-policy.js';
export type { PluginObserver as DynamicPluginObserver } from '../metrics/plugin-observer.js';

export interface DynamicPluginStats {
  readonly instances: ReadonlyArray<{ readonly pid: number | null; readonly state: SlotState; readonly inFlight: number; readonly readyMs: number | null }>;
  readonly restarts: number;
  readonly crashes: number;
}

export type BatchItem = Uint8Array | PluginCallError;

export class DynamicPlugin {
  readonly kind = 'dynamic' as const;
  readonly #launcher: Launcher;
  readonly #supervisor: Supervisor<PluginInstance>;
  readonly #pool: Pool<PluginInstance>;
  readonly #reloader: Reloader;
  readonly #timer: CallTimer;
  readonly #callTimeoutMs: number | undefined;
  readonly #afterClose: (() => void) | undefined;

  private constructor(options: DynamicPluginOptions, logger: Logger, hostServices: HostServiceTable | undefined) {
    const ownLogger = childLogger(logger, {});
    const name = (): string => this.name;
    const reporter = new ObserverReporter(options.observer, (hook, err) =>
      ownLogger.log('warn', 'plugin observer failed', { plugin: this.name, hook, error: err instanceof Error ? err.message : String(err) }),
    );
    const spec = { ...instanceSpecOf(options, logger, hostServices), onHostCall: reporter.hostCall.bind(reporter) };
    this.#callTimeoutMs = options.callTimeoutMs;
    this.#afterClose = options.afterClose;
    this.#launcher = new Launcher(spec, options.beforeStart, options.afterStart);
    this.#timer = new CallTimer(reporter);
    this.#supervisor = new Supervisor({
      policy: restartPolicy(options.restart),
      logger: ownLogger,
      name,
      start: () => this.#launcher.start(),
      reporter,
    });
    this.#pool = new Pool(this.#supervisor.slots, { name, isClosed: () => this.#supervisor.closed });
    this.#reloader = new Reloader(this.#launcher, this.#supervisor, name);
  }

  /** Starts every instance; the first start failure is thrown (no restarts at load). */
  static async start(options: DynamicPluginOptions, logger: Logger, hostServices?: HostServiceTable): Promise<DynamicPlugin> {
    const plugin = new DynamicPlugin(options, logger, hostServices);
    const supervisor = plugin.#supervisor;
    const slots = Array.from({ length: poolSizeOf(options) }, () => supervisor.addSlot());
    // Each instance is watched as soon as it is up: one that dies while its
    // siblings still start is restarted like any crash.
    const started = await Promise.allSettled(slots.map(async (slot) => supervisor.install(slot, await plugin.#launcher.start())));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await plugin.close();
      throw failed.reason;
    }
    return plugin;
  }

  get name(): string {
    return this.#supervisor.described?.description?.name || this.#launcher.spec.name;
  }

  get version(): string {
    return this.#supervisor.described?.description?.version ?? '';
  }

  /** Methods from Describe; empty for a go-plugin plugin (use appService). */
  get methods(): readonly MethodDescription[] {
    return this.#supervisor.described?.description?.methods ?? [];
  }

  get capabilities(): readonly string[] {
    return this.#supervisor.described?.description?.capabilities ?? [];
  }

  /** Time from spawn to a described, healthy plugin, for each current instance. */
  get readyMs(): number[] {
    return this.#supervisor.slots.map((s) => s.instance?.readyMs ?? NaN);
  }

  /** Calls in flight, summed over the current instances. */
  get inFlight(): number {
    let sum = 0;
    for (const slot of this.#supervisor.slots) sum += slot.instance?.inFlight ?? 0;
    return sum;
  }

  /** One call. Rejects with PluginCallError (the plugin's error), PluginCrashedError, PluginCallCancelledError or PluginUnavailableError. */
  call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    return this.#timer.call(method, async () => {
      const withDefaults = this.#withDefaults(options);
      const instance = this.#pool.pick();
      if (instance !== null) return instance.call(method, payload, withDefaults);
      const [waited, rest] = await this.#pool.acquire(withDefaults);
      return waited.call(method, payload, rest);
    });
  }

  /** Many payloads in one message; each item is its result or its PluginCallError. */
  batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<BatchItem[]> {
    return this.#timer.batch(
      method,
      payloads.length,
      async () => {
        const [instance, rest] = await this.#pool.acquire(this.#withDefaults(options));
        const results = await instance.batch(method, payloads, rest);
        return results.map((r): BatchItem => (r.error ? pluginCallError(this.name, method, r.error) : asBytes(r.payload)));
      },
      (item) => (item instanceof PluginCallError ? item.code : 'ok'),
    );
  }

  /** A call of a STREAM method; `callTimeoutMs` is its default deadline, as for calls. */
  async stream(method: string, options: CallOptions = {}): Promise<DynamicStream> {
    const [instance, rest] = await this.#pool.acquire(this.#withDefaults(options));
    return instance.stream(method, rest);
  }

  /**
   * Hot configuration: every instance gets it now, and every restarted one at
   * start. PLUGHOST_CONFIGURE_UNSUPPORTED (nothing sent) for a plugin that
   * does not advertise the `configure` capability.
   */
  async configure(config: Uint8Array | object): Promise<void> {
    const described = this.#supervisor.described;
    if (described !== null && !described.configurable) throw configureUnsupported(described);
    return this.#launcher.configure(this.#pool.ready(), config);
  }

  /**
   * Hot reload: starts new instances (optionally of a new command or env),
   * sends new calls to them once ready, lets the old ones finish what they
   * have in flight, then stops them. No call is lost.
   */
  reload(changes: ReloadChanges = {}): Promise<void> {
    return this.#reloader.reload(changes);
  }

  /**
   * A client for a go-plugin plugin's own gRPC service, from your .proto:
   * `const kv = plugin.appService('kv.proto', 'kv.KV'); await kv.call('Get', { key })`.
   * Calls always go to a live instance (after a restart, the new one).
   */
  appService(protoFile: string, service: string, loaderOptions: protoLoader.Options = {}): AppService {
    return appService(protoFile, service, loaderOptions, (options) => this.#pool.acquire(options), this.#callTimeoutMs);
  }

  stats(): DynamicPluginStats {
    return {
      instances: this.#supervisor.slots.map((s) => ({
        pid: s.instance?.pid ?? null,
        state: s.state,
        inFlight: s.instance?.inFlight ?? 0,
        readyMs: s.instance?.readyMs ?? null,
      })),
      restarts: this.#supervisor.restarts,
      crashes: this.#supervisor.crashes,
    };
  }

  /** The PIDs of the current processes (for tests and operators). */
  pids(): number[] {
    return this.#supervisor.slots.flatMap((s) => (s.instance !== null && s.instance.alive ? [s.instance.pid] : []));
  }

  async close(): Promise<void> {
    if (this.#supervisor.closed) return;
    // In-flight restarts and reloads see the close and stop what they started; wait for that too.
    try {
      await Promise.all([this.#supervisor.close(pluginClosed(this.name, 'is closed')), this.#reloader.settled()]);
    } finally {
      this.#afterClose?.();
    }
  }

  #withDefaults(options: CallOptions): CallOptions {
    return withDefaultTimeout(options, this.#callTimeoutMs);
  }
}
