// The go-plugin handshake: environment the host sets, the line a plugin prints.
// Specified in docs/protocol.md section 1.

/** The magic cookie plughost's own plugins (TypeScript and Python SDKs) expect. */
export const PLUGHOST_COOKIE = Object.freeze({ key: 'PLUGHOST_PLUGIN_COOKIE', value: '7c1f3e0a-plughost-dynamic-v1' });

export const ENV = Object.freeze({
  protocolVersions: 'PLUGIN_PROTOCOL_VERSIONS',
  socketDir: 'PLUGIN_UNIX_SOCKET_DIR',
  parentPid: 'PLUGHOST_PARENT_PID',
  maxMessageBytes: 'PLUGHOST_MAX_MESSAGE_BYTES',
});

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface HandshakeLine {
  readonly core: number;
  readonly app: number;
  readonly network: 'unix' | 'tcp';
  readonly address: string;
  readonly protocol: string;
  readonly serverCert: string;
}

/** The line a plugin prints once its server listens (no trailing newline). */
export function formatHandshake(app: number, network: 'unix' | 'tcp', address: string): string {
  return `1|${app}|${network}|${address}|grpc`;
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
