// serve(): the plugin's whole start-up (docs/protocol.md §1): check the
// environment, listen on a Unix socket (TLS with AutoMTLS), print the
// handshake line, then stay until the host says Shutdown, closes stdin, or
// goes away. With PLUGHOST_LISTEN it serves remote hosts instead (remote.ts).
import fs from 'node:fs';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { formatHandshake, SERVER_ENV } from '../protocol/handshake.js';
import { autoMtls, type AutoMtls } from './credentials.js';
import { readSettings, refuse, StartRefused } from './environment.js';
import { watchHost } from './lifetime.js';
import { bind, pluginServer } from './plugin-server.js';
import { serveRemote } from './remote.js';
import type { PluginDefinition, RunningPlugin } from './types.js';

/** Linux's limit for a socket path (sun_path, with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long close() lets in-flight RPCs finish before dropping connections. */
const CLOSE_GRACE_MS = 100;

function validate(def: PluginDefinition): void {
  if (typeof def?.name !== 'string' || def.name === '') throw new TypeError('serve(): `name` must be a non-empty string');
  if (typeof def.version !== 'string') throw new TypeError('serve(): `version` must be a string');
  const check = (group: 'methods' | 'batch' | 'streams'): void => {
    for (const [name, fn] of Object.entries(def[group] ?? {})) {
      if (typeof fn !== 'function') throw new TypeError(`serve(): ${group}.${name} must be a function`);
    }
  };
  check('methods');
  check('batch');
  check('streams');
  for (const name of Object.keys(def.batch ?? {})) {
    if (!Object.hasOwn(def.methods ?? {}, name)) throw new TypeError(`serve(): batch.${name} has no method "${name}" in \`methods\``);
  }
  for (const name of Object.keys(def.streams ?? {})) {
    if (Object.hasOwn(def.methods ?? {}, name)) throw new TypeError(`serve(): "${name}" is in both \`methods\` and \`streams\``);
  }
  if (def.idempotent !== undefined) {
    if (!Array.isArray(def.idempotent)) throw new TypeError('serve(): `idempotent` must be an array of method names');
    for (const name of def.idempotent) {
      if (typeof name !== 'string' || !Object.hasOwn(def.methods ?? {}, name)) {
        throw new TypeError(`serve(): idempotent lists ${JSON.stringify(name)}, which is not a method in \`methods\``);
      }
    }
  }
  if (def.configure !== undefined && typeof def.configure !== 'function') throw new TypeError('serve(): `configure` must be a function');
  const versions = def.appVersions ?? [1];
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => Number.isInteger(v) && v > 0)) {
    throw new TypeError('serve(): `appVersions` must be a non-empty array of positive integers');
  }
}

let socketCounter = 0;

/**
 * Serves a plugin to the host that started this process. Exits with status 1
 * (message on stderr) when not started by a host or with no app protocol
 * version in common; exits 0 after a Shutdown RPC, when stdin ends, or when
 * the host is gone. With PLUGIN_CLIENT_CERT set (the host's AutoMTLS) it
 * serves TLS, requiring that client certificate.
 *
 * With PLUGHOST_LISTEN=host:port it runs in server mode instead (docs/protocol.md,
 * "Server mode"): no host, no cookie; it serves remote hosts on that TCP
 * address until SIGTERM or SIGINT, then exits 0.
 */
export async function serve(def: PluginDefinition): Promise<RunningPlugin> {
  validate(def);
  if (process.env[SERVER_ENV.listen]) return serveRemote(def);
  const settings = readSettings(def);
  if (settings instanceof StartRefused) refuse(settings.message);
  for (const warning of settings.warnings) process.stderr.write(`${warning}\n`);

  const address = path.join(settings.socketDir, `plugin-${process.pid}-${(socketCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}.sock`);
  if (Buffer.byteLength(address) > MAX_SOCKET_PATH_BYTES) {
    refuse(`plugin "${def.name}": socket path ${address} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter PLUGIN_UNIX_SOCKET_DIR`);
  }
  let tls: AutoMtls | undefined;
  if (settings.clientCert !== undefined) {
    try {
      tls = await autoMtls(settings.clientCert);
    } catch (err) {
      refuse(`plugin "${def.name}": cannot set up AutoMTLS with PLUGIN_CLIENT_CERT: ${(err as Error).message}`);
    }
  }

  let stopWatching = (): void => {};
  const plugin = pluginServer(def, settings.maxMessageBytes, () => exit(CLOSE_GRACE_MS));
  const removeSocket = (): void => {
    try {
      fs.unlinkSync(address);
    } catch {
      // gone already
    }
  };
  let closing: Promise<void> | undefined;
  const close = (graceMs = CLOSE_GRACE_MS): Promise<void> => {
    if (closing !== undefined) return closing;
    stopWatching();
    closing = plugin.close(graceMs).then(() => {
      removeSocket();
      process.off('exit', removeSocket);
    });
    return closing;
  };
  const exit = (graceMs: number): void => void close(graceMs).then(() => process.exit(0));

  try {
    await bind(plugin.server, `unix:${address}`, tls?.credentials ?? grpc.ServerCredentials.createInsecure());
  } catch (err) {
    plugin.server.forceShutdown();
    // One line for the host's log, not a stack: the host reports the exit with this stderr tail.
    refuse(`plugin "${def.name}": cannot listen on ${address}: ${(err as Error).message}`);
  }
  process.on('exit', removeSocket);
  try {
    fs.chmodSync(address, 0o600);
  } catch {
    // the directory is private already when the host made it
  }

  // The handshake: the first and only line the SDK writes on stdout.
  process.stdout.write(`${formatHandshake(settings.appVersion, 'unix', address, tls?.der)}\n`);
  stopWatching = watchHost(settings.parentPid, () => exit(0));
  // Ctrl-C in a terminal reaches the whole process group: the host stops its plugins itself (Shutdown,
  // then signals), so a plugin does not die under it first and leave its socket behind (as the Python SDK).
  process.on('SIGINT', () => {});

  return { address, appVersion: settings.appVersion, host: plugin.host, close: () => close() };
}
