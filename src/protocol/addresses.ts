// Network addresses as both sides judge them: which hosts only this machine
// can reach (plaintext is allowed to them alone: the SDK's server mode and the
// host's connect()), and how a host:port is written.
import net from 'node:net';

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (IPv4-mapped loopback too) and localhost: only this machine can reach them. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  if (net.isIPv4(host)) return LOOPBACK.check(host, 'ipv4');
  return net.isIPv6(host) && LOOPBACK.check(host, 'ipv6');
}

/** `host:port`, with brackets around an IPv6 literal. */
export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
