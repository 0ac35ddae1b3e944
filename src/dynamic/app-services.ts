// Clients for a go-plugin plugin's own gRPC services, from the user's .proto.
// Each call goes to a live instance (after a restart, the new one): a client
// is made per instance, on that instance's channel, and dropped with it.
// Streaming methods are refused up front (typed), not half-called. Host
// services a call names in `broker` are served to it through GRPCBroker
// (app-broker.ts); a plugin that dials any other id fails the call typed.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { PlughostUsageError } from '../errors.js';
import { uint32Fields, type AppBroker, type BrokerLease } from './app-broker.js';
import type { CallOptions } from './call-channel.js';
import type { Connection } from './connection.js';

export interface AppServiceCallOptions {
  readonly timeoutMs?: number;
  /**
   * Host services to lend the plugin for this call through go-plugin's
   * GRPCBroker: request field → gRPC host service name. Each named field is
   * set to the broker id the service is served under until the call ends
   * (examples/bidirectional: `{ add_server: 'AddHelper' }`).
   */
  readonly broker?: Readonly<Record<string, string>>;
}

export interface AppService {
  /** A unary method of the service, by name. A streaming method rejects with PLUGHOST_APP_STREAM_UNSUPPORTED. */
  call<T = unknown>(method: string, request: object, options?: AppServiceCallOptions): Promise<T>;
  /** The raw grpc-js client on a live instance, for streaming methods (its streams' errors are yours to handle). */
  client(): Promise<grpc.Client>;
}

/** What an app service needs of an instance: its gRPC connection, and its broker guard if it has one. */
export interface ConnectedInstance {
  readonly connection: Pick<Connection, 'target' | 'channel'>;
  readonly broker?: AppBroker | null;
  readonly spec?: { readonly name: string };
}

type MethodDef = protoLoader.MethodDefinition<object, object> & {
  requestType: { type?: { field?: ReadonlyArray<{ name?: string | null; type?: string | null }> } };
};

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
  const methodOf = (method: string): MethodDef => {
    const def = Object.hasOwn(serviceDef, method) ? (serviceDef[method] as MethodDef) : undefined;
    if (def === undefined) {
      throw new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `service ${service} has no method "${method}"`, {
        found: Object.keys(serviceDef).join(', '),
      });
    }
    if (def.requestStream || def.responseStream) {
      const kind = def.requestStream && def.responseStream ? 'bidirectional' : def.requestStream ? 'client' : 'server';
      throw new PlughostUsageError('PLUGHOST_APP_STREAM_UNSUPPORTED', `${service}.${method} is a ${kind}-streaming method; appService().call() takes unary methods only`, {
        expected: 'a unary method',
        found: `rpc ${method}(${def.requestStream ? 'stream ' : ''}…) returns (${def.responseStream ? 'stream ' : ''}…)`,
        hint: "Call streaming methods on the raw client from appService(...).client(), and handle each stream's 'error' event",
      });
    }
    return def;
  };
  return {
    call: async <T>(method: string, request: object, options: AppServiceCallOptions = {}): Promise<T> => {
      const def = methodOf(method);
      const fields = new Set((def.requestType.type?.field ?? []).map((f) => f.name));
      for (const field of Object.keys(options.broker ?? {})) {
        if (!fields.has(field)) throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `${service}.${method} has no request field "${field}" to carry a broker id`, { found: [...fields].join(', ') });
      }
      const [instance, rest] = await acquire({ timeoutMs: options.timeoutMs ?? callTimeoutMs });
      const client = clientFor(instance) as grpc.Client & Record<string, Function>;
      const timeout = rest.timeoutMs;
      const plugin = instance.spec?.name ?? service;
      const leases: BrokerLease[] = [];
      const lent: Record<string, unknown> = { ...request };
      try {
        for (const [field, name] of Object.entries(options.broker ?? {})) {
          if (!instance.broker) throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `plugin "${plugin}" has no GRPCBroker (it is not a go-plugin plugin)`, { hint: 'plughost SDK plugins call host services with ctx.host.call' });
          const lease = await instance.broker.serve(name);
          leases.push(lease);
          lent[field] = lease.id;
        }
      } catch (err) {
        for (const lease of leases) lease.close();
        throw err;
      }
      return new Promise<T>((resolve, reject) => {
        let settled = false;
        let release = (): void => {};
        const settle = (err: Error | null, res?: T): void => {
          if (settled) return;
          settled = true;
          release();
          for (const lease of leases) lease.close();
          if (err) reject(err);
          else resolve(res as T);
        };
        const leased = new Set(leases.map((l) => l.id));
        const candidates = uint32Fields(def.requestType.type?.field ?? [], lent).filter((c) => !leased.has(c.id));
        const call = client[method]!(lent, { deadline: timeout === undefined ? Infinity : Date.now() + timeout }, (err: grpc.ServiceError | null, res: T) =>
          settle(err !== null && /timeout waiting for connection info/.test(err.details ?? '') ? hostServiceNotFound(plugin, service, method, candidates, null) : err, res),
        ) as grpc.ClientUnaryCall;
        release =
          instance.broker?.watch(
            candidates.map((c) => c.id),
            (id) => {
              settle(hostServiceNotFound(plugin, service, method, candidates, id));
              call.cancel();
            },
          ) ?? release;
      });
    },
    client: async () => clientFor((await acquire({}))[0]),
  };
}

function hostServiceNotFound(
  plugin: string,
  service: string,
  method: string,
  candidates: ReadonlyArray<{ field: string; id: number }>,
  dialled: number | null,
): PlughostUsageError {
  const via = dialled === null ? 'an id the host never announced' : `id ${dialled} (${candidates.filter((c) => c.id === dialled).map((c) => `the request's ${c.field}`).join(', ')})`;
  return new PlughostUsageError(
    'PLUGHOST_HOST_SERVICE_NOT_FOUND',
    `plugin "${plugin}" called back into the host through go-plugin's GRPCBroker during ${service}.${method}, for a service this call did not lend it`,
    {
      expected: 'a broker id the call lent (its `broker` option)',
      found: `a broker Dial of ${via}`,
      hint: "Lend the host service for the field that carries the id: call(method, request, { broker: { field: 'ServiceName' } })",
    },
  );
}
