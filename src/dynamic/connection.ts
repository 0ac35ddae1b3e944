// One gRPC connection to a plugin instance, shared by every service on it.
import * as grpc from '@grpc/grpc-js';

import { PluginStartError } from '../errors.js';
import type { Logger } from '../logger.js';
import { AUTO_MTLS_SERVER_NAME, type HandshakeLine } from '../protocol/handshake.js';
import type { Identity } from '../protocol/certificates.js';
import {
  ControllerService,
  HEALTH_SERVICE,
  HealthService,
  PluginService,
  PROTOCOL_VERSION,
  SERVING_STATUS,
  STDIO_CHANNEL,
  StdioService,
  type WireDescribeResponse,
} from '../protocol/services.js';

type UnaryFn = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: any) => void) => grpc.ClientUnaryCall;

export interface Connection {
  readonly channel: grpc.Channel;
  readonly plugin: grpc.Client & Record<string, any>;
  readonly target: string;
  unary<T>(client: grpc.Client, method: string, request: object, timeoutMs: number): Promise<T>;
  close(): void;
}

const clientConstructors = {
  plugin: grpc.makeGenericClientConstructor(PluginService, 'Plugin'),
  health: grpc.makeGenericClientConstructor(HealthService, 'Health'),
  controller: grpc.makeGenericClientConstructor(ControllerService, 'GRPCController'),
  stdio: grpc.makeGenericClientConstructor(StdioService, 'GRPCStdio'),
};

export function connectionTarget(handshake: HandshakeLine): string {
  return handshake.network === 'unix' ? `unix:${handshake.address}` : handshake.address;
}

/** `identity`: AutoMTLS, the host's own certificate; the plugin's (from the handshake) is the only one trusted. */
export function openConnection(handshake: HandshakeLine, maxMessageBytes: number, identity?: Identity): Connection {
  const target = connectionTarget(handshake);
  const options: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // A plugin is local and ours: no DNS, no idle disconnects, no retries that hide a crash.
    'grpc.enable_retries': 0,
    'grpc.client_idle_timeout_ms': 2 ** 31 - 1,
  };
  let credentials = grpc.credentials.createInsecure();
  if (handshake.serverCert !== '' && identity !== undefined) {
    credentials = grpc.credentials.createSsl(Buffer.from(handshake.serverCert), Buffer.from(identity.key), Buffer.from(identity.cert));
    options['grpc.ssl_target_name_override'] = AUTO_MTLS_SERVER_NAME;
    options['grpc.default_authority'] = AUTO_MTLS_SERVER_NAME;
  }
  return connectionOn(target, credentials, options);
}

/** A Connection on any gRPC target (remote plugins: a balanced one). */
export function connectionOn(target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions): Connection {
  const channel = new grpc.Channel(target, credentials, options);
  const plugin = new clientConstructors.plugin(target, grpc.credentials.createInsecure(), { channelOverride: channel });
  return {
    channel,
    plugin,
    target,
    unary<T>(client: grpc.Client, method: string, request: object, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const fn = (client as unknown as Record<string, UnaryFn>)[method]!;
        fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
          err ? reject(err) : resolve(res as T),
        );
      });
    },
    close: () => channel.close(),
  };
}

export function serviceClient(conn: Connection, service: keyof typeof clientConstructors): grpc.Client {
  return new clientConstructors[service](conn.target, grpc.credentials.createInsecure(), { channelOverride: conn.channel });
}

export async function checkHealth(conn: Connection, plugin: string, timeoutMs: number): Promise<void> {
  let status: number | undefined;
  try {
    const res = await conn.unary<{ status?: number }>(serviceClient(conn, 'health'), 'Check', { service: HEALTH_SERVICE }, timeoutMs);
    status = res.status ?? SERVING_STATUS.UNKNOWN;
  } catch (err) {
    throw new PluginStartError('PLUGHOST_CONNECT_FAILED', `plugin "${plugin}": health check on ${conn.target} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (status !== SERVING_STATUS.SERVING) {
    throw new PluginStartError('PLUGHOST_UNHEALTHY', `plugin "${plugin}" is not serving`, {
      expected: 'SERVING',
      found: Object.entries(SERVING_STATUS).find(([, v]) => v === status)?.[0] ?? String(status),
    });
  }
}

/** Describe, or null for a go-plugin plugin that does not serve plughost.v1.Plugin. */
export async function describe(conn: Connection, plugin: string, timeoutMs: number, hostServices: readonly string[] = []): Promise<WireDescribeResponse | null> {
  let wire: WireDescribeResponse;
  try {
    wire = await conn.unary<WireDescribeResponse>(conn.plugin, 'Describe', { protocolVersion: PROTOCOL_VERSION, hostServices }, timeoutMs);
  } catch (err) {
    if ((err as grpc.ServiceError).code === grpc.status.UNIMPLEMENTED) return null;
    throw new PluginStartError('PLUGHOST_DESCRIBE_FAILED', `plugin "${plugin}": Describe failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // The host sent the highest version it speaks; an answer above it means the
  // plugin ignored that and speaks something this host does not.
  const answered = Number(wire.protocolVersion ?? 0);
  if (answered > PROTOCOL_VERSION) {
    throw new PluginStartError('PLUGHOST_DESCRIBE_FAILED', `plugin "${plugin}" speaks plughost.v1.Plugin protocol version ${answered}`, {
      expected: `${PROTOCOL_VERSION} or lower (what the host sent in DescribeRequest)`,
      found: String(answered),
      hint: 'Build the plugin with an SDK this host supports, or upgrade plughost',
    });
  }
  return wire;
}

/** Drains GRPCStdio into the logger; Go plugins stall when nobody reads it. */
export function forwardStdio(conn: Connection, logger: Logger, fields: Record<string, unknown>): grpc.ClientReadableStream<unknown> {
  const client = serviceClient(conn, 'stdio') as grpc.Client & Record<string, any>;
  const stream = client.StreamStdio({}) as grpc.ClientReadableStream<{ channel?: number; data?: Uint8Array }>;
  stream.on('data', (msg) => {
    const text = Buffer.from(msg.data ?? []).toString('utf8').replace(/\n$/, '');
    if (text === '') return;
    for (const line of text.split('\n')) {
      logger.log('info', line, { ...fields, stream: msg.channel === STDIO_CHANNEL.STDERR ? 'stderr' : 'stdout', via: 'GRPCStdio' });
    }
  });
  // UNIMPLEMENTED (older go-plugin), CANCELLED (we closed it) and a dropped
  // connection (the plugin exited) all just end the forwarding.
  stream.on('error', () => {});
  return stream;
}

/** GRPCController.Shutdown; UNAVAILABLE counts as success (Go plugins drop the connection inside it). */
export async function requestShutdown(conn: Connection, timeoutMs: number): Promise<boolean> {
  try {
    await conn.unary(serviceClient(conn, 'controller'), 'Shutdown', {}, timeoutMs);
    return true;
  } catch (err) {
    const code = (err as grpc.ServiceError).code;
    return code === grpc.status.UNAVAILABLE || code === grpc.status.CANCELLED;
  }
}
