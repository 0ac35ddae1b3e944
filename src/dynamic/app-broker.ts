// go-plugin's GRPCBroker, as far as the host goes until it serves host-side
// services: it notices a plugin that calls back and fails the call typed.
//
// On the wire (go-plugin grpc_broker.go): the plugin serves
// `plugin.GRPCBroker/StartStream`, a bidi stream of ConnInfo{service_id,
// network, address}; a go-plugin host opens it at connect. The host side of
// a callback serves a gRPC server on a listener and sends its ConnInfo under
// a fresh id, which it passes in the request (examples/bidirectional:
// PutRequest.add_server); the plugin's `broker.Dial(id)` waits (5 s) for the
// ConnInfo of that id and connects to it. Nothing crosses the wire while the
// plugin waits, so the host cannot see a Dial itself. Instead, for each
// app-service call, every top-level uint32 field of the request (a broker id
// is a uint32: `Dial(id uint32)`) is announced with the address of a host
// listener that serves nothing: a plugin that dials it has asked for a
// host-side service, and the call fails at once with
// PLUGHOST_BROKER_UNSUPPORTED instead of the plugin's timeout.
import net from 'node:net';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';

import type { Logger } from '../logger.js';
import type { Connection } from './connection.js';
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

export class AppBroker {
  readonly #plugin: string;
  readonly #logger: Logger;
  readonly #stream: grpc.ClientDuplexStream<WireConnInfo, WireConnInfo>;
  readonly #ids = new Map<number, Announced>();
  #dir: string | undefined;
  #open = true;

  constructor(conn: Pick<Connection, 'target' | 'channel'>, plugin: string, logger: Logger) {
    this.#plugin = plugin;
    this.#logger = logger;
    const client = new BrokerClient(conn.target, grpc.credentials.createInsecure(), { channelOverride: conn.channel }) as unknown as grpc.Client & {
      StartStream(): grpc.ClientDuplexStream<WireConnInfo, WireConnInfo>;
    };
    this.#stream = client.StartStream();
    // UNIMPLEMENTED (a plugin without go-plugin's broker), CANCELLED (closed), a dropped connection: the broker is just gone.
    this.#stream.on('error', () => this.#end());
    this.#stream.on('end', () => this.#end());
    this.#stream.on('data', (info: WireConnInfo) =>
      // The plugin offers a service of its own (broker.Accept) for the host to dial: not served either.
      this.#logger.log('warn', 'plugin offered a GRPCBroker service; plughost does not dial broker services', {
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

  close(): void {
    this.#end();
    this.#stream.cancel();
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
