// The gRPC services every plughost plugin serves (docs/protocol.md §2, §3):
// health, go-plugin's controller and stdio, and plughost.v1.Plugin.
import * as grpc from '@grpc/grpc-js';

import {
  HEALTH_SERVICE,
  METHOD_KIND,
  PROTOCOL_VERSION,
  SERVING_STATUS,
  type WireBatchRequest,
  type WireCallRequest,
  type WireDescribeRequest,
  type WireDescribeResponse,
  type WireFrame,
  type WireResult,
} from '../protocol/services.js';
import { asBytes } from '../protocol/bytes.js';
import { ChannelSession } from './channel.js';
import { CallCtx } from './context.js';
import type { Dispatcher } from './dispatcher.js';
import type { HostRegistry } from './host-services.js';
import type { PluginDefinition } from './types.js';

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

type Watch = grpc.ServerWritableStream<{ service?: string }, { status: number }>;

/** Streams that stay open until the plugin stops serving; ended by close(). */
export class OpenStreams {
  readonly #stdio = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  readonly #watches = new Set<Watch>();
  readonly #channels = new Set<ChannelSession>();

  keep(stream: grpc.ServerWritableStream<unknown, unknown>): void {
    this.#stdio.add(stream);
    const drop = (): void => void this.#stdio.delete(stream);
    stream.on('cancelled', drop);
    stream.on('error', drop);
  }

  /** A health Watch: told NOT_SERVING when the plugin stops. */
  watch(stream: Watch): void {
    this.#watches.add(stream);
    const drop = (): void => void this.#watches.delete(stream);
    stream.on('cancelled', drop);
    stream.on('error', drop);
  }

  channel(session: ChannelSession): void {
    this.#channels.add(session);
  }

  channelClosed(session: ChannelSession): void {
    this.#channels.delete(session);
  }

