// A dynamic plugin as the host's user sees it: a supervised pool of plugin
// processes behind one call API, restarted on crash, reloadable without losing calls.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { PluginCallError, PluginUnavailableError, PlughostUsageError } from '../errors.js';
import { childLogger, type Logger } from '../logger.js';
import { DEFAULT_MAX_MESSAGE_BYTES, PLUGHOST_COOKIE } from '../protocol/handshake.js';
import type { CallOptions, DynamicStream } from './call-channel.js';
import { PluginInstance, type InstanceSpec, type MethodDescription } from './instance.js';
import { describeExit, type ExitStatus } from './process.js';

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
  ready: Promise<PluginInstance>;
  crashTimes: number[];
  failure: Error | undefined;
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
  #described: PluginInstance | null = null;

  private constructor(options: DynamicPluginOptions, logger: Logger) {
    if (!Array.isArray(options.command) || options.command.length === 0 || typeof options.command[0] !== 'string') {
      throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `dynamic plugin "${options.name}" needs a command (argv array)`, {
        found: JSON.stringify(options.command),
      });
    }
    this.#logger = childLogger(logger, {});
    this.#restart = { ...DEFAULT_RESTART, ...options.restart };
    this.#callTimeoutMs = options.callTimeoutMs;
    this.#spec = {
      name: options.name,
      command: options.command,
      cwd: options.cwd,
      env: options.env,
      inheritEnv: options.inheritEnv,
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
    const started = await Promise.allSettled(Array.from({ length: size }, () => PluginInstance.start(plugin.#spec)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.shutdown() : undefined)));
      throw failed.reason;
    }
    for (const r of started) plugin.#adopt((r as PromiseFulfilledResult<PluginInstance>).value);
    plugin.#described = plugin.#slots[0]!.instance;
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

  /** One call. Rejects with PluginCallError (the plugin's error), PluginCrashedError, PluginCallCancelledError or PluginUnavailableError. */
  async call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const instance = this.#pick() ?? (await this.#waitForInstance());
    return instance.call(method, payload, this.#withDefaults(options));
  }

  /** Many payloads in one message; each item is its result or its PluginCallError. */
  async batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<BatchItem[]> {
    const instance = this.#pick() ?? (await this.#waitForInstance());
    const results = await instance.batch(method, payloads, this.#withDefaults(options));
    return results.map((r) =>
      r.error ? new PluginCallError(this.name, method, r.error.code ?? '', r.error.message ?? '') : (r.payload ?? new Uint8Array(0)),
    );
  }

  /** A call of a STREAM method. */
  async stream(method: string, options: CallOptions = {}): Promise<DynamicStream> {
    const instance = this.#pick() ?? (await this.#waitForInstance());
    return instance.stream(method, options);
  }

  /** Hot configuration: every instance gets it now, and every restarted one at start. */
  async configure(config: Uint8Array | object): Promise<void> {
    const bytes = config instanceof Uint8Array ? config : Buffer.from(JSON.stringify(config));
    this.#config = bytes;
    await Promise.all(this.#liveInstances().map((i) => i.configure(bytes)));
  }

  /**
   * Hot reload: starts new instances (optionally of a new command or env),
   * sends new calls to them once ready, lets the old ones finish what they
   * have in flight, then stops them. No call is lost.
   */
  async reload(changes: { command?: readonly string[]; env?: Readonly<Record<string, string>>; drainTimeoutMs?: number } = {}): Promise<void> {
    this.#checkOpen();
    this.#spec = { ...this.#spec, command: changes.command ?? this.#spec.command, env: changes.env ?? this.#spec.env };
    const fresh = await Promise.all(this.#slots.map(() => this.#startConfigured()));
    const old = this.#slots.map((slot, i) => {
      const previous = slot.instance;
      slot.instance = fresh[i]!;
      slot.state = 'ready';
      slot.ready = Promise.resolve(fresh[i]!);
      slot.crashTimes = [];
      this.#watch(slot, fresh[i]!);
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
        const instance = this.#pick() ?? (await this.#waitForInstance());
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
      client: async () => clientFor(this.#pick() ?? (await this.#waitForInstance())),
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
    const instances = this.#slots.map((s) => s.instance);
    for (const slot of this.#slots) {
      slot.state = 'closed';
      slot.failure = new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" is closed`);
    }
    await Promise.all(instances.map((i) => i?.shutdown()));
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

  async #waitForInstance(): Promise<PluginInstance> {
    this.#checkOpen();
    const waiting = this.#slots.filter((s) => s.state === 'starting' || s.state === 'restarting');
    if (waiting.length === 0) {
      throw this.#slots.find((s) => s.failure !== undefined)?.failure ??
        new PluginUnavailableError('PLUGHOST_PLUGIN_UNAVAILABLE', `plugin "${this.name}" has no running instance`);
    }
    await Promise.any(waiting.map((s) => s.ready)).catch(() => undefined);
    const instance = this.#pick();
    if (instance !== null) return instance;
    return this.#waitForInstance();
  }

  #adopt(instance: PluginInstance): void {
    const slot: Slot = { instance, state: 'ready', ready: Promise.resolve(instance), crashTimes: [], failure: undefined };
    this.#slots.push(slot);
    this.#watch(slot, instance);
  }

  #watch(slot: Slot, instance: PluginInstance): void {
    instance.onExit((status, expected) => {
      if (expected || slot.instance !== instance || this.#closed) return;
      this.#crashes++;
      this.#scheduleRestart(slot, status, instance.process.stderrTail());
    });
  }

  async #startConfigured(): Promise<PluginInstance> {
    const instance = await PluginInstance.start(this.#spec);
    if (this.#config !== undefined) await instance.configure(this.#config);
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
      return;
    }
    const backoff = Math.min(this.#restart.initialBackoffMs * 2 ** (slot.crashTimes.length - 1), this.#restart.maxBackoffMs);
    slot.state = 'restarting';
    this.#logger.log('warn', 'restarting plugin', { plugin: this.name, after: describeExit(status), backoffMs: backoff });
    slot.ready = new Promise<PluginInstance>((resolve, reject) => {
      setTimeout(() => {
        if (this.#closed) {
          reject(new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" is closed`));
          return;
        }
        this.#startConfigured().then(
          (instance) => {
            if (this.#closed) {
              void instance.shutdown();
              reject(new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.name}" is closed`));
              return;
            }
            this.#restarts++;
            slot.instance = instance;
            slot.state = 'ready';
            if (this.#described === null || !this.#described.alive) this.#described = instance;
            this.#watch(slot, instance);
            resolve(instance);
          },
          (err: Error) => {
            this.#logger.log('error', 'plugin restart failed', { plugin: this.name, error: err.message });
            // A failed start counts as a crash of the same loop.
            this.#scheduleRestart(slot, { code: null, signal: null }, [err.message]);
            if (slot.state === 'failed') reject(slot.failure);
            else slot.ready.then(resolve, reject);
          },
        );
      }, backoff);
    });
    // Nobody may be waiting; an unobserved rejection is not an error here.
    slot.ready.catch(() => {});
  }
}

export interface AppService {
  /** A unary method of the service, by name. */
  call<T = unknown>(method: string, request: object, options?: { timeoutMs?: number }): Promise<T>;
  /** The raw grpc-js client on a live instance, for streaming methods. */
  client(): Promise<grpc.Client>;
}
