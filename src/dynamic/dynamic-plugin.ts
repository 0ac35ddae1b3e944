// A dynamic plugin as the host's user sees it: a supervised pool of plugin
// processes behind one call API, restarted on crash, reloadable without losing calls.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { PluginCallCancelledError, PluginCallError, PluginUnavailableError, PlughostUsageError } from '../errors.js';
import { childLogger, type Logger } from '../logger.js';
import { errorStatus } from '../metrics/status.js';
import { DEFAULT_MAX_MESSAGE_BYTES, PLUGHOST_COOKIE } from '../protocol/handshake.js';
import type { CallOptions, DynamicStream } from './call-channel.js';
import { PluginInstance, type InstanceSpec, type MethodDescription } from './instance.js';
import { describeExit, type ExitStatus } from './process.js';
import { resolveProgram } from './program.js';
import type { ResourceLimits } from './exec-helper.js';

export interface RestartPolicy {
  /** Restarts allowed within `windowMs` before the plugin is given up on. */
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface DynamicPluginOptions {
  /** A name for logs and errors (the plugin's own name comes from Describe). */
  readonly name: string;
  /** argv of the plugin program, e.g. ['node', 'plugin.js'] or ['./kv-plugin']. */
  readonly command: readonly string[];
  readonly cwd?: string;
  /** Extra environment variables for the plugin. */
  readonly env?: Readonly<Record<string, string>>;
  /** Pass the host's environment to the plugin (default true). */
  readonly inheritEnv?: boolean;
  /**
   * Only these host environment variables reach the plugin (an allow-list:
   * secrets in the host's environment stay out). `env` is added on top.
   */
  readonly envAllow?: readonly string[];
  /** Kernel-enforced limits, through plughost-exec (which also makes the plugin die with the host). */
  readonly limits?: ResourceLimits;
  /** go-plugin handshake cookie; default plughost's own (its SDKs expect it). */
  readonly cookie?: { readonly key: string; readonly value: string };
  /** App protocol versions offered in PLUGIN_PROTOCOL_VERSIONS (default [1]). */
  readonly appVersions?: readonly number[];
  /** Instances of the plugin; calls go to the least busy (default 1). */
  readonly pool?: number;
  readonly handshakeTimeoutMs?: number;
  /** Timeout of health, Describe, Configure and Shutdown RPCs (default 5000). */
  readonly rpcTimeoutMs?: number;
  /** Default deadline of every call, unless the call gives its own (default: none). */
  readonly callTimeoutMs?: number;
  readonly maxMessageBytes?: number;
  /** Calls in flight per instance; more wait in the host (default 4096). */
  readonly window?: number;
  /** Coalesce concurrent calls into batch frames, up to maxBatch each (default 256); false to disable. */
  readonly microBatch?: { readonly maxBatch: number } | false;
  readonly restart?: RestartPolicy;
  readonly shutdownGraceMs?: number;
  readonly killGraceMs?: number;
  /** After a call misses its deadline, a plugin whose health check takes longer than this is killed and restarted (default 1000). */
  readonly livenessTimeoutMs?: number;
  /**
   * Runs before every start of an instance (first start, restarts, reloads);
   * throwing refuses that start. The registry re-verifies the plugin's pinned
   * file here, so a restart never runs bytes that changed on disk.
   */
  readonly beforeStart?: () => void | Promise<void>;
  /** Told of every call, restart and up/down change (e.g. HostMetrics.dynamicObserver(name)); no timing work without one. */
  readonly observer?: DynamicPluginObserver;
}

/**
 * Hooks for metrics. onCall: every call() and every item of batch(), with
 * status 'ok' or the error's code and the duration in seconds (a batch's
 * items each get the whole batch's duration). onRestart: each successful
 * restart after a crash. onUp: the plugin became able to serve calls (an
 * instance is ready) or stopped being able to (crashed, restarting, given up
 * on, closed). A hook that throws is logged and ignored.
 */
export interface DynamicPluginObserver {
  onCall?(method: string, status: string, seconds: number): void;
  onRestart?(): void;
  onUp?(up: boolean): void;
}

export interface DynamicPluginStats {
  readonly instances: ReadonlyArray<{ readonly pid: number | null; readonly state: SlotState; readonly inFlight: number; readonly readyMs: number | null }>;
  readonly restarts: number;
  readonly crashes: number;
}

export type BatchItem = Uint8Array | PluginCallError;

type SlotState = 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';

interface Slot {
  instance: PluginInstance | null;
  state: SlotState;
  crashTimes: number[];
  failure: Error | undefined;
  /** Bumped whenever what the slot should run changes (restart, reload, close): a stale restart shuts its result down. */
  generation: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The restart attempt under way, awaited by close(). */
  restarting: Promise<void> | undefined;
  /** Callers waiting for this slot to be ready (or to give up). */
  waiters: Array<{ resolve(): void }>;
}

const DEFAULT_RESTART: Required<RestartPolicy> = { maxRestarts: 5, windowMs: 60_000, initialBackoffMs: 100, maxBackoffMs: 5_000 };

export class DynamicPlugin {
  readonly kind = 'dynamic' as const;
  readonly #slots: Slot[] = [];
  readonly #logger: Logger;
  readonly #restart: Required<RestartPolicy>;
  #spec: InstanceSpec;
  #callTimeoutMs: number | undefined;
  #config: Uint8Array | undefined;
  #restarts = 0;
  #crashes = 0;
  #closed = false;
  readonly #reloads = new Set<Promise<void>>();
  readonly #beforeStart: (() => void | Promise<void>) | undefined;
  #described: PluginInstance | null = null;
  readonly #observer: DynamicPluginObserver | undefined;
  /** What onUp last reported. */
  #up = false;

