// Plugin servers for the remote tests: the reach fixture (TypeScript SDK) run
// in server mode (PLUGHOST_LISTEN) on loopback, each a real process on its own
// port, with certificates the test made.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

import { dist } from '../dynamic/support.js';

export interface Server {
  readonly id: string;
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
}

/** Starts one server; resolves once it printed its PLUGHOST_LISTENING line. */
export function startServer(id: string, listen: string, tls: ServerTls | 'insecure'): Promise<Server> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', REACH_ID: id, PLUGHOST_LISTEN: listen };
  if (tls === 'insecure') env.PLUGHOST_INSECURE = '1';
  else {
    env.PLUGHOST_TLS_CERT = tls.cert;
    env.PLUGHOST_TLS_KEY = tls.key;
    if (tls.clientCa !== undefined) env.PLUGHOST_TLS_CLIENT_CA = tls.clientCa;
  }
  const child = spawn(process.execPath, [dist('test/fixtures/dynamic/reach-plugin.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise<Server>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^PLUGHOST_LISTENING (\S+) /.exec(line);
      if (m !== null) resolve({ id, address: m[1]!, child, exited });
    });
    void exited.then(() => reject(new Error(`server ${id} exited before listening: ${stderr}`)));
  });
}

export async function stopServer(server: Server, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  await server.exited;
}
