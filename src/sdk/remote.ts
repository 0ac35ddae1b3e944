// Server mode (docs/protocol.md, "Server mode"): the plugin is not started by
// a host but serves remote hosts on a TCP address until SIGTERM/SIGINT. No
// parent or stdin watch (nothing owns it), and no client may stop it.
import { LISTENING_PREFIX } from '../protocol/handshake.js';
import { serverModeCredentials } from './credentials.js';
import { refuse, StartRefused } from './environment.js';
import { bind, pluginServer } from './plugin-server.js';
import { formatAddress } from '../protocol/addresses.js';
import { readRemoteSettings } from './remote-settings.js';
import type { PluginDefinition, RunningPlugin } from './types.js';

/** What SIGTERM/SIGINT give RPCs in flight (Channel calls are cancelled at once: the stream outlives any grace). */
const STOP_GRACE_MS = 5_000;
/** What close() gives them. */
const CLOSE_GRACE_MS = 100;

export async function serveRemote(def: PluginDefinition): Promise<RunningPlugin> {
  const settings = readRemoteSettings(def);
  if (settings instanceof StartRefused) refuse(settings.message);
  for (const warning of settings.warnings) process.stderr.write(`${warning}\n`);

  const wanted = formatAddress(settings.host, settings.port);
  const plugin = pluginServer(def, settings.maxMessageBytes, undefined);
  let port: number;
  try {
    port = await bind(plugin.server, wanted, serverModeCredentials(settings.tls));
  } catch (err) {
    plugin.server.forceShutdown();
    refuse(`plugin "${def.name}": server mode: cannot listen on ${wanted}: ${(err as Error).message}`);
  }
  const address = formatAddress(settings.host, port);

  const stop = (): void => void plugin.close(STOP_GRACE_MS).then(() => process.exit(0));
  // on, not once: a second signal during the grace must not kill it with 143 instead of exiting 0.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The one line the SDK writes on stdout, as the handshake is in host mode.
  process.stdout.write(`${LISTENING_PREFIX} ${address} ${settings.tls === undefined ? 'plaintext' : 'tls'}\n`);

  return { address, appVersion: settings.appVersion, host: plugin.host, close: () => plugin.close(CLOSE_GRACE_MS) };
}