  private constructor(options: DynamicPluginOptions, logger: Logger) {
    if (!Array.isArray(options.command) || options.command.length === 0 || typeof options.command[0] !== 'string') {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `dynamic plugin "${options.name}" needs a command (argv array)`, {
        found: JSON.stringify(options.command),
      });
    }
    this.#logger = childLogger(logger, {});
    this.#restart = { ...DEFAULT_RESTART, ...options.restart };
    this.#callTimeoutMs = options.callTimeoutMs;
    this.#beforeStart = options.beforeStart;
    this.#observer = options.observer;
    // The same program rules as manifest entries: "node" is the host's Node, "python3" a Python with grpc.
    const launch = resolveProgram(options.command, options.env);
    this.#spec = {
      name: options.name,
      command: launch.command,
      cwd: options.cwd,
      env: launch.env,
      inheritEnv: options.inheritEnv,
      envAllow: options.envAllow,
      limits: options.limits,
      cookie: options.cookie ?? PLUGHOST_COOKIE,
      appVersions: options.appVersions ?? [1],
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      logger: logger,
      rpcTimeoutMs: options.rpcTimeoutMs ?? 5_000,
      window: options.window ?? 4096,
      maxBatch: options.microBatch === false ? false : (options.microBatch?.maxBatch ?? 256),
      shutdownGraceMs: options.shutdownGraceMs ?? 2_000,
      killGraceMs: options.killGraceMs ?? 2_000,
      livenessTimeoutMs: options.livenessTimeoutMs ?? 1_000,
    };
  }

  /** Starts every instance; the first start failure is thrown (no restarts at load). */
  static async start(options: DynamicPluginOptions, logger: Logger): Promise<DynamicPlugin> {
    const plugin = new DynamicPlugin(options, logger);
    const size = options.pool ?? 1;
    if (!Number.isInteger(size) || size < 1) {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `pool size of "${options.name}" must be a positive integer`, { found: String(size) });
    }
    const slots = Array.from({ length: size }, () => plugin.#newSlot());
    // Each instance is watched as soon as it is up: one that dies while its
    // siblings still start is restarted like any crash.
    const started = await Promise.allSettled(
      slots.map(async (slot) => {
        await options.beforeStart?.();
        plugin.#install(slot, await PluginInstance.start(plugin.#spec));
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await plugin.close();
      throw failed.reason;
    }
    return plugin;
  }

  get name(): string {
    return this.#described?.description?.name || this.#spec.name;
  }

  get version(): string {
    return this.#described?.description?.version ?? '';
  }

  /** Methods from Describe; empty for a go-plugin plugin (use appService). */
  get methods(): readonly MethodDescription[] {
    return this.#described?.description?.methods ?? [];
  }

  get capabilities(): readonly string[] {
    return this.#described?.description?.capabilities ?? [];
  }

  /** Time from spawn to a described, healthy plugin, for each current instance. */
  get readyMs(): number[] {
    return this.#slots.map((s) => s.instance?.readyMs ?? NaN);
  }

  /** Calls in flight, summed over the current instances. */
  get inFlight(): number {
    let sum = 0;
    for (const slot of this.#slots) sum += slot.instance?.inFlight ?? 0;
    return sum;
  }

  /** One call. Rejects with PluginCallError (the plugin's error), PluginCrashedError, PluginCallCancelledError or PluginUnavailableError. */
  call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const observer = this.#observer;
    if (observer?.onCall === undefined) return this.#call(method, payload, options);
    const started = performance.now();
    return this.#call(method, payload, options).then(
      (result) => {
        this.#notifyCall(observer, method, 'ok', started);
        return result;
      },
      (err: unknown) => {
        this.#notifyCall(observer, method, errorStatus(err), started);
        throw err;
      },
    );
  }

  async #call(method: string, payload: Uint8Array, options: CallOptions): Promise<Uint8Array> {
    const instance = this.#pick();
    if (instance !== null) return instance.call(method, payload, this.#withDefaults(options));
    const [waited, rest] = await this.#acquire(this.#withDefaults(options));
    return waited.call(method, payload, rest);
  }

  /** Many payloads in one message; each item is its result or its PluginCallError. */
  async batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<BatchItem[]> {
    const observer = this.#observer;
    if (observer?.onCall === undefined) return this.#batch(method, payloads, options);
    const started = performance.now();
    let items: BatchItem[];
    try {
      items = await this.#batch(method, payloads, options);
    } catch (err) {
      // The whole batch failed: so did each of its items.
      const status = errorStatus(err);
      for (let i = 0; i < payloads.length; i++) this.#notifyCall(observer, method, status, started);
      throw err;
    }
    for (const item of items) this.#notifyCall(observer, method, item instanceof PluginCallError ? item.code : 'ok', started);
    return items;
  }

  async #batch(method: string, payloads: readonly Uint8Array[], options: CallOptions): Promise<BatchItem[]> {
    const [instance, rest] = await this.#acquire(this.#withDefaults(options));
    const results = await instance.batch(method, payloads, rest);
    return results.map((r) =>
      r.error ? new PluginCallError(this.name, method, r.error.code ?? '', r.error.message ?? '') : (r.payload ?? new Uint8Array(0)),
    );
  }

  /** A call of a STREAM method. */
  async stream(method: string, options: CallOptions = {}): Promise<DynamicStream> {
    const [instance, rest] = await this.#acquire(options);
    return instance.stream(method, rest);
  }

  /** Hot configuration: every instance gets it now, and every restarted one at start. */
  async configure(config: Uint8Array | object): Promise<void> {
    const bytes = config instanceof Uint8Array ? config : Buffer.from(JSON.stringify(config));
    await Promise.all(this.#liveInstances().map((i) => i.configure(bytes)));
    // Kept (for restarted instances) only once the running ones accepted it.
    this.#config = bytes;
  }

  /**
   * Hot reload: starts new instances (optionally of a new command or env),
   * sends new calls to them once ready, lets the old ones finish what they
   * have in flight, then stops them. No call is lost.
   */
  async reload(changes: { command?: readonly string[]; env?: Readonly<Record<string, string>>; drainTimeoutMs?: number } = {}): Promise<void> {
    this.#checkOpen();
    const launch = changes.command === undefined ? undefined : resolveProgram(changes.command, changes.env ?? this.#spec.env);
    const spec: InstanceSpec = { ...this.#spec, command: launch?.command ?? this.#spec.command, env: launch?.env ?? changes.env ?? this.#spec.env };
    const reloading = (async () => {
      const started = await Promise.allSettled(this.#slots.map(() => this.#startConfigured(spec)));
      const fresh = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined || this.#closed) {
        // All or nothing: the old instances keep serving.
        await Promise.all(fresh.map((i) => i.shutdown()));
        if (failed !== undefined) throw failed.reason;
        throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" was closed during reload`);
      }
      this.#spec = spec;
      const old = this.#slots.map((slot, i) => {
        const previous = slot.instance;
        this.#cancelRestart(slot);
        slot.crashTimes = [];
        this.#install(slot, fresh[i]!);
        return previous;
      });
      this.#described = this.#slots[0]!.instance;
      await Promise.all(
        old.map(async (instance) => {
          if (instance === null) return;
          await instance.drain(changes.drainTimeoutMs ?? 30_000);
          await instance.shutdown();
        }),
      );
    })();
    this.#reloads.add(reloading);
    try {
      await reloading;
    } finally {
      this.#reloads.delete(reloading);
    }
  }

  /**
   * A client for a go-plugin plugin's own gRPC service, from your .proto:
   * `const kv = plugin.appService('kv.proto', 'kv.KV'); await kv.call('Get', { key })`.
   * Calls always go to a live instance (after a restart, the new one).
   */
  appService(protoFile: string, service: string, loaderOptions: protoLoader.Options = {}): AppService {
    const definition = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true, ...loaderOptions });
    const serviceDef = definition[service] as protoLoader.ServiceDefinition | undefined;
    if (serviceDef === undefined || 'format' in serviceDef) {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `no service "${service}" in ${protoFile}`, {
        found: Object.keys(definition).filter((k) => !('format' in (definition[k] as object))).join(', '),
      });
    }
    const Client = grpc.makeGenericClientConstructor(serviceDef as unknown as grpc.ServiceDefinition, service);
    const clients = new WeakMap<PluginInstance, grpc.Client>();
    const clientFor = (instance: PluginInstance): grpc.Client => {
      let client = clients.get(instance);
      if (client === undefined) {
        client = new Client(instance.connection.target, grpc.credentials.createInsecure(), { channelOverride: instance.connection.channel });
        clients.set(instance, client);
      }
      return client;
    };
    return {
      call: async <T>(method: string, request: object, options: { timeoutMs?: number } = {}): Promise<T> => {
        const [instance] = await this.#acquire({ timeoutMs: options.timeoutMs ?? this.#callTimeoutMs });
        const client = clientFor(instance) as grpc.Client & Record<string, Function>;
        if (typeof client[method] !== 'function') {
          throw new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `service ${service} has no method "${method}"`);
        }
        const timeout = options.timeoutMs ?? this.#callTimeoutMs;
        return new Promise<T>((resolve, reject) => {
          client[method]!(request, { deadline: timeout === undefined ? Infinity : Date.now() + timeout }, (err: Error | null, res: T) =>
            err ? reject(err) : resolve(res),
          );
        });
      },
      client: async () => clientFor((await this.#acquire({}))[0]),
    };
  }

  stats(): DynamicPluginStats {
    return {
      instances: this.#slots.map((s) => ({
        pid: s.instance?.pid ?? null,
        state: s.state,
        inFlight: s.instance?.inFlight ?? 0,
        readyMs: s.instance?.readyMs ?? null,
      })),
      restarts: this.#restarts,
      crashes: this.#crashes,
    };
  }

  /** The PIDs of the current processes (for tests and operators). */
  pids(): number[] {
    return this.#slots.flatMap((s) => (s.instance !== null && s.instance.alive ? [s.instance.pid] : []));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" is closed`);
    const instances = this.#slots.map((s) => s.instance);
    const restarts = this.#slots.map((s) => s.restarting);
    for (const slot of this.#slots) {
      this.#cancelRestart(slot);
      slot.state = 'closed';
      slot.failure = closed;
      this.#wake(slot);
    }
    this.#reportUp();
    // In-flight restarts and reloads see #closed and stop what they started; wait for that too.
    await Promise.all([
      ...instances.map((i) => i?.shutdown()),
      ...restarts,
      ...[...this.#reloads].map((r) => r.catch(() => undefined)),
    ]);
  }

  #notifyCall(observer: DynamicPluginObserver, method: string, status: string, started: number): void {
    try {
      observer.onCall?.(method, status, (performance.now() - started) / 1000);
    } catch (err) {
      this.#observerFailed('onCall', err);
    }
  }

  /** Tells the observer when "some instance is ready" changes. */
  #reportUp(): void {
    const observer = this.#observer;
    if (observer === undefined) return;
    const up = !this.#closed && this.#slots.some((s) => s.state === 'ready');
    if (up === this.#up) return;
    this.#up = up;
    try {
      observer.onUp?.(up);
    } catch (err) {
      this.#observerFailed('onUp', err);
    }
  }

  #observerFailed(hook: string, err: unknown): void {
    this.#logger.log('warn', 'plugin observer failed', { plugin: this.name, hook, error: err instanceof Error ? err.message : String(err) });
  }

  #withDefaults(options: CallOptions): CallOptions {
    return options.timeoutMs === undefined && this.#callTimeoutMs !== undefined ? { ...options, timeoutMs: this.#callTimeoutMs } : options;
  }

  #checkOpen(): void {
    if (this.#closed) throw new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" is closed`);
  }

  #liveInstances(): PluginInstance[] {
    return this.#slots.flatMap((s) => (s.state === 'ready' && s.instance !== null ? [s.instance] : []));
  }

  /** The ready instance with the fewest calls in flight, or null if none is ready. */
  #pick(): PluginInstance | null {
    let best: PluginInstance | null = null;
    for (const slot of this.#slots) {
      const instance = slot.instance;
      if (slot.state !== 'ready' || instance === null || !instance.alive) continue;
      if (best === null || instance.inFlight < best.inFlight) best = instance;
    }
    return best;
  }

  /**
   * A ready instance, waiting for a (re)starting one if need be, within the
   * call's deadline and signal; returns the options with the time left.
   */
  async #acquire(options: CallOptions): Promise<[PluginInstance, CallOptions]> {
    const ready = this.#pick();
    if (ready !== null) return [ready, options];
    const started = Date.now();
    const { signal, timeoutMs } = options;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', 'call aborted by its signal', { cause: signal.reason }));
      onAbort = () => reject(new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', 'call aborted by its signal', { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => reject(new PluginCallCancelledError('PLUGHOST_DEADLINE_EXCEEDED', `no instance of "${this.name}" was ready within the ${timeoutMs} ms deadline`)),
          timeoutMs,
        );
      }
    });
    try {
      const instance = await Promise.race([this.#waitForInstance(), giveUp]);
      const rest = timeoutMs === undefined ? options : { ...options, timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) };
      return [instance, rest];
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  async #waitForInstance(): Promise<PluginInstance> {
    for (;;) {
      this.#checkOpen();
      const instance = this.#pick();
      if (instance !== null) return instance;
      const waiting = this.#slots.filter((s) => s.state === 'starting' || s.state === 'restarting');
      if (waiting.length === 0) {
        throw (
          this.#slots.find((s) => s.failure !== undefined)?.failure ??
          new PluginUnavailableError('PLUGHOST_PLUGIN_UNAVAILABLE', `plugin "${this.name}" has no running instance`)
        );
      }
      await new Promise<void>((resolve) => {
        for (const slot of waiting) slot.waiters.push({ resolve });
      });
    }
  }

  #newSlot(): Slot {
    const slot: Slot = {
      instance: null,
      state: 'starting',
      crashTimes: [],
      failure: undefined,
      generation: 0,
      restartTimer: undefined,
      restarting: undefined,
      waiters: [],
    };
    this.#slots.push(slot);
    return slot;
  }

  /** Makes `instance` the slot's running instance and watches it. */
  #install(slot: Slot, instance: PluginInstance): void {
    slot.instance = instance;
    slot.state = 'ready';
    slot.failure = undefined;
    if (this.#described === null || !this.#described.alive) this.#described = instance;
    instance.onExit((status, expected) => {
      if (expected || slot.instance !== instance || this.#closed) return;
      this.#crashes++;
      this.#scheduleRestart(slot, status, instance.process.stderrTail());
      this.#reportUp();
    });
    this.#wake(slot);
    this.#reportUp();
  }

  #wake(slot: Slot): void {
    for (const waiter of slot.waiters.splice(0)) waiter.resolve();
  }

  #cancelRestart(slot: Slot): void {
    slot.generation++;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
  }

  async #startConfigured(spec: InstanceSpec = this.#spec): Promise<PluginInstance> {
    await this.#beforeStart?.();
    const instance = await PluginInstance.start(spec);
    if (this.#config !== undefined) {
      try {
        await instance.configure(this.#config);
      } catch (err) {
        await instance.shutdown();
        throw err;
      }
    }
    return instance;
  }

  #scheduleRestart(slot: Slot, status: ExitStatus, stderrTail: string[]): void {
    const now = Date.now();
    slot.crashTimes = slot.crashTimes.filter((t) => now - t < this.#restart.windowMs);
    slot.crashTimes.push(now);
    slot.instance = null;
    if (slot.crashTimes.length > this.#restart.maxRestarts) {
      slot.state = 'failed';
      slot.failure = new PluginUnavailableError(
        'PLUGHOST_PLUGIN_UNAVAILABLE',
        `plugin "${this.name}" crashed ${slot.crashTimes.length} times within ${this.#restart.windowMs} ms; not restarting it`,
        {
          expected: `at most ${this.#restart.maxRestarts} restarts per ${this.#restart.windowMs} ms`,
          found: `last: ${describeExit(status)}${stderrTail.length > 0 ? `; stderr: ${stderrTail.slice(-3).join(' | ')}` : ''}`,
          hint: 'Fix the crash, then reload the plugin or restart the host',
        },
      );
      this.#logger.log('error', 'plugin crash loop: giving up', { plugin: this.name, crashes: slot.crashTimes.length });
      this.#wake(slot);
      return;
    }
    const backoff = Math.min(this.#restart.initialBackoffMs * 2 ** (slot.crashTimes.length - 1), this.#restart.maxBackoffMs);
    slot.state = 'restarting';
    this.#logger.log('warn', 'restarting plugin', { plugin: this.name, after: describeExit(status), backoffMs: backoff });
    this.#cancelRestart(slot);
    const generation = slot.generation;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      const attempt = this.#startConfigured().then(
        async (instance) => {
          // Closed or reloaded meanwhile: this instance is not wanted.
          if (this.#closed || slot.generation !== generation) {
            await instance.shutdown();
            return;
          }
          this.#restarts++;
          this.#install(slot, instance);
          if (this.#observer?.onRestart !== undefined) {
            try {
              this.#observer.onRestart();
            } catch (err) {
              this.#observerFailed('onRestart', err);
            }
          }
        },
        (err: Error) => {
          if (this.#closed || slot.generation !== generation) return;
          this.#logger.log('error', 'plugin restart failed', { plugin: this.name, error: err.message });
          // A failed start counts as a crash of the same loop.
          this.#scheduleRestart(slot, { code: null, signal: null }, [err.message]);
        },
      );
      const tracked: Promise<void> = attempt.finally(() => {
        if (slot.restarting === tracked) slot.restarting = undefined;
      });
      slot.restarting = tracked;
    }, backoff);
  }
}

export interface AppService {
  /** A unary method of the service, by name. */
  call<T = unknown>(method: string, request: object, options?: { timeoutMs?: number }): Promise<T>;
  /** The raw grpc-js client on a live instance, for streaming methods. */
  client(): Promise<grpc.Client>;
}
