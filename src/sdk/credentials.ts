// The server's TLS: go-plugin's AutoMTLS when a host started the plugin
// (docs/protocol.md, "TLS"), or the operator's files in server mode.
import * as grpc from '@grpc/grpc-js';

import type { ServerTls } from './remote-settings.js';

export interface AutoMtls {
  readonly credentials: grpc.ServerCredentials;
  /** The one-time certificate's DER, for the handshake's field 6. */
  readonly der: Uint8Array;
}

/**
 * A one-time certificate of the plugin's own, and a server that requires a
 * client certificate verifying against the host's (PLUGIN_CLIENT_CERT).
 * certificates.ts (node-forge) is loaded only here: most plugins never need it.
 */
export async function autoMtls(clientCertPem: string): Promise<AutoMtls> {
  const { oneTimeIdentity } = await import('../protocol/certificates.js');
  const identity = oneTimeIdentity();
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(clientCertPem),
    [{ private_key: Buffer.from(identity.key), cert_chain: Buffer.from(identity.cert) }],
    true,
  );
  return { credentials, der: identity.der };
}

/** Server mode: TLS from the files (mutual when there is a client CA), or plaintext. */
export function serverModeCredentials(tls: ServerTls | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const pair = [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }];
  return tls.clientCa === undefined
    ? grpc.ServerCredentials.createSsl(null, pair, false)
    : grpc.ServerCredentials.createSsl(Buffer.from(tls.clientCa), pair, true);
}
