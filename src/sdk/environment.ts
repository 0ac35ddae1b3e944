// What the host tells the plugin through its environment (docs/protocol.md §1).
import os from 'node:os';

import { DEFAULT_MAX_MESSAGE_BYTES, ENV, negotiateVersion, PLUGHOST_COOKIE } from '../protocol/handshake.js';
import type { PluginDefinition } from './types.js';

export interface Settings {
  readonly appVersion: number;
  readonly socketDir: string;
  readonly maxMessageBytes: number;
  /** The host's PID, if it said. */
  readonly parentPid: number | undefined;
  /** Things worth a line on stderr (not fatal). */
  readonly warnings: string[];
}

/** A reason the plugin must exit with status 1 before serving. */
export class StartRefused {
  constructor(readonly message: string) {}
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
  const warnings: string[] = [];
  let maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
  const max = env[ENV.maxMessageBytes];
  if (max !== undefined && max !== '') {
    const n = Number(max);
    if (Number.isSafeInteger(n) && n >= 1024) maxMessageBytes = n;
    else warnings.push(`plugin "${def.name}": ignoring ${ENV.maxMessageBytes}=${JSON.stringify(max)} (want an integer >= 1024), using ${maxMessageBytes}`);
  }
  const pid = Number(env[ENV.parentPid]);
  return {
    appVersion,
    socketDir: env[ENV.socketDir] || os.tmpdir(),
    maxMessageBytes,
    parentPid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined,
    warnings,
  };
}
