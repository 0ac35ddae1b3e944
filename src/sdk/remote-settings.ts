// Server mode's environment (docs/protocol.md, "Server mode"): the address to
// listen on and the TLS files, all checked before serving, so a misconfigured
// server exits 1 with a message that names the variable rather than a stack.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

import { formatAddress, isLoopback } from '../protocol/addresses.js';
import { SERVER_ENV } from '../protocol/handshake.js';
import { maxMessageBytesOf, StartRefused } from './environment.js';
import type { PluginDefinition } from './types.js';

export interface ServerTls {
  /** PEM: the server's certificate chain and key. */
  readonly cert: string;
  readonly key: string;
  /** PEM: the CA a client's certificate must chain to; undefined: clients need none. */
  readonly clientCa: string | undefined;
}

export interface RemoteSettings {
  /** The host part of PLUGHOST_LISTEN, without the brackets of an IPv6 literal. */
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly appVersion: number;
  readonly maxMessageBytes: number;
  /** Undefined: plaintext (PLUGHOST_INSECURE=1 on a loopback address). */
  readonly tls: ServerTls | undefined;
  readonly warnings: string[];
}

function parseListen(value: string): { host: string; port: number } | string {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (match === null) return `want host:port (an IPv6 address in brackets: [::1]:0), got ${JSON.stringify(value)}`;
  const host = match[1]!;
  const port = Number(match[2]);
  if (value.startsWith('[') && !net.isIPv6(host)) return `${JSON.stringify(host)} in brackets is not an IPv6 address`;
  if (!Number.isInteger(port) || port > 65535) return `port ${match[2]} is not between 0 and 65535`;
  return { host, port };
}

/** Reads and checks the TLS files; a string is why they cannot be used. */
function readTls(env: NodeJS.ProcessEnv): ServerTls | string {
  const read = (variable: string): string => {
    const file = env[variable]!;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${variable} (${file}): ${(err as Error).message}`);
    }
  };
  try {
    const cert = read(SERVER_ENV.tlsCert);
    const key = read(SERVER_ENV.tlsKey);
    const clientCa = env[SERVER_ENV.tlsClientCa] ? read(SERVER_ENV.tlsClientCa) : undefined;
    const parse = <T>(variable: string, what: string, fn: () => T): T => {
      try {
        return fn();
      } catch (err) {
        throw new Error(`${variable} (${env[variable]}) is not ${what}: ${(err as Error).message}`);
      }
    };
    const x509 = parse(SERVER_ENV.tlsCert, 'a PEM certificate', () => new crypto.X509Certificate(cert));
    const privateKey = parse(SERVER_ENV.tlsKey, 'an unencrypted PEM private key', () => crypto.createPrivateKey(key));
    if (!x509.checkPrivateKey(privateKey)) {
      throw new Error(`the key in ${SERVER_ENV.tlsKey} (${env[SERVER_ENV.tlsKey]}) is not the key of the certificate in ${SERVER_ENV.tlsCert} (${env[SERVER_ENV.tlsCert]})`);
    }
    if (clientCa !== undefined) parse(SERVER_ENV.tlsClientCa, 'a PEM certificate', () => new crypto.X509Certificate(clientCa));
    return { cert, key, clientCa };
  } catch (err) {
    return (err as Error).message;
  }
}

export function readRemoteSettings(def: PluginDefinition, env: NodeJS.ProcessEnv = process.env): RemoteSettings | StartRefused {
  const refused = (why: string): StartRefused => new StartRefused(`plugin "${def.name}": server mode (${SERVER_ENV.listen}): ${why}`);
  const listen = parseListen(env[SERVER_ENV.listen] ?? '');
  if (typeof listen === 'string') return refused(`${SERVER_ENV.listen}: ${listen}`);

  const insecureValue = env[SERVER_ENV.insecure] ?? '';
  if (!['', '0', '1'].includes(insecureValue)) return refused(`${SERVER_ENV.insecure} must be 1 (or unset), got ${JSON.stringify(insecureValue)}`);
  const insecure = insecureValue === '1';
  const tlsNames = [SERVER_ENV.tlsCert, SERVER_ENV.tlsKey, SERVER_ENV.tlsClientCa];
  const tlsSet = tlsNames.filter((name) => Boolean(env[name]));
  const address = formatAddress(listen.host, listen.port);

  let tls: ServerTls | undefined;
  if (insecure) {
    if (tlsSet.length > 0) return refused(`${SERVER_ENV.insecure}=1 asks for plaintext, but ${tlsSet.join(' and ')} ask for TLS: set one or the other`);
    if (!isLoopback(listen.host)) {
      return refused(
        `${SERVER_ENV.insecure}=1 serves plaintext, which is allowed on a loopback address only (127.0.0.0/8, ::1, localhost), ` +
          `and ${SERVER_ENV.listen} is ${address}: serve TLS instead (${SERVER_ENV.tlsCert}, ${SERVER_ENV.tlsKey})`,
      );
    }
  } else {
    if (!env[SERVER_ENV.tlsCert] || !env[SERVER_ENV.tlsKey]) {
      const missing = [SERVER_ENV.tlsCert, SERVER_ENV.tlsKey].filter((name) => !env[name]).join(' and ');
      return refused(
        `no TLS configuration (${missing} not set): set ${SERVER_ENV.tlsCert} and ${SERVER_ENV.tlsKey} to PEM files ` +
          `(and ${SERVER_ENV.tlsClientCa} for mutual TLS), or ${SERVER_ENV.insecure}=1 to serve plaintext on a loopback address`,
      );
    }
    const read = readTls(env);
    if (typeof read === 'string') return refused(read);
    tls = read;
  }

  const warnings: string[] = [];
  const maxMessageBytes = maxMessageBytesOf(def, env, warnings);
  return { ...listen, appVersion: Math.max(...(def.appVersions ?? [1])), maxMessageBytes, tls, warnings };
}
