// go-plugin's GRPCBroker, host side (docs/protocol.md section 4): host
// services for go-plugin plugins, which cannot make host calls on a Channel.
//
// On the wire (go-plugin grpc_broker.go): the plugin serves
// `plugin.GRPCBroker/StartStream`, a bidi stream of ConnInfo{service_id,
// network, address}; the host opens it at connect. To offer a service for one
// call, the host serves it with a gRPC server on a listener of its own and
// sends its ConnInfo under a fresh id, which the call carries in its request
// (examples/bidirectional: PutRequest.add_server); the plugin's
// `broker.Dial(id)` waits (5 s) for the ConnInfo of that id and connects.
//
// Nothing crosses the wire while a plugin waits for an id the host never
// announced, so the host cannot see such a Dial itself. Instead, for each
// app-service call, every other top-level uint32 field of the request (a
// broker id is a uint32) is announced with the address of a listener that
// serves nothing: a plugin that dials it asked for a service the host does not
// offer, and the call fails at once with PLUGHOST_HOST_SERVICE_NOT_FOUND
// instead of the plugin's timeout.
import net from 'node:net';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';

import { PlughostUsageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { HOST_CALL_DEFAULT_TIMEOUT_MS } from '../protocol/limits.js';
import type { Connection } from './connection.js';
import type { HostCallReport } from './host-call-server.js';
import { hostIdentity } from './host-identity.js';
import { serviceFailure, type HostServiceTable } from './host-services.js';
import { createSocketDir, removeSocketDir } from './socket-dir.js';

const ConnInfo = new protobuf.Type('ConnInfo')
  .add(new protobuf.Field('service_id', 1, 'uint32'))
  .add(new protobuf.Field('network', 2, 'string'))
  .add(new protobuf.Field('address', 3, 'string'));
new protobuf.Root().define('plugin').add(ConnInfo);

interface WireConnInfo {
  service_id?: number;
  network?: string;
  address?: string;
}

const BrokerClient = grpc.makeGenericClientConstructor(
  {
    StartStream: {
      path: '/plugin.GRPCBroker/StartStream',
      requestStream: true,
      responseStream: true,
      requestSerialize: (value: WireConnInfo) => Buffer.from(ConnInfo.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => ConnInfo.toObject(ConnInfo.decode(bytes)),
      responseSerialize: (value: WireConnInfo) => Buffer.from(ConnInfo.encode(value).finish()),
      responseDeserialize: (bytes: Buffer) => ConnInfo.toObject(ConnInfo.decode(bytes)) as WireConnInfo,
      originalName: 'StartStream',
    },
  },
  'GRPCBroker',
);

/** The plugin's ConnInfo for an id stays in its broker for 5 s; announce again only after this. */
const REANNOUNCE_MS = 4_000;

interface Announced {
  readonly server: net.Server;
  readonly address: string;
  /** When the plugin last got this id's ConnInfo without dialling it yet, else undefined. */
  pendingSince: number | undefined;
  readonly waiters: Set<(id: number) => void>;
}

export interface BrokerOptions {
  readonly plugin: string;
  readonly logger: Logger;
  readonly services: HostServiceTable;
  /** AutoMTLS: the plugin's certificate (PEM): broker servers then serve TLS and accept only it. '' for none. */
  readonly pluginCert: string;
  readonly report?: HostCallReport | undefined;
}

/** A host service served under a broker id for one call. */
export interface BrokerLease {
  readonly id: number;
  close(): void;
}

/** Broker ids the host picks start here, far from the small ids go-plugin plugins pick for their own Accept. */
const FIRST_HOST_ID = 0x40000000;

export class AppBroker {
  readonly #plugin: string;
  readonly #logger: Logger;
  readonly #options: BrokerOptions;
  readonly #stream: grpc.ClientDuplexStream<WireConnInfo, WireConnInfo>;
  readonly #ids = new Map<number, Announced>();
  readonly #leases = new Set<() => void>();
  #nextId = FIRST_HOST_ID;
  #dir: string | undefined;
  #open = true;

  constructor(conn: Pick<Connection, 'target' | 'channel'>, options: BrokerOptions) {
    this.#plugin = options.plugin;
    this.#logger = options.logger;
    this.#options = options;
    const client = new BrokerClient(conn.target, grpc.credentials.createInsecure(), { channelOverride: conn.channel }) as unknown as grpc.Client & {
      StartStream(): grpc.ClientDuplexStream<WireConnInfo, WireConnInfo>;
    };
    this.#stream = client.StartStream();
    // UNIMPLEMENTED (a plugin without go-plugin's broker), CANCELLED (closed), a dropped connection: the broker is just gone.
    this.#stream.on('error', () => this.#end());
    this.#stream.on('end', () => this.#end());
    this.#stream.on('data', (info: WireConnInfo) =>
      // The plugin offers a service of its own (broker.Accept) for the host to dial: plughost does not dial them.
      this.#logger.log('warn', 'plugin offered a GRPCBroker service; plughost does not dial plugin-side broker services', {
        plugin: this.#plugin,
        serviceId: info.service_id ?? 0,
        code: 'PLUGHOST_BROKER_UNSUPPORTED',
      }),
    );
  }

  /**
   * Announces `ids` for one call; `onDial` hears of the plugin dialling one of
   * them. Returns the function that ends the call's interest.
   */
  watch(ids: readonly number[], onDial: (id: number) => void): () => void {
    if (!this.#open || ids.length === 0) return () => {};
    const entries: Announced[] = [];
    for (const id of new Set(ids)) {
      const entry = this.#entry(id);
      if (entry === undefined) continue;
      entry.waiters.add(onDial);
      entries.push(entry);
      const now = Date.now();
      if (entry.pendingSince === undefined || now - entry.pendingSince > REANNOUNCE_MS) {
        entry.pendingSince = now;
        this.#stream.write({ service_id: id, network: 'unix', address: entry.address });
      }
    }
    return () => {
      for (const entry of entries) {
        entry.waiters.delete(onDial);
        // No call waits on this id any more: its listener (an fd) goes, so
        // a plugin's many distinct numbers cannot pile them up.
        if (entry.waiters.size === 0) this.#drop(entry);
      }
    };
  }

  /**
   * Serves host service `name` (a gRPC one) under a fresh broker id, for the
   * plugin to Dial; close the lease when the call that carries the id is over.
   */
  async serve(name: string): Promise<BrokerLease> {
    const service = this.#options.services.grpcService(name);
    if (service === undefined) {
      throw new PlughostUsageError('PLUGHOST_HOST_SERVICE_NOT_FOUND', `no gRPC host service "${name}" for plugin "${this.#plugin}"`, {
        found: this.#options.services.names.join(', ') || 'none',
        hint: "Offer it in createHost({ services: { name: { protoFile, service, implementation } } }) or the plugin's own services",
      });
    }
    if (!this.#open) throw new PlughostUsageError('PLUGHOST_PLUGIN_CLOSED', `plugin "${this.#plugin}" is stopping; its broker is closed`);
    this.#dir ??= createSocketDir();
    do this.#nextId = this.#nextId >= 0xffffffff ? FIRST_HOST_ID : this.#nextId + 1;
    while (this.#ids.has(this.#nextId));
    const id = this.#nextId;
    const address = path.join(this.#dir, `s${id}.sock`);
    const server = new grpc.Server();
    server.addService(service.definition, this.#handlers(name, service.definition, service.implementation));
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${address}`, this.#credentials(), (err) => (err ? reject(err) : resolve())));
    const close = (): void => {
      if (!this.#leases.delete(close)) return;
      server.forceShutdown();
    };
    this.#leases.add(close);
    if (!this.#open) close();
    else this.#stream.write({ service_id: id, network: 'unix', address });
    return { id, close };
  }

  close(): void {
    this.#end();
    this.#stream.cancel();
  }

  #credentials(): grpc.ServerCredentials {
    if (this.#options.pluginCert === '') return grpc.ServerCredentials.createInsecure();
    const identity = hostIdentity();
    return grpc.ServerCredentials.createSsl(Buffer.from(this.#options.pluginCert), [{ private_key: Buffer.from(identity.key), cert_chain: Buffer.from(identity.cert) }], true);
  }

  /** grpc-js handlers around the user's implementation: a failure is a gRPC status for the plugin, never a host crash. */
  #handlers(name: string, definition: grpc.ServiceDefinition, implementation: Readonly<Record<string, (request: any, call: any) => object | Promise<object>>>): grpc.UntypedServiceImplementation {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(definition)) {
      const service = `${name}/${method}`;
      handlers[method] = ((call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        const started = performance.now();
        const controller = new AbortController();
        // The plugin's deadline if it gave one, else the host calls' default: a hung service fails typed, never forever.
        const given = call.getDeadline();
        const deadline = Math.min(given instanceof Date ? given.getTime() : Number(given), Date.now() + HOST_CALL_DEFAULT_TIMEOUT_MS);
        let answered = false;
        const answer = (status: string, err: grpc.ServiceError | Partial<grpc.StatusObject> | null, response?: object): void => {
          if (answered) return;
          answered = true;
          clearTimeout(timer);
          this.#options.report?.(service, status, (performance.now() - started) / 1000);
          callback(err, response);
        };
        const timer = setTimeout(() => {
          controller.abort(new Error('host service deadline passed'));
          answer('PLUGHOST_DEADLINE_EXCEEDED', { code: grpc.status.DEADLINE_EXCEEDED, details: `PLUGHOST_DEADLINE_EXCEEDED: host service "${service}" did not answer in time` });
        }, Math.max(0, deadline - Date.now()));
        call.on('cancelled', () => {
          controller.abort(new Error('the plugin cancelled the call'));
          answer('PLUGHOST_CANCELLED', { code: grpc.status.CANCELLED, details: 'cancelled' });
        });
        Promise.resolve()
          .then(() => implementation[method]!(call.request, { plugin: this.#plugin, service, signal: controller.signal, deadline }))
          .then(
            (response) => answer('ok', null, response),
            (err: unknown) => {
              const failure = serviceFailure(err, this.#logger, this.#plugin, service);
              answer(failure.code, { code: grpc.status.UNKNOWN, details: `${failure.code}: ${failure.message}` });
            },
          );
      }) as grpc.UntypedHandleCall;
    }
    return handlers;
  }

  #entry(id: number): Announced | undefined {
    const known = this.#ids.get(id);
    if (known !== undefined) return known;
    try {
      // Pid-named and private like a socket directory, so it is removed with
      // the host or swept by the next one.
      this.#dir ??= createSocketDir();
    } catch {
      return undefined;
    }
    const address = path.join(this.#dir, `${id}.sock`);
    const entry: Announced = { server: net.createServer(), address, pendingSince: undefined, waiters: new Set() };
    entry.server.on('connection', (socket) => {
      socket.destroy();
      entry.pendingSince = undefined;
      for (const waiter of [...entry.waiters]) waiter(id);
    });
    entry.server.on('error', () => entry.server.close());
    entry.server.listen(address);
    this.#ids.set(id, entry);
    return entry;
  }

  #drop(entry: Announced): void {
    for (const [id, known] of this.#ids) if (known === entry) this.#ids.delete(id);
    entry.server.close();
  }

  #end(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const close of [...this.#leases]) close();
    for (const entry of this.#ids.values()) entry.server.close();
    this.#ids.clear();
    if (this.#dir !== undefined) removeSocketDir(this.#dir);
  }
}

/** The values of the top-level uint32 fields of a request (the candidates for broker ids). */
export function uint32Fields(fields: ReadonlyArray<{ name?: string | null; type?: string | null; jsonName?: string | null }>, request: object): Array<{ field: string; id: number }> {
  const out: Array<{ field: string; id: number }> = [];
  const values = request as Record<string, unknown>;
  for (const f of fields) {
    if (f.type !== 'TYPE_UINT32' || !f.name) continue;
    const camel = f.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const raw = values[f.name] ?? values[camel] ?? 0;
    const id = Number(raw);
    if (Number.isInteger(id) && id >= 0 && id <= 0xffffffff) out.push({ field: f.name, id });
  }
  return out;
}
