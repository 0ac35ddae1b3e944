// serve(): the plugin's whole start-up (docs/protocol.md §1): check the
// environment, listen on a Unix socket, print the handshake line, then stay
// until the host says Shutdown, closes stdin, or goes away.
import fs from 'node:fs';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { formatHandshake } from '../protocol/handshake.js';
import { ControllerService, HealthService, PluginService, StdioService } from '../protocol/services.js';
import { Dispatcher } from './dispatcher.js';
import { readSettings, StartRefused } from './environment.js';
import { watchHost } from './lifetime.js';
import { controllerService, healthService, OpenStreams, pluginService, stdioService } from './services.js';
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
  if (def.configure !== undefined && typeof def.configure !== 'function') throw new TypeError('serve(): `configure` must be a function');
  const versions = def.appVersions ?? [1];
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => Number.isInteger(v) && v > 0)) {
    throw new TypeError('serve(): `appVersions` must be a non-empty array of positive integers');
  }
}

function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function bind(server: grpc.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`unix:${address}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
}

let socketCounter = 0;

/**
 * Serves a plugin to the host that started this process. Exits with status 1
 * (message on stderr) when not started by a host or with no app protocol
 * version in common; exits 0 after a Shutdown RPC, when stdin ends, or when
 * the host is gone.
 */
export async function serve(def: PluginDefinition): Promise<RunningPlugin> {
  validate(def);
  const settings = readSettings(def);
  if (settings instanceof StartRefused) refuse(settings.message);
  for (const warning of settings.warnings) process.stderr.write(`${warning}\n`);

  const address = path.join(settings.socketDir, `plugin-${process.pid}-${(socketCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}.sock`);
  if (Buffer.byteLength(address) > MAX_SOCKET_PATH_BYTES) {
    refuse(`plugin "${def.name}": socket path ${address} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter PLUGIN_UNIX_SOCKET_DIR`);
  }

  const max = settings.maxMessageBytes;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max });
  const dispatcher = new Dispatcher(def, max);
  const open = new OpenStreams();
  let closing: Promise<void> | undefined;
  let stopWatching = (): void => {};
  const removeSocket = (): void => {
    try {
      fs.unlinkSync(address);
    } catch {
      // gone already
    }
  };

  const close = (graceMs = CLOSE_GRACE_MS): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      stopWatching();
      open.endAll();
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        removeSocket();
        process.off('exit', removeSocket);
        resolve();
      });
    }));
  const exit = (graceMs: number): void => void close(graceMs).then(() => process.exit(0));

  server.addService(HealthService, healthService(open));
  server.addService(ControllerService, controllerService(() => exit(CLOSE_GRACE_MS)));
  server.addService(StdioService, stdioService(open));
  server.addService(PluginService, pluginService(def, dispatcher, open));

  try {
    await bind(server, address);
  } catch (err) {
    server.forceShutdown();
    throw new Error(`plugin "${def.name}": cannot listen on ${address}: ${(err as Error).message}`, { cause: err });
  }
  process.on('exit', removeSocket);
  try {
    fs.chmodSync(address, 0o600);
  } catch {
    // the directory is private already when the host made it
  }

  // The handshake: the first and only line the SDK writes on stdout.
  process.stdout.write(`${formatHandshake(settings.appVersion, 'unix', address)}\n`);
  stopWatching = watchHost(settings.parentPid, () => exit(0));

  return { address, appVersion: settings.appVersion, close: () => close() };
}
