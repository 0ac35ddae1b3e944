// `npm run bench -- remote`: a remote plugin (the TypeScript textstats plugin
// in server mode, over TCP loopback) against the same plugin as a local
// subprocess, and both against the raw Unix-socket echo floor, in one run.
// Loopback hides the network's own latency: add your round trip to the
// remote figures.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { createHost, silentLogger, type Host, type RemotePlugin, type RemotePluginOptions } from '../src/index.js';
import { oneTimeIdentity } from '../src/protocol/certificates.js';
import { floorEcho, percentile, throughput, timeSequential } from './dynamic.js';
import { printTable } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const plugin = path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js');
const payload = Buffer.alloc(16, 7);

interface Path {
  readonly name: string;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly callsPerSec: number;
}

export interface RemoteBenchResult {
  readonly bench: 'remote';
  readonly machine: Record<string, unknown>;
  readonly floorP50Us: number;
  readonly paths: readonly Path[];
}

interface Caller {
  call(method: string, payload: Uint8Array): Promise<Uint8Array>;
}

async function measure(name: string, target: Caller, n: number, ms: number): Promise<Path> {
  const samples = await timeSequential(n, () => target.call('echo', payload));
  return { name, p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), callsPerSec: await throughput(target, 64, ms) };
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [plugin], { env: { PATH: process.env.PATH ?? '', PLUGHOST_LISTEN: '127.0.0.1:0', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^PLUGHOST_LISTENING (\S+)/.exec(line);
      if (m) resolve({ child, address: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`plugin server exited (${code}) before listening`)));
  });
}

export async function runRemoteBench(opts: { quick?: boolean; log: (s: string) => void }): Promise<RemoteBenchResult> {
  const n = opts.quick ? 1000 : 5000;
  const ms = opts.quick ? 500 : 1500;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bench-remote-'));
  const servers: ChildProcess[] = [];
  let host: Host | undefined;
  try {
    // Self-signed one-time identities serve as their own CAs: the server's for the host, the host's for the server.
    const write = (name: string, identity: { cert: string; key: string }): { cert: string; key: string } => {
      fs.writeFileSync(path.join(dir, `${name}.crt`), identity.cert);
      fs.writeFileSync(path.join(dir, `${name}.key`), identity.key, { mode: 0o600 });
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    };
    const server = write('server', oneTimeIdentity());
    const client = write('client', oneTimeIdentity());
    const tlsEnv = { PLUGHOST_TLS_CERT: server.cert, PLUGHOST_TLS_KEY: server.key, PLUGHOST_TLS_CLIENT_CA: client.cert };
    host = createHost({ buildId: 'bench', logger: silentLogger });

    opts.log('floor: raw Unix-socket echo ...');
    const floor = await floorEcho(n);
    const paths: Path[] = [];
    opts.log('local subprocess (Channel) ...');
    const local = await host.loadDynamic({ name: 'local', command: [process.execPath, plugin] });
    paths.push(await measure('local subprocess, Unix socket (Channel)', local, n, ms));
    await local.close();
    opts.log('local subprocess over AutoMTLS ...');
    const localTls = await host.loadDynamic({ name: 'local-tls', command: [process.execPath, plugin], tls: 'auto' });
    paths.push(await measure('local subprocess, AutoMTLS (Channel)', localTls, n, ms));
    await localTls.close();

    const connect = async (name: string, endpoints: string[], tls: RemotePluginOptions['tls']): Promise<RemotePlugin> =>
      host!.connect({ name, endpoints, tls });
    opts.log('remote, plaintext loopback ...');
    const plain = await startServer({ PLUGHOST_INSECURE: '1' });
    servers.push(plain.child);
    paths.push(await measure('remote, TCP loopback, plaintext (Channel streams)', await connect('remote-plain', [plain.address], false), n, ms));
    opts.log('remote, mutual TLS, 1 and 3 endpoints ...');
    const tlsServers = await Promise.all([0, 1, 2].map(() => startServer(tlsEnv)));
    servers.push(...tlsServers.map((s) => s.child));
    const mtls = { ca: server.cert, cert: client.cert, key: client.key, serverName: 'localhost' };
    paths.push(await measure('remote, TCP loopback, mutual TLS (Channel streams)', await connect('remote-tls', [tlsServers[0]!.address], mtls), n, ms));
    paths.push(await measure('remote, mutual TLS, 3 endpoints round-robin', await connect('remote-3', tlsServers.map((s) => s.address), mtls), n, ms));
    return {
      bench: 'remote',
      machine: { node: process.version, arch: process.arch, cpus: os.cpus().length, cpu: os.cpus()[0]?.model },
      floorP50Us: percentile(floor, 50),
      paths,
    };
  } finally {
    await host?.close();
    for (const child of servers) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function printRemoteBench(r: RemoteBenchResult): void {
  const local = r.paths[0]!;
  printTable('Remote vs local subprocess, 16-byte echo (sequential p50 / p99; 64 concurrent callers)', ['path', 'p50', 'p99', 'x floor', 'calls/s', 'x local calls/s'], [
    ['floor: raw length-prefixed Unix-socket echo', `${r.floorP50Us.toFixed(1)} µs`, '', '1.0', '', ''],
    ...r.paths.map((p) => [
      p.name,
      `${p.p50Us.toFixed(1)} µs`,
      `${p.p99Us.toFixed(1)} µs`,
      (p.p50Us / r.floorP50Us).toFixed(1),
      Math.round(p.callsPerSec).toLocaleString('en-US'),
      (p.callsPerSec / local.callsPerSec).toFixed(2),
    ]),
  ]);
}
