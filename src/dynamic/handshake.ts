// Parsing a plugin's handshake line (docs/protocol.md section 1).
import path from 'node:path';

import { PluginHandshakeError } from '../errors.js';
import { certificateFromHandshake } from '../protocol/certificates.js';
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

/** `tls`: the host asked for AutoMTLS (set PLUGIN_CLIENT_CERT), so the line must carry the plugin's certificate. */
export function parseHandshake(line: string, offeredVersions: readonly number[], plugin: string, tls = false): HandshakeLine {
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
    // A plaintext TCP port is open to every local user; a Unix socket in a private directory is not.
    if (!tls) throw fail('PLUGHOST_HANDSHAKE_BAD_ADDRESS', 'a tcp address without TLS', "a unix socket, or tcp with tls: 'auto'", address!);
  } else {
    throw fail('PLUGHOST_HANDSHAKE_BAD_ADDRESS', 'unknown network', 'unix or tcp', String(network));
  }
  if (!tls) {
    if (serverCert !== '') throw fail('PLUGHOST_HANDSHAKE_TLS', 'a server certificate the host did not ask for', "empty field 6 (or tls: 'auto' on the plugin)", 'a certificate');
    return { core: CORE_PROTOCOL_VERSION, app: appVersion, network, address: address!, protocol, serverCert: '' };
  }
  let pem: string;
  try {
    pem = certificateFromHandshake(serverCert);
  } catch (err) {
    throw fail('PLUGHOST_HANDSHAKE_TLS', `no valid server certificate (${serverCert === '' ? 'field 6 is empty' : (err as Error).message})`, 'field 6: the DER of its certificate, base64', serverCert === '' ? '(empty)' : `${serverCert.slice(0, 40)}…`);
  }
  return { core: CORE_PROTOCOL_VERSION, app: appVersion, network, address: address!, protocol, serverCert: pem };
}
