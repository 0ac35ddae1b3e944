// The go-plugin handshake: environment the host sets, the line a plugin prints.
// Specified in docs/protocol.md section 1.

/** The magic cookie plughost's own plugins (TypeScript and Python SDKs) expect. */
export const PLUGHOST_COOKIE = Object.freeze({ key: 'PLUGHOST_PLUGIN_COOKIE', value: '7c1f3e0a-plughost-dynamic-v1' });

export const ENV = Object.freeze({
  protocolVersions: 'PLUGIN_PROTOCOL_VERSIONS',
  socketDir: 'PLUGIN_UNIX_SOCKET_DIR',
  parentPid: 'PLUGHOST_PARENT_PID',
  maxMessageBytes: 'PLUGHOST_MAX_MESSAGE_BYTES',
  /** go-plugin AutoMTLS: the host's client certificate (PEM); set, the plugin serves TLS and puts its certificate in the handshake. */
  clientCert: 'PLUGIN_CLIENT_CERT',
});

/**
 * Server mode (docs/protocol.md, "Server mode"): a plugin program run on its
 * own, not by a host, serving on a TCP address for remote hosts.
 */
export const SERVER_ENV = Object.freeze({
  /** host:port to listen on (port 0: any free one); set, the SDK runs as a server. */
  listen: 'PLUGHOST_LISTEN',
  /** PEM files: the server's certificate and key, and the CA its clients' certificates must chain to. */
  tlsCert: 'PLUGHOST_TLS_CERT',
  tlsKey: 'PLUGHOST_TLS_KEY',
  tlsClientCa: 'PLUGHOST_TLS_CLIENT_CA',
  /** "1": serve plaintext (no TLS files), which the SDKs allow on a loopback address only. */
  insecure: 'PLUGHOST_INSECURE',
});

/** The line a plugin in server mode prints on stdout once it listens: `PLUGHOST_LISTENING <host:port> <tls|plaintext>`. */
export const LISTENING_PREFIX = 'PLUGHOST_LISTENING';

/** The name a go-plugin AutoMTLS certificate is issued to and checked against. */
export const AUTO_MTLS_SERVER_NAME = 'localhost';

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface HandshakeLine {
  readonly core: number;
  readonly app: number;
  readonly network: 'unix' | 'tcp';
  readonly address: string;
  readonly protocol: string;
  /** AutoMTLS: the plugin's certificate (PEM), the only one the host trusts for it; '' without TLS. */
  readonly serverCert: string;
}

/**
 * The line a plugin prints once its server listens (no trailing newline).
 * `serverCert`: for AutoMTLS, its certificate's DER, base64 without padding (go-plugin's encoding).
 */
export function formatHandshake(app: number, network: 'unix' | 'tcp', address: string, serverCert?: Uint8Array): string {
  const line = `1|${app}|${network}|${address}|grpc`;
  return serverCert === undefined ? line : `${line}|${Buffer.from(serverCert).toString('base64').replace(/=+$/, '')}`;
}

/** Highest version in both lists, or undefined. */
export function negotiateVersion(offered: string | undefined, supported: readonly number[]): number | undefined {
  const host = (offered ?? '')
    .split(',')
    .map((v) => Number(v.trim()))
    .filter((v) => Number.isInteger(v) && v > 0);
  const common = supported.filter((v) => host.includes(v));
  return common.length === 0 ? undefined : Math.max(...common);
}
