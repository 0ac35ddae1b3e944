// What a user may ask of a remote plugin (plugin servers already running
// elsewhere), checked, with the defaults in one place.
import fs from 'node:fs';
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';

import { PlughostUsageError } from '../errors.js';
import type { PluginObserver } from '../metrics/plugin-observer.js';
import type { HostServices } from '../dynamic/host-services.js';
import { isLoopback } from '../protocol/addresses.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../protocol/handshake.js';

export interface RemoteTls {
  /** PEM file: the CA the servers' certificates must chain to (the only one trusted). */
  readonly ca: string;
  /** PEM files: the host's client certificate and key (mutual TLS). */
  readonly cert: string;
  readonly key: string;
  /** The name the servers' certificates are checked against; default: each address's host. */
  readonly serverName?: string;
}

export interface RemotePluginOptions {
  /** A name for logs, errors and metrics. */
  readonly name: string;
  /**
   * Where the plugin servers are: 'host:port' addresses (several: balanced
   * round-robin), or one 'dns:///name:port' whose name resolves to several
   * addresses (a Kubernetes headless Service), re-resolved as it changes.
   */
  readonly endpoints: readonly string[];
  /** Mutual TLS from files; false: plaintext, allowed for loopback addresses only. */
  readonly tls: RemoteTls | false;
  /** Methods safe to run twice, retried on another endpoint when one is lost mid-call (besides those the plugin's Describe marks). */
  readonly idempotent?: readonly string[];
  /** Default deadline of every call (default: none). */
  readonly callTimeoutMs?: number;
  /** How often each endpoint's health is checked (default 2000). */
  readonly healthIntervalMs?: number;
  /** How long connect() waits for a healthy endpoint and Describe (default 10000). */
  readonly connectTimeoutMs?: number;
  /** How often a dns:/// name is resolved again (default 30000). */
  readonly resolveIntervalMs?: number;
  readonly maxMessageBytes?: number;
  readonly observer?: PluginObserver;
  /** Host services this plugin may call back, on top of createHost({ services }). */
  readonly services?: HostServices;
}

export interface Address {
  readonly host: string;
  readonly port: number;
}

export type EndpointSource = { readonly kind: 'static'; readonly addresses: readonly Address[] } | { readonly kind: 'dns'; readonly host: string; readonly port: number };

export interface RemoteSpec {
  readonly name: string;
  readonly source: EndpointSource;
  readonly credentials: grpc.ChannelCredentials;
  readonly serverName: string | undefined;
  readonly idempotent: ReadonlySet<string>;
  readonly callTimeoutMs: number | undefined;
  readonly healthIntervalMs: number;
  readonly connectTimeoutMs: number;
  readonly resolveIntervalMs: number;
  readonly maxMessageBytes: number;
}

export function remoteSpecOf(options: RemotePluginOptions): RemoteSpec {
  const name = options?.name;
  if (typeof name !== 'string' || name === '') throw usage('PLUGHOST_INVALID_ARGUMENT', 'a remote plugin needs a name', String(name));
  const source = sourceOf(name, options.endpoints);
  return {
    name,
    source,
    ...credentialsOf(name, options.tls, source),
    idempotent: new Set(options.idempotent ?? []),
    callTimeoutMs: options.callTimeoutMs,
    healthIntervalMs: positive(name, 'healthIntervalMs', options.healthIntervalMs, 2_000),
    connectTimeoutMs: positive(name, 'connectTimeoutMs', options.connectTimeoutMs, 10_000),
    resolveIntervalMs: positive(name, 'resolveIntervalMs', options.resolveIntervalMs, 30_000),
    maxMessageBytes: positive(name, 'maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
  };
}

function sourceOf(name: string, endpoints: readonly string[] | undefined): EndpointSource {
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw usage('PLUGHOST_INVALID_ARGUMENT', `remote plugin "${name}" needs endpoints`, JSON.stringify(endpoints));
  const dns = endpoints.find((e) => typeof e === 'string' && e.startsWith('dns:'));
  if (dns !== undefined) {
    const hostPort = /^dns:(?:\/\/[^/]*\/)?([^:/]+):(\d{1,5})$/.exec(dns);
    if (endpoints.length !== 1 || hostPort === null) throw usage('PLUGHOST_INVALID_ARGUMENT', `remote plugin "${name}": a dns: endpoint is one 'dns:///name:port', alone`, endpoints.join(', '));
    return { kind: 'dns', host: hostPort[1]!, port: Number(hostPort[2]) };
  }
  const addresses = endpoints.map((endpoint) => {
    const m = typeof endpoint === 'string' ? /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint) : null;
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) throw usage('PLUGHOST_INVALID_ARGUMENT', `remote plugin "${name}": endpoint must be host:port`, String(endpoint));
    return { host: m[1]!, port: Number(m[2]) };
  });
  return { kind: 'static', addresses };
}

function credentialsOf(name: string, tls: RemoteTls | false | undefined, source: EndpointSource): { credentials: grpc.ChannelCredentials; serverName: string | undefined } {
  if (tls === false) {
    const hosts = source.kind === 'dns' ? [source.host] : source.addresses.map((a) => a.host);
    const remote = hosts.find((h) => !isLoopback(h));
    if (remote !== undefined) {
      throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}": plaintext to ${remote}, which is not a loopback address`, remote, 'Give tls: { ca, cert, key } (mutual TLS); plaintext is for 127.0.0.1 / ::1 / localhost only');
    }
    return { credentials: grpc.credentials.createInsecure(), serverName: undefined };
  }
  if (tls === undefined || tls === null || typeof tls !== 'object') {
    throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}" needs tls: { ca, cert, key } (or false, for loopback only)`, String(tls));
  }
  const read = (what: 'ca' | 'cert' | 'key'): Buffer => {
    const file = tls[what];
    if (typeof file !== 'string' || file === '') throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}": tls.${what} must be a PEM file path`, String(file));
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}": cannot read tls.${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
    }
  };
  // One channel balances every endpoint, so one name is checked against all their certificates.
  const hosts = new Set(source.kind === 'dns' ? [source.host] : source.addresses.map((a) => a.host));
  const only = hosts.size === 1 ? [...hosts][0]! : undefined;
  const serverName = tls.serverName ?? (only !== undefined && net.isIP(only) === 0 ? only : undefined);
  if (serverName === undefined) {
    throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}": which name must the servers' certificates carry?`, [...hosts].join(', '), 'Give tls.serverName (the DNS name in the servers\' certificates); addresses that are IPs or differ need it');
  }
  const [ca, key, cert] = [read('ca'), read('key'), read('cert')];
  try {
    return { credentials: grpc.credentials.createSsl(ca, key, cert), serverName };
  } catch (err) {
    throw usage('PLUGHOST_TLS_CONFIG', `remote plugin "${name}": unusable TLS files: ${(err as Error).message}`, `${tls.ca}, ${tls.cert}, ${tls.key}`);
  }
}

function positive(name: string, what: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw usage('PLUGHOST_INVALID_ARGUMENT', `remote plugin "${name}": ${what} must be a positive number`, String(value));
  return value;
}

function usage(code: 'PLUGHOST_INVALID_ARGUMENT' | 'PLUGHOST_TLS_CONFIG', message: string, found: string, hint?: string): PlughostUsageError {
  return new PlughostUsageError(code, message, hint === undefined ? { found } : { found, hint });
}
