// Remote plugins over loopback: three plugin servers (real processes, the
// TypeScript SDK in server mode) on 127.0.0.1 with distinct ports, mutual TLS
// with certificates this test makes, gRPC round_robin over them, one killed
// under load, endpoints out and back in, wrong CAs and plaintext refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type Host, type RemotePluginOptions } from '../../src/index.js';
import { bytes, rejection, text, waitFor } from '../dynamic/support.js';
import { TestCa, writePem, type Files } from '../support/pki.js';
import { startServer, stopServer, type Server } from './servers.js';

let dir: string;
let ca: TestCa;
let caFile: string;
let otherCaFile: string;
let serverFiles: Files;
let clientFiles: Files;
let strangerFiles: Files;
let servers: Server[] = [];
let host: Host;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-remote-'));
  ca = new TestCa();
  const other = new TestCa('another CA');
  caFile = ca.writeCa(dir);
  otherCaFile = other.writeCa(dir, 'other-ca');
  serverFiles = writePem(dir, 'server', ca.issue('reach server', { dns: ['plugin.test', 'localhost'], ip: ['127.0.0.1'] }));
  clientFiles = writePem(dir, 'client', ca.issue('app host'));
  strangerFiles = writePem(dir, 'stranger', other.issue('app host'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await host?.close();
  await Promise.all(servers.map((s) => stopServer(s)));
  servers = [];
});

const mtls = (id: string, listen = '127.0.0.1:0') => startServer(id, listen, { ...serverFiles, clientCa: caFile });
const tls = (extra: Partial<RemotePluginOptions['tls'] & object> = {}) => ({ ca: caFile, ...clientFiles, serverName: 'plugin.test', ...extra });

async function three(): Promise<Server[]> {
  servers = await Promise.all(['s1', 's2', 's3'].map((id) => mtls(id)));
  return servers;
}

describe('a remote plugin behind three endpoints', () => {
  it('balances calls round-robin over mutual TLS, with the same metrics as local plugins', async () => {
    const [a, b, c] = await three();
    host = createHost({ manifest: false, logger: silentLogger });
    const plugin = await host.connect({ name: 'reach', endpoints: [a!.address, b!.address, c!.address], tls: tls() });
    expect(plugin.name).toBe('reach');
    expect(plugin.idempotent).toEqual(expect.arrayContaining(['whoami', 'slow-whoami']));
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const id = text(await plugin.call('whoami', bytes('')));
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    // round_robin: every endpoint takes its turn (evenly, once all three are connected).
    expect([...seen.keys()].sort()).toEqual(['s1', 's2', 's3']);
    for (const count of seen.values()) expect(count).toBeGreaterThanOrEqual(5);
    const metrics = await host.metrics().text();
    expect(metrics).toContain('plugin_call_total{plugin="reach",method="whoami",status="ok"} 30');
    expect(metrics).toContain('plugin_up{plugin="reach",kind="remote"} 1');
  });

  it('loses no idempotent call when a server is killed mid-load, fails the others typed, and takes the server back when it returns', async () => {
    const [a, b, c] = await three();
    host = createHost({ manifest: false, logger: silentLogger });
    const plugin = await host.connect({ name: 'reach', endpoints: [a!.address, b!.address, c!.address], tls: tls(), healthIntervalMs: 200 });
    // With a deadline each call is its own frame (no micro-batching), so round-robin spreads them over the servers.
    const idempotent = Array.from({ length: 150 }, () => plugin.call('slow-whoami', bytes('300'), { timeoutMs: 20_000 }).then(text));
    // Without one they share batch frames (64 a frame); a lost batch is retried call by call.
    const batched = Array.from({ length: 150 }, () => plugin.call('slow-whoami', bytes('300')).then(text));
    const others = Array.from({ length: 150 }, () =>
      plugin.call('slow-append', bytes('300'), { timeoutMs: 20_000 }).then(
        (id) => ({ ok: text(id) }),
        (err: Error & { code?: string }) => ({ code: err.code }),
      ),
    );
    // Every server holds calls now (300 ms each); kill one of them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stopServer(b!, 'SIGKILL');
    const done = await Promise.all(idempotent);
    expect(done).toHaveLength(150);
    expect(done.every((id) => id === 's1' || id === 's3' || id === 's2')).toBe(true);
    expect(await Promise.all(batched)).toHaveLength(150);
    const outcomes = await Promise.all(others);
    const failed = outcomes.filter((o) => 'code' in o);
    // About a third were on the killed server: they fail, typed; none is run twice or lost.
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(['PLUGHOST_CONNECTION_LOST', 'PLUGHOST_REMOTE_UNAVAILABLE']).toContain(f.code);
    expect(outcomes.length - failed.length).toBeGreaterThan(0);
    // The dead endpoint is out of rotation: every call now goes to the other two.
    await waitFor(() => plugin.stats().endpoints.filter((e) => e.healthy).length === 2, 5_000, 'the dead endpoint to be taken out');
    for (let i = 0; i < 10; i++) expect(['s1', 's3']).toContain(text(await plugin.call('slow-append', bytes('1'))));
    // It comes back on the same port: it is put back.
    const back = await mtls('s2-again', b!.address);
    servers.push(back);
    await waitFor(() => plugin.stats().endpoints.every((e) => e.healthy), 10_000, 'the returned endpoint to be put back');
    // New streams are opened for it once it is healthy: within a moment calls reach it again.
    const seen = new Set<string>();
    const until = Date.now() + 5_000;
    while (!seen.has('s2-again') && Date.now() < until) seen.add(text(await plugin.call('whoami', bytes(''))));
    expect(seen.has('s2-again')).toBe(true);
  });

  it("carries the plugin's host calls back to this host", async () => {
    const [a] = (servers = [await mtls('s1')]);
    host = createHost({ manifest: false, logger: silentLogger, services: { double: (p) => String(2 * Number(text(p))) } });
    const plugin = await host.connect({ name: 'reach', endpoints: [a!.address], tls: tls(), services: { shout: (p) => text(p).toUpperCase() } });
    const ask = async (service: string, payload: string) => JSON.parse(text(await plugin.call('ask', bytes(JSON.stringify({ service, payload }))))) as { ok?: string; code?: string };
    expect(await ask('double', '21')).toEqual({ ok: '42' });
    expect(await ask('shout', 'hi')).toEqual({ ok: 'HI' });
    expect((await ask('missing', '')).code).toBe('PLUGHOST_HOST_SERVICE_NOT_FOUND');
  });

  it('answers each host of a shared server for its own services', async () => {
    const [a] = (servers = [await mtls('s1')]);
    host = createHost({ manifest: false, logger: silentLogger, services: { double: (p) => String(2 * Number(text(p))) } });
    const other = createHost({ manifest: false, logger: silentLogger });
    try {
      const mine = await host.connect({ name: 'reach', endpoints: [a!.address], tls: tls() });
      // Another host, offering nothing, describes the same server after this one.
      await other.connect({ name: 'reach', endpoints: [a!.address], tls: tls() });
      const answer = JSON.parse(text(await mine.call('ask', bytes(JSON.stringify({ service: 'double', payload: '4' }))))) as { ok?: string };
      expect(answer).toEqual({ ok: '8' });
    } finally {
      await other.close();
    }
  });

  it('balances over the addresses of one DNS name, taking out those that do not answer', async () => {
    const [a] = await three();
    const port = a!.address.split(':')[1];
    host = createHost({ manifest: false, logger: silentLogger });
    // localhost may resolve to 127.0.0.1 and ::1; the servers listen on 127.0.0.1 only.
    const plugin = await host.connect({ name: 'reach', endpoints: [`dns:///localhost:${port}`], tls: tls({ serverName: undefined }), healthIntervalMs: 200 });
    for (let i = 0; i < 5; i++) expect(text(await plugin.call('whoami', bytes('')))).toBe('s1');
    expect(plugin.stats().endpoints.some((e) => e.address.startsWith('127.0.0.1:') && e.healthy)).toBe(true);
  });
});

