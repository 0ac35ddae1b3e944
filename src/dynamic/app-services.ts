// Clients for a go-plugin plugin's own gRPC services, from the user's .proto.
// Each call goes to a live instance (after a restart, the new one): a client
// is made per instance, on that instance's channel, and dropped with it.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { PlughostUsageError } from '../errors.js';
import type { CallOptions } from './call-channel.js';
import type { Connection } from './connection.js';

export interface AppService {
  /** A unary method of the service, by name. */
  call<T = unknown>(method: string, request: object, options?: { timeoutMs?: number }): Promise<T>;
  /** The raw grpc-js client on a live instance, for streaming methods. */
  client(): Promise<grpc.Client>;
}

/** What an app service needs of an instance: its gRPC connection. */
export interface ConnectedInstance {
  readonly connection: Pick<Connection, 'target' | 'channel'>;
}

export function appService<I extends ConnectedInstance>(
  protoFile: string,
  service: string,
  loaderOptions: protoLoader.Options,
  acquire: (options: CallOptions) => Promise<[I, CallOptions]>,
  callTimeoutMs: number | undefined,
): AppService {
  const definition = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true, ...loaderOptions });
  const serviceDef = definition[service] as protoLoader.ServiceDefinition | undefined;
  if (serviceDef === undefined || 'format' in serviceDef) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `no service "${service}" in ${protoFile}`, {
      found: Object.keys(definition).filter((k) => !('format' in (definition[k] as object))).join(', '),
    });
  }
  const Client = grpc.makeGenericClientConstructor(serviceDef as unknown as grpc.ServiceDefinition, service);
  const clients = new WeakMap<I, grpc.Client>();
  const clientFor = (instance: I): grpc.Client => {
    let client = clients.get(instance);
    if (client === undefined) {
      client = new Client(instance.connection.target, grpc.credentials.createInsecure(), { channelOverride: instance.connection.channel });
      clients.set(instance, client);
    }
    return client;
  };
  return {
    call: async <T>(method: string, request: object, options: { timeoutMs?: number } = {}): Promise<T> => {
      const [instance] = await acquire({ timeoutMs: options.timeoutMs ?? callTimeoutMs });
      const client = clientFor(instance) as grpc.Client & Record<string, Function>;
      if (typeof client[method] !== 'function') {
        throw new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `service ${service} has no method "${method}"`);
      }
      const timeout = options.timeoutMs ?? callTimeoutMs;
      return new Promise<T>((resolve, reject) => {
        client[method]!(request, { deadline: timeout === undefined ? Infinity : Date.now() + timeout }, (err: Error | null, res: T) =>
          err ? reject(err) : resolve(res),
        );
      });
    },
    client: async () => clientFor((await acquire({}))[0]),
  };
}
