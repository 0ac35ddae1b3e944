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
  type WireDescribeResponse,
  type WireFrame,
  type WireResult,
} from '../protocol/services.js';
import { asBytes } from '../protocol/bytes.js';
import { ChannelSession } from './channel.js';
import { CallCtx } from './context.js';
import type { Dispatcher } from './dispatcher.js';
import type { PluginDefinition } from './types.js';

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** Streams that stay open until the plugin stops serving; ended by close(). */
export class OpenStreams {
  readonly #stdio = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  readonly #channels = new Set<ChannelSession>();

  keep(stream: grpc.ServerWritableStream<unknown, unknown>): void {
    this.#stdio.add(stream);
    const drop = (): void => void this.#stdio.delete(stream);
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

export function healthService(open: OpenStreams): grpc.UntypedServiceImplementation {
  const serving = (service: string | undefined): boolean => service === undefined || service === '' || service === HEALTH_SERVICE;
  return {
    Check: ((call, callback) => {
      if (serving(call.request.service)) callback(null, { status: SERVING_STATUS.SERVING });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
    }) as Unary<{ service?: string }, { status: number }>,
    Watch: ((call: grpc.ServerWritableStream<{ service?: string }, { status: number }>) => {
      call.write({ status: serving(call.request.service) ? SERVING_STATUS.SERVING : SERVING_STATUS.SERVICE_UNKNOWN });
      open.keep(call);
    }) as grpc.handleServerStreamingCall<{ service?: string }, { status: number }>,
  };
}

export function controllerService(onShutdown: () => void): grpc.UntypedServiceImplementation {
  return {
    Shutdown: ((_call, callback) => {
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
  return {
    name: def.name,
    version: def.version,
    methods: [
      ...[...dispatcher.methods.keys()].map((name) => ({ name, kind: METHOD_KIND.UNARY })),
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
function contextFor(call: grpc.ServerUnaryCall<unknown, unknown>, method: string): CallCtx {
  const ctx = new CallCtx(method);
  call.on('cancelled', () => ctx.cancel('the host cancelled the RPC'));
  return ctx;
}

const payloadOf = asBytes;

export function pluginService(def: PluginDefinition, dispatcher: Dispatcher, open: OpenStreams): grpc.UntypedServiceImplementation {
  const described = describeResponse(def, dispatcher);
  const configure = def.configure;
  let configuring: Promise<void> = Promise.resolve();
  return {
    Describe: ((_call, callback) => callback(null, described)) as Unary<object, WireDescribeResponse>,

    Call: ((call, callback) => {
      const method = call.request.method ?? '';
      const result = dispatcher.call(method, payloadOf(call.request.payload), contextFor(call, method));
      if (result instanceof Promise) void result.then((r) => callback(null, r));
      else callback(null, result);
    }) as Unary<WireCallRequest, WireResult>,

    Batch: ((call, callback) => {
      const method = call.request.method ?? '';
      const results = dispatcher.batch(method, (call.request.payloads ?? []).map(asBytes), contextFor(call, method));
      if (results instanceof Promise) void results.then((r) => callback(null, { results: r }));
      else callback(null, { results });
    }) as Unary<WireBatchRequest, { results: WireResult[] }>,

    Channel: ((stream: grpc.ServerDuplexStream<WireFrame, WireFrame>) => {
      open.channel(new ChannelSession(stream, dispatcher, (session) => open.channelClosed(session), def.advertise?.flow !== false));
    }) as grpc.handleBidiStreamingCall<WireFrame, WireFrame>,

    Configure: ((call, callback) => {
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
