// One running plugin process: its connection, its call channel, its end.
import { status as grpcStatus } from '@grpc/grpc-js';
import type * as grpc from '@grpc/grpc-js';

import { PluginCallError, PlughostUsageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { asBytes } from '../protocol/bytes.js';
import { METHOD_KIND, type WireDescribeResponse, type WireResult } from '../protocol/services.js';
import { AppBroker } from './app-broker.js';
import { CallChannel, type CallOptions, type DynamicStream } from './call-channel.js';
import { callAborted, deadlineExceeded, pluginCallError, pluginClosed, transportError } from './call-errors.js';
import { checkHealth, describe, forwardStdio, openConnection, requestShutdown, type Connection } from './connection.js';
import { CpuWatch, crashError } from './exit-error.js';
import { HostCallServer, type HostCallReport } from './host-call-server.js';
import { hostIdentity } from './host-identity.js';
import type { HostServiceTable } from './host-services.js';
import { MicroBatcher } from './micro-batcher.js';
import { describeExit, startPluginProcess, type ExitStatus, type PluginProcess, type ProcessSpec } from './process.js';

export interface InstanceSpec extends ProcessSpec {
  /** Health check and Describe, each. */
  readonly rpcTimeoutMs: number;
  /** Most calls in flight on one instance; more wait in the host. */
  readonly window: number;
  /** Coalesce concurrent calls into batch frames (when the plugin supports batches). */
  readonly maxBatch: number | false;
  readonly shutdownGraceMs: number;
  readonly killGraceMs: number;
  /** After a call deadline passes, how long the health check may take before the plugin counts as wedged. */
  readonly livenessTimeoutMs: number;
  /** What the plugin may call back (host calls; GRPCBroker services for a go-plugin plugin). */
  readonly hostServices: HostServiceTable;
  /** Told of every host call's outcome (metrics). */
  readonly onHostCall?: HostCallReport | undefined;
  /** 'auto': go-plugin AutoMTLS between host and plugin. */
  readonly tls: 'auto' | false;
}

export interface MethodDescription {
  readonly name: string;
  readonly kind: 'unary' | 'stream';
}

export interface PluginDescription {
  readonly name: string;
  readonly version: string;
  readonly methods: readonly MethodDescription[];
  readonly capabilities: readonly string[];
  readonly protocolVersion: number;
}

export type ExitListener = (status: ExitStatus, expected: boolean) => void;

export class PluginInstance {
  readonly spec: InstanceSpec;
  readonly process: PluginProcess;
  readonly connection: Connection;
  /** null for a go-plugin plugin that serves only its own services. */
  readonly description: PluginDescription | null;
  readonly readyMs: number;
  /** For a go-plugin plugin: the guard that fails app-service calls which call back through GRPCBroker (app-broker.ts). */
  readonly broker: AppBroker | null;
  readonly #channel: CallChannel | null;
  readonly #hostCalls: HostCallServer | null;
  readonly #batcher: MicroBatcher | null;
  readonly #unary = new Set<{ call: grpc.ClientUnaryCall; reject(err: Error): void }>();
  readonly #exitListeners: ExitListener[] = [];
  readonly #logger: Logger;
  #stopping = false;
  #exitError: Error | undefined;
  #batching = 0;
  #probing = false;
  #exitStatus: ExitStatus | undefined;
  #killedByHost = false;
  readonly #cpu: CpuWatch | null;

  private constructor(spec: InstanceSpec, proc: PluginProcess, conn: Connection, description: PluginDescription | null) {
    this.spec = spec;
    this.process = proc;
    this.connection = conn;
    this.description = description;
    this.readyMs = performance.now() - proc.startedAt;
    this.#logger = spec.logger;
    this.broker = description === null ? new AppBroker(conn, { plugin: spec.name, logger: spec.logger, services: spec.hostServices, pluginCert: proc.handshake.serverCert, report: spec.onHostCall }) : null;
    this.#cpu = spec.limits?.cpuSeconds === undefined ? null : new CpuWatch(proc.pid, spec.limits.cpuSeconds);
    const caps = new Set(description?.capabilities ?? []);
    this.#channel = caps.has('channel')
      ? new CallChannel(conn, {
          plugin: spec.name,
          window: spec.window,
          maxMessageBytes: spec.maxMessageBytes,
          onBroken: (err) => this.#onChannelBroken(err),
          onHostFrame: (frame) => this.#hostCalls?.receive(frame),
        })
      : null;
    const channel = this.#channel;
    this.#hostCalls =
      channel === null
        ? null
        : new HostCallServer({
            plugin: spec.name,
            table: spec.hostServices,
            maxMessageBytes: spec.maxMessageBytes,
            send: (frame) => channel.sendFrame(frame),
            logger: spec.logger,
            report: spec.onHostCall,
          });
    this.#batcher = caps.has('batch') && this.#channel !== null && spec.maxBatch !== false ? new MicroBatcher(spec.name, spec.maxBatch, this.#channel.maxPayloadBytes) : null;
    void proc.exited.then((status) => this.#onExit(status));
  }

  static async start(spec: InstanceSpec): Promise<PluginInstance> {
    const identity = spec.tls === 'auto' ? hostIdentity() : undefined;
    const proc = await startPluginProcess({ ...spec, clientCert: identity?.cert });
    const conn = openConnection(proc.handshake, spec.maxMessageBytes, identity);
    try {
      await checkHealth(conn, spec.name, spec.rpcTimeoutMs);
      forwardStdio(conn, spec.logger, { plugin: spec.name, pid: proc.pid });
      const wire = await describe(conn, spec.name, spec.rpcTimeoutMs, spec.hostServices.names);
      return new PluginInstance(spec, proc, conn, wire === null ? null : toDescription(wire));
    } catch (err) {
      conn.close();
      proc.kill('SIGKILL');
      await waitForExit(proc, spec.killGraceMs);
      proc.cleanup();
      throw err;
    }
  }

  get pid(): number {
    return this.process.pid;
  }

  get inFlight(): number {
    return (this.#channel?.inFlight ?? 0) + this.#unary.size + this.#batching;
  }

  get alive(): boolean {
    return this.#exitError === undefined && !this.#stopping;
  }

  /** Called once when the process exits; at once if it already has. */
  onExit(listener: ExitListener): void {
    if (this.#exitStatus !== undefined) listener(this.#exitStatus, this.#stopping);
    else this.#exitListeners.push(listener);
  }

  call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.#exitError !== undefined) return Promise.reject(this.#exitError);
    if (this.description === null) return Promise.reject(this.#noPlughostService(method));
    if (this.#channel === null) return this.#callUnary(method, payload, options);
    if (this.#batcher !== null && options.signal === undefined && options.timeoutMs === undefined) {
      // Counted from now, not from the flush, so the pool sees this instance as busy.
      this.#batching++;
      const done = (): void => void this.#batching--;
      const promise = this.#batcher.call(method, payload, () => this.#channel!);
      promise.then(done, done);
      return promise;
    }
    const promise = this.#channel.call(method, payload, options);
    if (options.timeoutMs !== undefined) promise.catch((err: unknown) => this.#afterFailure(err));
    return promise;
  }

  /**
   * A call past its deadline may mean the plugin is wedged (e.g. a busy loop
   * blocks its event loop). Ask its health service; if that does not answer
   * in time either, kill it so the supervisor restarts it.
   */
  #afterFailure(err: unknown): void {
    if ((err as { code?: string })?.code !== 'PLUGHOST_DEADLINE_EXCEEDED' || this.#probing || !this.alive) return;
    this.#probing = true;
    checkHealth(this.connection, this.spec.name, this.spec.livenessTimeoutMs).then(
      () => {
        this.#probing = false;
      },
      () => {
        this.#probing = false;
        if (!this.alive) return;
        this.#logger.log('error', 'plugin does not answer its health check after a call deadline; killing it', {
          plugin: this.spec.name,
          pid: this.pid,
        });
        this.#kill();
      },
    );
  }

  /** The host's liveness SIGKILL: recorded, so the exit is never taken for a resource limit. */
  #kill(): void {
    this.#killedByHost = true;
    this.process.kill('SIGKILL');
  }

  batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<WireResult[]> {
    if (this.#exitError !== undefined) return Promise.reject(this.#exitError);
    const caps = this.description?.capabilities ?? [];
    if (this.#channel !== null && caps.includes('batch')) return this.#channel.batch(method, payloads, options);
    // No batch support: the same results, one call each.
    return Promise.all(
      payloads.map((p) =>
        this.call(method, p, options).then(
          (payload): WireResult => ({ payload }),
          (err: unknown): WireResult => {
            if (err instanceof PluginCallError) return { error: { code: err.code, message: err.message } };
            throw err;
          },
        ),
      ),
    );
  }

  stream(method: string, options: CallOptions = {}): DynamicStream {
    if (this.description === null) throw this.#noPlughostService(method);
    if (this.#channel === null) {
      throw new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `plugin "${this.spec.name}" serves no plughost stream methods`);
    }
    return this.#channel.openStream(method, options);
  }

  /** Whether the plugin advertised the `configure` capability (a go-plugin plugin never does). */
  get configurable(): boolean {
    return this.description?.capabilities.includes('configure') ?? false;
  }

  /** Configure RPC. Only for a plugin that advertises `configure` (the launcher checks first); failures are typed. */
  async configure(config: Uint8Array): Promise<void> {
    if (this.#exitError !== undefined) throw this.#exitError;
    let res: { error?: { code?: string; message?: string } | null };
    try {
      res = await this.connection.unary(this.connection.plugin, 'Configure', { config }, this.spec.rpcTimeoutMs);
    } catch (err) {
      throw await this.#unaryError('Configure', err as grpc.ServiceError, { timeoutMs: this.spec.rpcTimeoutMs });
    }
    if (res.error) throw pluginCallError(this.spec.name, 'Configure', res.error);
  }

  /** Waits until nothing is in flight (for a reload), or the timeout. */
  async drain(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.inFlight > 0 && this.#exitError === undefined && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Shutdown RPC → wait → SIGTERM → wait → SIGKILL. Only ever signals our own live child. */
  async shutdown(): Promise<void> {
    if (this.#stopping) {
      await waitForExit(this.process, this.spec.shutdownGraceMs + 2 * this.spec.killGraceMs);
      return;
    }
    this.#stopping = true;
    const exited = this.process.exited.then(() => true);
    const waitExit = (ms: number): Promise<boolean> =>
      Promise.race([exited, new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    this.#hostCalls?.closeAll(`plugin "${this.spec.name}" is stopping`);
    if (!this.process.hasExited()) {
      this.#channel?.close();
      this.broker?.close();
      await requestShutdown(this.connection, this.spec.shutdownGraceMs);
      if (!(await waitExit(this.spec.shutdownGraceMs))) {
        this.#logger.log('warn', 'plugin did not exit after Shutdown; sending SIGTERM', { plugin: this.spec.name, pid: this.pid });
        this.process.kill('SIGTERM');
        if (!(await waitExit(this.spec.killGraceMs))) {
          this.#logger.log('warn', 'plugin did not exit after SIGTERM; sending SIGKILL', { plugin: this.spec.name, pid: this.pid });
          this.process.kill('SIGKILL');
          await waitForExit(this.process, this.spec.killGraceMs);
        }
      }
    }
    this.process.child.stdin.end();
    this.broker?.close();
    this.connection.close();
    this.process.cleanup();
  }

  #noPlughostService(method: string): PlughostUsageError {
    return new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `plugin "${this.spec.name}" does not serve plughost.v1.Plugin, so it has no method "${method}"`, {
      hint: 'It is a go-plugin plugin: call its own services with plugin.appService(protoFile, service)',
    });
  }

  #callUnary(method: string, payload: Uint8Array, options: CallOptions): Promise<Uint8Array> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(callAborted(signal));
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
      const onAbort = (): void => entry.call.cancel();
      const entry = {
        call: undefined as unknown as grpc.ClientUnaryCall,
        reject,
      };
      entry.call = this.connection.plugin.Call({ method, payload }, { deadline }, (err: grpc.ServiceError | null, res?: WireResult) => {
        this.#unary.delete(entry);
        signal?.removeEventListener('abort', onAbort);
        if (err) void this.#unaryError(method, err, options).then(reject);
        else if (res?.error) reject(pluginCallError(this.spec.name, method, res.error));
        else resolve(asBytes(res?.payload));
      });
      this.#unary.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (options.timeoutMs !== undefined) promise.catch((err: unknown) => this.#afterFailure(err));
    return promise;
  }

  /** A failed unary RPC as a typed error; a dropped connection is usually the process dying, so wait a moment for its exit. */
  async #unaryError(method: string, err: grpc.ServiceError, options: CallOptions): Promise<Error> {
    if (err.code === grpcStatus.UNAVAILABLE || err.code === grpcStatus.INTERNAL) {
      await Promise.race([this.process.exited, new Promise((r) => setTimeout(r, 500))]);
    }
    if (this.#exitError !== undefined) return this.#exitError;
    if (err.code === grpcStatus.DEADLINE_EXCEEDED) {
      return deadlineExceeded(this.spec.name, method, options.timeoutMs);
    }
    if (err.code === grpcStatus.CANCELLED && options.signal?.aborted) {
      return callAborted(options.signal);
    }
    if (this.#stopping) return pluginClosed(this.spec.name, 'was stopped');
    return transportError(this.spec.name, method, err.message);
  }

  #onChannelBroken(err: Error): void {
    if (this.#stopping || this.#exitError !== undefined) return;
    // Usually the process died (its exit is reported a moment later): give
    // the exit that moment, so its cause (a crash, a limit) is not taken for
    // our kill. A broken channel with a live process is a wedged or confused
    // plugin: kill it, so the exit path fails the calls and the supervisor restarts it.
    void Promise.race([this.process.exited, new Promise((r) => setTimeout(r, 250).unref())]).then(() => {
      if (this.#stopping || this.#exitError !== undefined || this.process.hasExited()) return;
      this.#logger.log('error', 'plugin call channel broke; killing the plugin', {
        plugin: this.spec.name,
        pid: this.pid,
        error: err.message,
      });
      // Not marked as the host's kill: whether a CPU limit was reached meanwhile is for the CPU samples to say.
      this.process.kill('SIGKILL');
    });
  }

  #onExit(status: ExitStatus): void {
    this.#exitStatus = status;
    this.#cpu?.stop();
    this.broker?.close();
    this.#hostCalls?.closeAll(`plugin "${this.spec.name}" exited`);
    const expected = this.#stopping;
    const exited = { name: this.spec.name, pid: this.pid, limits: this.spec.limits, cpuLimitReached: this.#cpu?.reached(), killedByHost: this.#killedByHost };
    this.#exitError = expected ? pluginClosed(this.spec.name, 'was stopped') : crashError(exited, status, this.process.stderrTail());
    this.#channel?.failAll(this.#exitError);
    for (const entry of this.#unary) entry.reject(this.#exitError);
    this.#unary.clear();
    if (!expected) {
      this.#logger.log('error', 'plugin exited unexpectedly', { plugin: this.spec.name, pid: this.pid, status: describeExit(status) });
      this.connection.close();
      this.process.cleanup();
    }
    for (const listener of this.#exitListeners) listener(status, expected);
  }
}

/** Waits for the process to exit, but not forever (a process we cannot kill must not hang the host). */
async function waitForExit(proc: PluginProcess, ms: number): Promise<void> {
  await Promise.race([proc.exited, new Promise((r) => setTimeout(r, ms).unref())]);
}

export function toDescription(wire: WireDescribeResponse): PluginDescription {
  return {
    name: wire.name ?? '',
    version: wire.version ?? '',
    methods: (wire.methods ?? []).map((m) => ({ name: m.name ?? '', kind: m.kind === METHOD_KIND.STREAM ? 'stream' : 'unary' })),
    capabilities: [...(wire.capabilities ?? [])],
    protocolVersion: wire.protocolVersion ?? 0,
  };
}
