// Parsing a plugin's handshake line (docs/protocol.md section 1).
import path from 'node:path';

import { PluginHandshakeError } from '../errors.js';
import { CORE_PROTOCOL_VERSION } from '../protocol/services.js';
import type { HandshakeLine } from '../protocol/handshake.js';

/**
 * Whether a stdout line is meant as the handshake (and so must be valid)
 * rather than noise a plugin printed before it: `N|N|network|address...`.
 * A missing PROTOCOL field (old net/rpc plugins) still counts, to be refused.
 */
export function looksLikeHandshake(line: string): boolean {
  return /^\s*\d+\|\d+\|[a-z]*\|/.test(line);
}

export function parseHandshake(line: string, offeredVersions: readonly number[], plugin: string): HandshakeLine {
  const fields = line.trim().split('|');
  const [core, app, network, address, protocol = '', serverCert = ''] = fields;
  const fail = (code: ConstructorParameters<typeof PluginHandshakeError>[0], what: string, expected: string, found: string) =>
    new PluginHandshakeError(code, `plugin "${plugin}": ${what} in handshake ${JSON.stringify(line.trim())}`, {
      expected,
      found,
    });

  if (Number(core) !== CORE_PROTOCOL_VERSION) {
    throw fail('PLUGHOST_HANDSHAKE_CORE_VERSION', 'unsupported core protocol version', String(CORE_PROTOCOL_VERSION), String(core));
  }
  const appVersion = Number(app);
  if (!offeredVersions.includes(appVersion)) {
    throw fail('PLUGHOST_HANDSHAKE_APP_VERSION', 'app protocol version the host did not offer', offeredVersions.join(','), String(app));
  }
  if (protocol !== 'grpc') {
    throw new PluginHandshakeError(
      'PLUGHOST_HANDSHAKE_PROTOCOL',
      `plugin "${plugin}" speaks ${protocol ? `"${protocol}"` : 'no protocol (an old net/rpc go-plugin)'}, plughost only gRPC`,
      {
        expected: 'grpc',
        found: protocol || '(missing)',
        hint: 'Serve the plugin with go-plugin\'s GRPCServer (plugin.ServeConfig{GRPCServer: plugin.DefaultGRPCServer})',
      },
    );
  }
  if (network === 'unix') {
    if (!address || !path.isAbsolute(address)) {
      throw fail('PLUGHOST_HANDSHAKE_BAD_ADDRESS', 'bad unix socket path', 'an absolute path', address || '(empty)');
    }
  } else if (network === 'tcp') {
    if (!/^[^\s|]+:\d{1,5}$/.test(address ?? '')) {
      throw fail('PLUGHOST_HANDSHAKE_BAD_ADDRESS', 'bad tcp address', 'host:port', address || '(empty)');
    }
  } else {
    throw fail('PLUGHOST_HANDSHAKE_BAD_ADDRESS', 'unknown network', 'unix or tcp', String(network));
  }
  if (serverCert !== '') {
    throw fail('PLUGHOST_HANDSHAKE_PROTOCOL', 'a server certificate (AutoMTLS is not supported yet)', 'empty field 6', 'a certificate');
  }
  return { core: CORE_PROTOCOL_VERSION, app: appVersion, network, address: address!, protocol, serverCert };
}