  endAll(): void {
    for (const session of [...this.#channels]) session.close('the plugin is shutting down');
    for (const stream of this.#watches) {
      try {
        if (stream.request.service === undefined || stream.request.service === '' || stream.request.service === HEALTH_SERVICE) {
          stream.write({ status: SERVING_STATUS.NOT_SERVING });
        }
        stream.end();
      } catch {
        // already gone
      }
    }
    this.#watches.clear();
    for (const stream of this.#stdio) {
      try {
        stream.end();
      } catch {
        // already gone
      }
    }
    this.#stdio.clear();
  }
}

/** `stopping()`: the plugin has begun to stop, so it answers NOT_SERVING (a remote host's balancer moves away). */
export function healthService(open: OpenStreams, stopping: () => boolean): grpc.UntypedServiceImplementation {
  const known = (service: string | undefined): boolean => service === undefined || service === '' || service === HEALTH_SERVICE;
  const status = (): number => (stopping() ? SERVING_STATUS.NOT_SERVING : SERVING_STATUS.SERVING);
  return {
    Check: ((call, callback) => {
      if (known(call.request.service)) callback(null, { status: status() });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
    }) as Unary<{ service?: string }, { status: number }>,
    Watch: ((call: Watch) => {
      call.write({ status: known(call.request.service) ? status() : SERVING_STATUS.SERVICE_UNKNOWN });
      open.watch(call);
    }) as grpc.handleServerStreamingCall<{ service?: string }, { status: number }>,
  };
}

/**
 * go-plugin's controller. `onShutdown` undefined (server mode): Shutdown is
 * refused, since a remote client must not stop a server other hosts share.
 */
export function controllerService(onShutdown: (() => void) | undefined): grpc.UntypedServiceImplementation {
  return {
    Shutdown: ((_call, callback) => {
      if (onShutdown === undefined) {
        callback({
          code: grpc.status.PERMISSION_DENIED,
          details: 'this plugin serves remote hosts (PLUGHOST_LISTEN) and takes Shutdown from no client; stop it with SIGTERM',
        });
        return;
      }
      callback(null, {});
      onShutdown();
    }) as Unary<object, object>,
  };
}

/** GRPCStdio: kept open and silent (plugin output goes to the real stderr, which the host reads). */
export function stdioService(open: OpenStreams): grpc.UntypedServiceImplementation {
  return {
    StreamStdio: ((call) => open.keep(call)) as grpc.handleServerStreamingCall<object, object>,
  };
}

export function describeResponse(def: PluginDefinition, dispatcher: Dispatcher): WireDescribeResponse {
  const idempotent = new Set(def.idempotent ?? []);
  return {
    name: def.name,
    version: def.version,
    methods: [
      ...[...dispatcher.methods.keys()].map((name) => ({ name, kind: METHOD_KIND.UNARY, ...(idempotent.has(name) ? { idempotent: true } : {}) })),
      ...[...dispatcher.streams.keys()].map((name) => ({ name, kind: METHOD_KIND.STREAM })),
    ],
    capabilities: [
      ...(def.advertise?.channel === false ? [] : ['channel']),
      ...(def.advertise?.batch === false ? [] : ['batch']),
      ...(def.configure === undefined ? [] : ['configure']),
    ],
    protocolVersion: PROTOCOL_VERSION,
  };
}

/** Cancels the context when the client gives up on a unary RPC. */
function contextFor(call: grpc.ServerUnaryCall<unknown, unknown>, method: string, host: HostRegistry): CallCtx {
  const ctx = new CallCtx(method, host.forUnary);
  call.on('cancelled', () => ctx.cancel('the host cancelled the RPC'));
  return ctx;
}

const payloadOf = asBytes;

export function pluginService(def: PluginDefinition, dispatcher: Dispatcher, open: OpenStreams, host: HostRegistry, configurable = true): grpc.UntypedServiceImplementation {
  const described = describeResponse(def, dispatcher);
  const configure = def.configure;
  let configuring: Promise<void> = Promise.resolve();
  return {
    Describe: ((call, callback) => {
      host.described(call.request.hostServices);
      callback(null, described);
    }) as Unary<WireDescribeRequest, WireDescribeResponse>,

    Call: ((call, callback) => {
      const method = call.request.method ?? '';
      const result = dispatcher.call(method, payloadOf(call.request.payload), contextFor(call, method, host));
      if (result instanceof Promise) void result.then((r) => callback(null, r));
      else callback(null, result);
    }) as Unary<WireCallRequest, WireResult>,

    Batch: ((call, callback) => {
      const method = call.request.method ?? '';
      const results = dispatcher.batch(method, (call.request.payloads ?? []).map(asBytes), contextFor(call, method, host));
      if (results instanceof Promise) void results.then((r) => callback(null, { results: r }));
      else callback(null, { results });
    }) as Unary<WireBatchRequest, { results: WireResult[] }>,

    Channel: ((stream: grpc.ServerDuplexStream<WireFrame, WireFrame>) => {
      open.channel(new ChannelSession(stream, dispatcher, host, (session) => open.channelClosed(session), def.advertise?.flow !== false));
    }) as grpc.handleBidiStreamingCall<WireFrame, WireFrame>,

    Configure: ((call, callback) => {
      if (!configurable) {
        callback({ code: grpc.status.PERMISSION_DENIED, details: `plugin "${def.name}" serves remote hosts: its configuration is its own (environment, files), not a client's` });
        return;
      }
      if (configure === undefined) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `plugin "${def.name}" does not take configuration` });
        return;
      }
      // Configurations apply one at a time, in arrival order.
      configuring = configuring.then(async () => {
        try {
          await configure(payloadOf(call.request.config));
          callback(null, {});
        } catch (err) {
          callback(null, { error: dispatcher.failure(err).error });
        }
      });
    }) as Unary<{ config?: Uint8Array }, { error?: WireResult['error'] }>,
  };
}