describe('a remote plugin refuses', () => {
  it('a client certificate from another CA, a server it cannot verify, and plaintext when TLS is required', async () => {
    const [a] = (servers = [await mtls('s1')]);
    host = createHost({ manifest: false, logger: silentLogger });
    const base = { name: 'reach', endpoints: [a!.address], connectTimeoutMs: 1_500 };
    const stranger = await rejection(host.connect({ ...base, tls: tls({ ...strangerFiles }) }));
    expect(stranger.code).toBe('PLUGHOST_REMOTE_UNAVAILABLE');
    expect(stranger.found).toContain(a!.address);
    const unverified = await rejection(host.connect({ ...base, tls: tls({ ca: otherCaFile }) }));
    expect(unverified.code).toBe('PLUGHOST_REMOTE_UNAVAILABLE');
    const plaintext = await rejection(host.connect({ ...base, tls: false }));
    expect(plaintext.code).toBe('PLUGHOST_REMOTE_UNAVAILABLE');
    // The right certificates still work against the same server.
    const plugin = await host.connect({ ...base, tls: tls() });
    expect(text(await plugin.call('whoami', bytes('')))).toBe('s1');
  });

  it('plaintext to a non-loopback address, unreadable TLS files and bad endpoints, before connecting', async () => {
    host = createHost({ manifest: false, logger: silentLogger });
    expect((await rejection(host.connect({ name: 'r', endpoints: ['10.1.2.3:7443'], tls: false }))).code).toBe('PLUGHOST_TLS_CONFIG');
    expect((await rejection(host.connect({ name: 'r', endpoints: ['127.0.0.1:7443'], tls: tls({ ca: path.join(dir, 'missing.pem') }) }))).code).toBe('PLUGHOST_TLS_CONFIG');
    expect((await rejection(host.connect({ name: 'r', endpoints: ['127.0.0.1:7443'], tls: tls({ serverName: undefined }) }))).code).toBe('PLUGHOST_TLS_CONFIG');
    expect((await rejection(host.connect({ name: 'r', endpoints: ['nope'], tls: false }))).code).toBe('PLUGHOST_INVALID_ARGUMENT');
    expect((await rejection(host.connect({ name: 'r', endpoints: [], tls: false }))).code).toBe('PLUGHOST_INVALID_ARGUMENT');
  });

  it('calls once no endpoint is left, typed and without hanging', async () => {
    const [a] = (servers = [await mtls('s1')]);
    host = createHost({ manifest: false, logger: silentLogger });
    const plugin = await host.connect({ name: 'reach', endpoints: [a!.address], tls: tls(), healthIntervalMs: 200 });
    await stopServer(a!, 'SIGKILL');
    const idem = await rejection(plugin.call('whoami', bytes('')));
    expect(['PLUGHOST_REMOTE_UNAVAILABLE', 'PLUGHOST_CONNECTION_LOST']).toContain(idem.code);
    await waitFor(() => plugin.stats().endpoints.every((e) => !e.healthy), 5_000, 'the endpoint to be out');
    expect((await rejection(plugin.call('slow-append', bytes('1')))).code).toBe('PLUGHOST_REMOTE_UNAVAILABLE');
    expect(await host.metrics().text()).toContain('plugin_up{plugin="reach",kind="remote"} 0');
  });
});
