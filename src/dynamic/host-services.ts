// Services the host offers its plugins (docs/dynamic-plugins.md, "Host
// services"). One table describes them for every path: plughost SDK plugins
// call them by name over their Channel (host-call-server.ts), go-plugin
// plugins dial the gRPC ones through GRPCBroker (app-broker.ts).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { HostServiceError, PlughostUsageError } from '../errors.js';
import type { Logger } from '../logger.js';

/** What a host service is told of the call it serves. */
export interface HostCallContext {
  /** The calling plugin's name. */
  readonly plugin: string;
  /** The service name the plugin called (for a gRPC service's method: `name/Method`). */
  readonly service: string;
  /** Aborted when the plugin gives up, the deadline passes, or the plugin goes away. */
  readonly signal: AbortSignal;
  /** When the plugin stops waiting (epoch ms). */
  readonly deadline: number;
}

/** Bytes in, bytes (or a string, sent as UTF-8) out. Throw to fail the call (see docs on what reaches the plugin). */
export type HostFunction = (payload: Uint8Array, call: HostCallContext) => Uint8Array | string | Promise<Uint8Array | string>;

/** A gRPC service from your .proto, served to go-plugin plugins through GRPCBroker and callable by SDK plugins as `name/Method`. */
export interface GrpcHostService {
  readonly protoFile: string;
  /** Fully qualified service name, e.g. 'proto.AddHelper'. */
  readonly service: string;
  /** Unary methods by name: request object in, response object out. */
  readonly implementation: Readonly<Record<string, (request: any, call: HostCallContext) => object | Promise<object>>>;
  readonly loaderOptions?: protoLoader.Options;
}

export type HostService = HostFunction | GrpcHostService;
export type HostServices = Readonly<Record<string, HostService>>;

interface GrpcEntry {
  readonly name: string;
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: GrpcHostService['implementation'];
}

export class HostServiceTable {
  static readonly empty = new HostServiceTable({});
  readonly #functions = new Map<string, HostFunction>();
  readonly #grpc = new Map<string, GrpcEntry>();
  /** What the table was made from, for with(). */
  readonly #given: HostServices;
  /** The names SDK plugins may call (DescribeRequest.host_services). */
  readonly names: readonly string[];
  /** The same names, for has() on every host call. */
  readonly #named: ReadonlySet<string>;

  constructor(services: HostServices) {
    if (services === null || typeof services !== 'object') throw invalid('`services` must be an object of host services by name', String(services));
    this.#given = services;
    const names: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw invalid(`host service name ${JSON.stringify(name)} must be letters, digits, '_', '.' or '-'`, name);
      if (typeof service === 'function') {
        this.#functions.set(name, service);
        names.push(name);
        continue;
      }
      const entry = loadGrpcService(name, service);
      this.#grpc.set(name, entry);
      for (const method of Object.keys(entry.definition)) names.push(`${name}/${method}`);
    }
    this.names = Object.freeze(names);
    this.#named = new Set(names);
  }

  /** This table with `more` added (a plugin's own services on top of the host's; the plugin's win on a clash). */
  with(more: HostServices | undefined): HostServiceTable {
    if (more === undefined || Object.keys(more).length === 0) return this;
    return new HostServiceTable({ ...this.#given, ...more });
  }

  has(service: string): boolean {
    return this.#named.has(service);
  }

  /** Runs `service` on `payload`; undefined when there is no such service. */
  invoke(service: string, payload: Uint8Array, call: HostCallContext): Promise<Uint8Array | string> | undefined {
    const fn = this.#functions.get(service);
    if (fn !== undefined) return Promise.resolve().then(() => fn(payload, call));
    const slash = service.indexOf('/');
    if (slash < 0) return undefined;
    const entry = this.#grpc.get(service.slice(0, slash));
    const method = entry?.definition[service.slice(slash + 1)];
    const impl = entry?.implementation[service.slice(slash + 1)];
    if (method === undefined || impl === undefined) return undefined;
    return Promise.resolve().then(async () => {
      const request = method.requestDeserialize(Buffer.from(payload));
      return new Uint8Array(method.responseSerialize(await impl(request, call)));
    });
  }

  /** A gRPC host service by name, for GRPCBroker; undefined when there is none. */
  grpcService(name: string): GrpcEntry | undefined {
    return this.#grpc.get(name);
  }
}

/**
 * What a plugin hears of a host service's failure, on every path: the code
 * and message of a HostServiceError, thrown to be heard; for anything else
 * only PLUGHOST_HOST_SERVICE_FAILED, the error itself staying in the host's
 * log (host details must not leak to plugins).
 */
export function serviceFailure(err: unknown, logger: Logger, plugin: string, service: string): { code: string; message: string } {
  if (err instanceof HostServiceError) return { code: err.code, message: err.message };
  logger.log('error', 'host service failed', { plugin, service, error: err instanceof Error ? err.message : String(err) });
  return { code: 'PLUGHOST_HOST_SERVICE_FAILED', message: `host service "${service}" failed (the host logged why)` };
}

function loadGrpcService(name: string, service: GrpcHostService): GrpcEntry {
  if (service === null || typeof service !== 'object' || typeof service.protoFile !== 'string' || typeof service.service !== 'string') {
    throw invalid(`host service "${name}" must be a function or { protoFile, service, implementation }`, typeof service);
  }
  let loaded: protoLoader.PackageDefinition;
  try {
    loaded = protoLoader.loadSync(service.protoFile, { keepCase: true, longs: String, enums: String, defaults: true, ...service.loaderOptions });
  } catch (err) {
    throw invalid(`host service "${name}": cannot load ${service.protoFile}: ${(err as Error).message}`, service.protoFile);
  }
  const definition = loaded[service.service] as grpc.ServiceDefinition | undefined;
  if (definition === undefined || 'format' in definition) throw invalid(`host service "${name}": no service "${service.service}" in ${service.protoFile}`, service.service);
  for (const [method, def] of Object.entries(definition)) {
    if (typeof service.implementation?.[method] !== 'function') throw invalid(`host service "${name}": no implementation of ${service.service}.${method}`, Object.keys(service.implementation ?? {}).join(', '));
    if (def.requestStream || def.responseStream) throw invalid(`host service "${name}": ${service.service}.${method} streams; host services are unary`, method);
  }
  return { name, definition, implementation: service.implementation };
}

function invalid(message: string, found: string): PlughostUsageError {
  return new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', message, { found });
}
