// A plugin whose servers run elsewhere (docs/remote-plugins.md): no spawn, the
// same call API, errors and metrics as a local dynamic plugin. One gRPC
// channel with round_robin over the healthy endpoints (resolver.ts), and on
// it a few Channel streams that calls take in turn (channel-pool.ts; a unary
// Call RPC per call for a plugin without `channel`). A call that never
// reached a server is retried; one lost mid-call is retried only when its
// method is idempotent, and otherwise fails typed: it may or may not have run.
import * as grpc from '@grpc/grpc-js';

import { PluginCallError, PluginStartError, PluginUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { asBytes } from '../protocol/bytes.js';
import type { WireResult } from '../protocol/services.js';
import { CallTimer } from '../metrics/call-timer.js';
import { ObserverReporter } from '../metrics/plugin-observer.js';
import type { CallOptions, DynamicStream } from '../dynamic/call-channel.js';
import { withDefaultTimeout } from '../dynamic/call-types.js';
import { callAborted, deadlineExceeded, pluginCallError, pluginClosed, transportError } from '../dynamic/call-errors.js';
import { connectionOn, describe, type Connection } from '../dynamic/connection.js';
import { HostServiceTable } from '../dynamic/host-services.js';
import { MicroBatcher } from '../dynamic/micro-batcher.js';
import { FRAME_OVERHEAD } from '../protocol/limits.js';
import { toDescription, type MethodDescription, type PluginDescription } from '../dynamic/instance.js';
import { ChannelPool } from './channel-pool.js';
import { EndpointSet } from './endpoint-set.js';
import { remoteSpecOf, type RemotePluginOptions, type RemoteSpec } from './options.js';
import { endpointTarget } from './resolver.js';

export type { RemotePluginOptions, RemoteTls } from './options.js';

/** What is left of a call's deadline, for a Channel call (which takes a relative timeout). */
function remaining(options: CallOptions, deadline: number): CallOptions {
  return { signal: options.signal, timeoutMs: deadline === Infinity ? undefined : Math.max(1, deadline - Date.now()) };
}

/** An RPC that failed between host and server: whether it surely never reached a server. */
class Undelivered extends Error {
  constructor(readonly neverSent: boolean, readonly details: string) {
    super(details);
  }
}

// What grpc-js says when it had no ready endpoint to send a call to.
const NEVER_SENT = /No connection established|no healthy endpoint|Name resolution|Waiting for LB pick|No address/i;

export interface RemotePluginStats {
  readonly endpoints: ReadonlyArray<{ readonly address: string; readonly healthy: boolean }>;
  readonly retries: number;
}

export class RemotePlugin {
  readonly kind = 'remote' as const;
  readonly #spec: RemoteSpec;
  readonly #set: EndpointSet;
  readonly #conn: Connection;
  readonly #release: () => void;
  readonly #timer: CallTimer;
  readonly #reporter: ObserverReporter;
  readonly #pool: ChannelPool;
  readonly #batcher: MicroBatcher;
  readonly #services: HostServiceTable;
  #description: PluginDescription | undefined;
  #idempotent: ReadonlySet<string>;
  #closed = false;
  #retries = 0;

  private constructor(spec: RemoteSpec, logger: Logger, options: RemotePluginOptions, hostServices: HostServiceTable) {
    this.#spec = spec;
    this.#reporter = new ObserverReporter(options.observer, (hook, err) =>
      logger.log('warn', 'plugin observer failed', { plugin: spec.name, hook, error: err instanceof Error ? err.message : String(err) }),
    );
    this.#timer = new CallTimer(this.#reporter);
    this.#set = new EndpointSet(spec, logger, (healthy) => {
      this.#reporter.up(healthy > 0 && !this.#closed);
      if (this.#pool === undefined || this.#closed) return;
      this.#pool.renew();
      void this.#pool.balance(healthy, Date.now() + 2_000);
    });
    this.#services = hostServices.with(options.services);
    const { target, release } = endpointTarget(this.#set);
    this.#release = release;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      'grpc.max_receive_message_length': spec.maxMessageBytes,
      'grpc.max_send_message_length': spec.maxMessageBytes,
      // A dead peer behind a silent network is found by keepalive, not by the next call's deadline.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
    };
    if (spec.serverName !== undefined) {
      channelOptions['grpc.ssl_target_name_override'] = spec.serverName;
      channelOptions['grpc.default_authority'] = spec.serverName;
    }
    this.#conn = connectionOn(target, spec.credentials, channelOptions);
    this.#idempotent = spec.idempotent;
    // Smaller batches than a local plugin's 256: a burst then spreads over several streams, so several endpoints.
    this.#batcher = new MicroBatcher(spec.name, 64, spec.maxMessageBytes - FRAME_OVERHEAD);
    this.#pool = new ChannelPool(this.#conn, {
      plugin: spec.name,
      maxMessageBytes: spec.maxMessageBytes,
      logger,
      services: this.#services,
      report: this.#reporter.hostCall.bind(this.#reporter),
      // Two per healthy endpoint: round_robin then puts streams on every one of them.
      size: () => Math.min(16, Math.max(2, 2 * this.#set.healthyCount)),
      // Only a stream the server never answered on surely carried nothing to it: a server's own
      // words (its status text) cannot make a call on a live stream count as never sent.
      lost: (err, heard) => {
        const details = (err as { details?: string }).details ?? err.message;
        return new Undelivered(!heard && NEVER_SENT.test(details), details);
      },
    });
  }

  /** Checks the endpoints and describes the plugin; PLUGHOST_REMOTE_UNAVAILABLE when none is healthy in time. */
  static async connect(options: RemotePluginOptions, logger: Logger, hostServices: HostServiceTable = HostServiceTable.empty): Promise<RemotePlugin> {
    const spec = remoteSpecOf(options);
    const plugin = new RemotePlugin(spec, logger, options, hostServices);
    try {
      await plugin.#start();
    } catch (err) {
      await plugin.close();
      throw err;
    }
    return plugin;
  }

  async #start(): Promise<void> {
    const until = Date.now() + this.#spec.connectTimeoutMs;
    await this.#set.start();
    while (this.#set.healthyCount === 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, this.#spec.healthIntervalMs)));
      this.#set.recheck();
    }
    if (this.#set.healthyCount === 0) {
      throw new PluginStartError('PLUGHOST_REMOTE_UNAVAILABLE', `remote plugin "${this.#spec.name}": no healthy endpoint within ${this.#spec.connectTimeoutMs} ms`, {
        found: this.#set.describe(),
        hint: 'Is the server running and reachable, and do its certificate and yours chain to the CAs each side trusts?',
      });
    }
    // The local plugins' Describe, version check included.
    const wire = await describe(this.#conn, this.#spec.name, Math.max(1, until - Date.now()), this.#services.names);
    if (wire === null) {
      throw new PluginStartError('PLUGHOST_DESCRIBE_FAILED', `remote plugin "${this.#spec.name}" does not serve plughost.v1.Plugin`, {
        hint: 'connect() reaches plughost SDK plugins in server mode (PLUGHOST_LISTEN)',
      });
    }
    this.#description = toDescription(wire);
    const marked = (wire.methods ?? []).filter((m) => m.idempotent).map((m) => m.name ?? '');
    this.#idempotent = new Set([...this.#spec.idempotent, ...marked]);
    if (this.#streams && !(await this.#pool.balance(this.#set.healthyCount, until))) {
      throw new PluginStartError('PLUGHOST_REMOTE_UNAVAILABLE', `remote plugin "${this.#spec.name}": its Channel streams did not answer within ${this.#spec.connectTimeoutMs} ms`, {
        found: this.#set.describe(),
        hint: 'The server answers health checks and Describe but not on its Channel: is it overloaded, or not a plughost server?',
      });
    }
    this.#reporter.up(true);
  }

  get name(): string {
    return this.#description?.name || this.#spec.name;
  }

  get version(): string {
    return this.#description?.version ?? '';
  }

  get methods(): readonly MethodDescription[] {
    return this.#description?.methods ?? [];
  }

  get capabilities(): readonly string[] {
    return this.#description?.capabilities ?? [];
  }

  /** Methods a lost call is retried for. */
  get idempotent(): readonly string[] {
    return [...this.#idempotent];
  }

  call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const withDefaults = this.#withDefaults(options);
    return this.#timer.call(method, () =>
      this.#withRetry(method, withDefaults, (deadline) =>
        this.#streams
          ? // Calls without their own deadline or signal share batch frames, as for local plugins.
            this.capabilities.includes('batch') && withDefaults.timeoutMs === undefined && options.signal === undefined
            ? this.#batcher.call(method, payload, () => this.#pool.pick())
            : this.#pool.pick().call(method, payload, remaining(options, deadline))
          : this.#rpc<WireResult>('Call', { method, payload }, deadline, options.signal).then((res) => {
              if (res.error) throw pluginCallError(this.name, method, res.error);
              return asBytes(res.payload);
            }),
      ),
    );
  }

  /** Whether calls go on Channel streams (the plugin serves `channel`). */
  get #streams(): boolean {
    return this.capabilities.includes('channel');
  }

  /** Many payloads in one RPC; each item is its result or its PluginCallError. */
  batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<Array<Uint8Array | PluginCallError>> {
    return this.#timer.batch(
      method,
      payloads.length,
      () =>
        this.#withRetry(method, this.#withDefaults(options), (deadline) =>
          (this.#streams && this.capabilities.includes('batch')
            ? this.#pool.pick().batch(method, payloads, remaining(options, deadline))
            : this.#rpc<{ results?: WireResult[] }>('Batch', { method, payloads }, deadline, options.signal).then((res) => res.results ?? [])
          ).then((results) => results.map((r) => (r.error ? pluginCallError(this.name, method, r.error) : asBytes(r.payload)))),
        ),
      (item) => (item instanceof PluginCallError ? item.code : 'ok'),
    );
  }

  /** A STREAM method on one of the streams; not retried. */
  async stream(method: string, options: CallOptions = {}): Promise<DynamicStream> {
    if (this.#closed) throw pluginClosed(this.name, 'is closed');
    return this.#pool.pick().openStream(method, this.#withDefaults(options));
  }

  stats(): RemotePluginStats {
    return { endpoints: this.#set.list(), retries: this.#retries };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reporter.up(false);
    this.#pool.close();
    this.#set.close();
    this.#release();
    this.#conn.close();
  }

  async #withRetry<T>(method: string, options: CallOptions, attempt: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const idempotent = this.#idempotent.has(method);
    const most = Math.max(3, 2 * this.#set.size);
    for (let tries = 1; ; tries++) {
      if (this.#closed) throw pluginClosed(this.name, 'is closed');
      try {
        return await attempt(deadline);
      } catch (err) {
        if (!(err instanceof Undelivered)) throw this.#typed(err, method, options);
        this.#set.recheck();
        const again = (err.neverSent || idempotent) && tries < most && Date.now() + 20 * tries < deadline;
        if (!again) throw this.#undelivered(err, method, idempotent);
        this.#retries++;
        await new Promise((resolve) => setTimeout(resolve, 20 * tries));
      }
    }
  }

  #rpc<T>(rpc: 'Call' | 'Batch', request: object, deadline: number, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(callAborted(signal));
    return new Promise<T>((resolve, reject) => {
      const call = this.#conn.plugin[rpc](request, { deadline }, (err: grpc.ServiceError | null, res: T) => {
        signal?.removeEventListener('abort', onAbort);
        if (err === null) resolve(res);
        else if (err.code === grpc.status.UNAVAILABLE) reject(new Undelivered(NEVER_SENT.test(err.details ?? ''), err.details ?? err.message));
        else reject(err);
      }) as grpc.ClientUnaryCall;
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #typed(err: unknown, method: string, options: CallOptions): unknown {
    if (err instanceof PluginCallError || !(err instanceof Error) || !('code' in err) || typeof err.code !== 'number') return err;
    if (err.code === grpc.status.DEADLINE_EXCEEDED) return deadlineExceeded(this.name, method, options.timeoutMs);
    if (err.code === grpc.status.CANCELLED && options.signal?.aborted) return callAborted(options.signal);
    return transportError(this.name, method, (err as grpc.ServiceError).details || err.message);
  }

  #undelivered(err: Undelivered, method: string, idempotent: boolean): PluginUnavailableError {
    if (err.neverSent) {
      return new PluginUnavailableError('PLUGHOST_REMOTE_UNAVAILABLE', `remote plugin "${this.name}": no healthy endpoint took "${method}"`, { found: this.#set.describe() });
    }
    return new PluginUnavailableError('PLUGHOST_CONNECTION_LOST', `remote plugin "${this.name}": the connection was lost during "${method}"; it may or may not have run`, {
      found: err.details,
      hint: idempotent ? 'Every endpoint failed it' : 'Mark the method idempotent (serve({ idempotent }) or connect({ idempotent })) if it is safe to run twice, and it is retried on another endpoint',
    });
  }

  #withDefaults(options: CallOptions): CallOptions {
    return withDefaultTimeout(options, this.#spec.callTimeoutMs);
  }
}
