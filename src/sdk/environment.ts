// What the host tells the plugin through its environment (docs/protocol.md §1).
import crypto from 'node:crypto';
import os from 'node:os';

import { DEFAULT_MAX_MESSAGE_BYTES, ENV, negotiateVersion, PLUGHOST_COOKIE } from '../protocol/handshake.js';
import type { PluginDefinition } from './types.js';

export interface Settings {
  readonly appVersion: number;
  readonly socketDir: string;
  readonly maxMessageBytes: number;
  /** The host's PID, if it said. */
  readonly parentPid: number | undefined;
  /** AutoMTLS: the host's client certificate (PEM); set, the plugin serves TLS. */
  readonly clientCert: string | undefined;
  /** Things worth a line on stderr (not fatal). */
  readonly warnings: string[];
}

/** A reason the plugin must exit with status 1 before serving. */
export class StartRefused {
  constructor(readonly message: string) {}
}

/** Exits with status 1 and `message` on stderr: the plugin cannot serve as configured. */
export function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** PLUGHOST_MAX_MESSAGE_BYTES, or the default (with a warning when it was unusable). */
export function maxMessageBytesOf(def: PluginDefinition, env: NodeJS.ProcessEnv, warnings: string[]): number {
  const max = env[ENV.maxMessageBytes];
  if (max === undefined || max === '') return DEFAULT_MAX_MESSAGE_BYTES;
  const n = Number(max);
  if (Number.isSafeInteger(n) && n >= 1024) return n;
  warnings.push(`plugin "${def.name}": ignoring ${ENV.maxMessageBytes}=${JSON.stringify(max)} (want an integer >= 1024), using ${DEFAULT_MAX_MESSAGE_BYTES}`);
  return DEFAULT_MAX_MESSAGE_BYTES;
}

export function readSettings(def: PluginDefinition, env: NodeJS.ProcessEnv = process.env): Settings | StartRefused {
  const cookie = def.cookie ?? PLUGHOST_COOKIE;
  if (env[cookie.key] !== cookie.value) {
    return new StartRefused(
      `plugin "${def.name}": this program is a plughost plugin, meant to be started by a plughost (or go-plugin) host, ` +
        `not run directly (environment variable ${cookie.key} is ${env[cookie.key] === undefined ? 'missing' : 'wrong'})`,
    );
  }
  const supported = def.appVersions ?? [1];
  const offered = env[ENV.protocolVersions];
  const appVersion = negotiateVersion(offered, supported);
  if (appVersion === undefined) {
    return new StartRefused(
      `plugin "${def.name}": no app protocol version in common: the host offers ${JSON.stringify(offered ?? '')} ` +
        `(${ENV.protocolVersions}), the plugin speaks ${supported.join(',')}`,
    );
  }
  const clientCert = env[ENV.clientCert] || undefined;
  if (clientCert !== undefined) {
    try {
      new crypto.X509Certificate(clientCert);
    } catch (err) {
      return new StartRefused(`plugin "${def.name}": ${ENV.clientCert} is not a PEM certificate (${(err as Error).message})`);
    }
  }
  const warnings: string[] = [];
  const maxMessageBytes = maxMessageBytesOf(def, env, warnings);
  const pid = Number(env[ENV.parentPid]);
  return {
    appVersion,
    socketDir: env[ENV.socketDir] || os.tmpdir(),
    maxMessageBytes,
    parentPid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined,
    clientCert,
    warnings,
  };
}
