// The gRPC services of the dynamic path as grpc-js definitions, shared by the
// host (clients) and the TypeScript SDK (server). Messages are encoded with
// protobufjs from a descriptor generated at build time (no .proto parsing).
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';

import { PROTOCOL_DESCRIPTOR } from './descriptor.js';

/** The plughost protocol version this code speaks (DescribeRequest/Response.protocol_version). */
export const PROTOCOL_VERSION = 1;
/** go-plugin's handshake CORE protocol version. */
export const CORE_PROTOCOL_VERSION = 1;
/** The health service name go-plugin plugins report. */
export const HEALTH_SERVICE = 'plugin';

const root = protobuf.Root.fromJSON(PROTOCOL_DESCRIPTOR as unknown as protobuf.INamespace);

function definition(serviceName: string): ServiceDefinition {
  const service = root.lookupService(serviceName);
  const methods: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    methods[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: (value: object) => Buffer.from(req.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => req.decode(bytes),
      responseSerialize: (value: object) => Buffer.from(res.encode(value).finish()),
      responseDeserialize: (bytes: Buffer) => res.decode(bytes),
      originalName: method.name,
    };
  }
  return methods as ServiceDefinition;
}

export const PluginService = definition('plughost.v1.Plugin');
export const HealthService = definition('grpc.health.v1.Health');
export const ControllerService = definition('plugin.GRPCController');
export const StdioService = definition('plugin.GRPCStdio');

// Message shapes as the code handles them (protobufjs camel-cases field names).
export interface WireError {
  code?: string;
  message?: string;
}
export interface WireResult {
  payload?: Uint8Array;
  error?: WireError | null;
}
export interface WireCallRequest {
  method?: string;
  payload?: Uint8Array;
}
export interface WireBatchRequest {
  method?: string;
  payloads?: Uint8Array[];
}
export interface WireBatchResponse {
  results?: WireResult[];
}
export interface WireFrame {
  id?: number;
  call?: WireCallRequest | null;
  result?: WireResult | null;
  batch?: WireBatchRequest | null;
  batchResult?: WireBatchResponse | null;
  open?: { method?: string; window?: number } | null;
  data?: Uint8Array | null;
  end?: { error?: WireError | null } | null;
  cancel?: { reason?: string } | null;
  credit?: { bytes?: number } | null;
  hostCall?: WireHostCall | null;
  hostResult?: WireResult | null;
  hostCancel?: { reason?: string } | null;
}
export interface WireHostCall {
  service?: string;
  payload?: Uint8Array;
  timeoutMs?: number;
}
export interface WireDescribeRequest {
  protocolVersion?: number;
  hostServices?: string[];
}
export interface WireMethodInfo {
  name?: string;
  kind?: number; // 0 UNARY, 1 STREAM
  idempotent?: boolean;
}
export interface WireDescribeResponse {
  name?: string;
  version?: string;
  methods?: WireMethodInfo[];
  capabilities?: string[];
  protocolVersion?: number;
}
export const METHOD_KIND = { UNARY: 0, STREAM: 1 } as const;
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export const STDIO_CHANNEL = { INVALID: 0, STDOUT: 1, STDERR: 2 } as const;
