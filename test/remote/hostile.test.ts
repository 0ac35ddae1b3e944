// A remote plugin server that breaks the rules (test/fixtures/remote/
// hostile-server.mjs) must not hang the host's connect(), grow its metrics,
// or run more of its services at once than the bound; and a host that closes
// under traffic fails the queued calls typed rather than crashing.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type Host, type HostServices } from '../../src/index.js';
import { bytes, rejection, root, waitFor } from '../dynamic/support.js';
import { startServer, stopServer, type Server } from './servers.js';

let host: Host | undefined;
let children: ChildProcess[] = [];
let servers: Server[] = [];
afterEach(async () => {
  await host?.close();
  host = undefined;
  for (const child of children) child.kill('SIGKILL');
  children = [];
  await Promise.all(servers.map((s) => stopServer(s)));
  servers = [];
});

const lines = new WeakMap<ChildProcess, string[]>();

function hostile(mode: string): Promise<string> {
  const child = spawn(process.execPath, [path.join(root, 'test/fixtures/remote/hostile-server.mjs'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const seen: string[] = [];
  lines.set(child, seen);
  const reader = readline.createInterface({ input: child.stdout! });
  reader.on('line', (line) => void seen.push(line));
  return new Promise((resolve) => reader.once('line', resolve));
}

describe('a hostile remote plugin server', () => {
  it('that never answers on its Channel fails connect() at its deadline', async () => {
    const address = await hostile('silent');
    host = createHost({ manifest: false, logger: silentLogger });
    const started = Date.now();
    const err = await rejection(host.connect({ name: 'h', endpoints: [address], tls: false, connectTimeoutMs: 1_000 }));
    expect(err.code).toBe('PLUGHOST_REMOTE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('cannot grow the host metrics with made-up service names', async () => {
    const address = await hostile('names');
    host = createHost({ manifest: false, logger: silentLogger });
    await host.connect({ name: 'h', endpoints: [address], tls: false });
    let text = '';
    const until = Date.now() + 10_000;
    // Every stream the host keeps (two for one endpoint) gets the server's 5000 names.
    while (!/service="\(unknown\)",status="PLUGHOST_HOST_SERVICE_NOT_FOUND"\} (5|10)000/.test(text) && Date.now() < until) {
      text = await host.metrics().text();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(text).toMatch(/plugin_host_call_total\{plugin="h",service="\(unknown\)",status="PLUGHOST_HOST_SERVICE_NOT_FOUND"\} (5|10)000/);
    expect(text).not.toContain('made-up-');
  });

  it('that does not read the answers to its host calls has its Channel given up, not buffered without end', async () => {
    const address = await hostile('deaf');
    host = createHost({ manifest: false, logger: silentLogger });
    await host.connect({ name: 'h', endpoints: [address], tls: false });
    const server = children.at(-1)!;
    await waitFor(() => lines.get(server)!.includes('CANCELLED'), 20_000, 'the host to give the deaf Channel up');
  });

  it('cannot run more host services at once than the bound by cancelling them', async () => {
    const address = await hostile('cancelloop');
    let running = 0;
    let peak = 0;
    let finished = 0;
    const services: HostServices = {
      slow: () => {
        peak = Math.max(peak, ++running);
        return new Promise<string>((resolve) =>
          setTimeout(() => {
            running--;
            finished++;
            resolve('ok');
          }, 300),
        );
      },
    };
    host = createHost({ manifest: false, logger: silentLogger, services });
    await host.connect({ name: 'h', endpoints: [address], tls: false });
    await waitFor(() => finished >= 256, 10_000, 'the first services to finish');
    expect(peak).toBeLessThanOrEqual(256);
  });
});

describe('closing a remote plugin under traffic', () => {
  it('fails queued calls typed, and calls past callTimeoutMs fail at it, without an uncaught error', async () => {
    servers = [await startServer('s1', '127.0.0.1:0', 'insecure')];
    host = createHost({ manifest: false, logger: silentLogger });
    const plugin = await host.connect({ name: 'reach', endpoints: [servers[0]!.address], tls: false, callTimeoutMs: 300 });
    // The default deadline applies to calls that would share batch frames too.
    const started = Date.now();
    expect((await rejection(plugin.call('slow-whoami', bytes('5000')))).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(3_000);
    const queued = plugin.call('whoami', bytes(''), { timeoutMs: undefined });
    await plugin.close();
    expect((await rejection(queued)).code).toBe('PLUGHOST_PLUGIN_CLOSED');
  });
});
