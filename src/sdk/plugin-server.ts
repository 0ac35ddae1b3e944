// A plugin's gRPC server, the same whether a host started it or it serves
// remote hosts: every service of docs/protocol.md §2–3, and how it stops.
import * as grpc from '@grpc/grpc-js';

import { ControllerService, HealthService, PluginService, StdioService } from '../protocol/services.js';
import { Dispatcher } from './dispatcher.js';
import { HostRegistry } from './host-services.js';
import { controllerService, healthService, OpenStreams, pluginService, stdioService } from './services.js';
import type { HostServices, PluginDefinition } from './types.js';

export interface PluginServer {
  readonly server: grpc.Server;
  /** RunningPlugin.host. */
  readonly host: HostServices;
  /**
   * Stops serving, once: health turns NOT_SERVING, open streams end (their
   * calls are cancelled), RPCs in flight get `graceMs` before connections drop.
   */
  close(graceMs: number): Promise<void>;
}

/** `onShutdown`: what GRPCController/Shutdown does; undefined refuses it (server mode). */
export function pluginServer(def: PluginDefinition, maxMessageBytes: number, onShutdown: (() => void) | undefined): PluginServer {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': maxMessageBytes, 'grpc.max_send_message_length': maxMessageBytes });
  const dispatcher = new Dispatcher(def, maxMessageBytes);
  const open = new OpenStreams();
  const registry = new HostRegistry(maxMessageBytes, onShutdown === undefined);
  let closing: Promise<void> | undefined;

  server.addService(HealthService, healthService(open, () => closing !== undefined));
  server.addService(ControllerService, controllerService(onShutdown));
  server.addService(StdioService, stdioService(open));
  // Server mode (no onShutdown) is shared by many hosts: none of them may reconfigure it for the others.
  server.addService(PluginService, pluginService(def, dispatcher, open, registry, onShutdown !== undefined));

  const close = (graceMs: number): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      open.endAll();
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }));
  return { server, host: registry.plugin, close };
}

/** Binds `target` (`unix:/path` or `host:port`); resolves with the bound port (0 for a socket). */
export function bind(server: grpc.Server, target: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(target, credentials, (err, port) => (err ? reject(err) : resolve(port))));
}
