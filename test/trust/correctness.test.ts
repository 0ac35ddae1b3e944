// Small correctness (issue 9): empty results are Uint8Arrays on the unary,
// batch and app-service paths; configure() honours the advertised capability
// and no configuration is lost to a restart, even one in the middle of a
// configure; a CPU-limit error only when CPU time really reached the limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { createHost, PluginResourceLimitError, type DynamicPluginOptions, type Host } from '../../src/index.js';
import { bytes, capturingLogger, fixturePlugin, rejection, root, text, waitFor, type CapturedLog } from '../dynamic/support.js';
import { buildTrustGo, trustProto } from './go-fixture.js';

const goBinary = buildTrustGo();
const goKv = inject('goKvPlugin');

let hosts: Host[] = [];
let scratch: string[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function host(log = capturingLogger()): Host {
  const h = createHost({ buildId: 'trust-tests', logger: log });
  hosts.push(h);
  return h;
}

function configPlugin(env: Record<string, string> = {}): DynamicPluginOptions {
  return {
    name: 'trust-config',
    command: [process.execPath, path.join(root, 'test/fixtures/trust/config-plugin.mjs')],
    env,
    handshakeTimeoutMs: 10_000,
    restart: { initialBackoffMs: 10 },
  };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-trust-'));
  scratch.push(dir);
  return dir;
}

describe('empty results', () => {
  it('are Uint8Arrays from a unary-only plugin: call and batch', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({ FIXTURE_UNARY_ONLY: '1' }));
    const one = await plugin.call('echo', new Uint8Array(0));
    expect(one).toBeInstanceOf(Uint8Array);
    expect(one.length).toBe(0);
    const [item] = await plugin.batch('echo', [new Uint8Array(0)]);
    expect(item).toBeInstanceOf(Uint8Array);
    expect((item as Uint8Array).length).toBe(0);
  });

  it('are Uint8Arrays in a batch over the channel', async () => {
    const plugin = await host().loadDynamic(fixturePlugin());
    const items = await plugin.batch('echo', [new Uint8Array(0), bytes('x')]);
    expect(items[0]).toBeInstanceOf(Uint8Array);
    expect(items.map((i) => text(i as Uint8Array))).toEqual(['', 'x']);
  });

  it.skipIf(goBinary === null)('are Uint8Arrays in an app-service message', async () => {
    const plugin = await host().loadDynamic({ name: 'trust-go', command: [goBinary!], cookie: { key: 'TRUST_PLUGIN', value: 'go' } });
    const got = await plugin.appService(trustProto, 'trust.Counter').call<{ raw: unknown }>('Get', { key: 'none' });
    expect(got.raw).toBeInstanceOf(Uint8Array);
  });
});

describe('configure()', () => {
  it('is refused typed, before anything is sent, by a plugin that does not advertise it', async () => {
    const plugin = await host().loadDynamic(configPlugin({ TRUST_NO_CONFIGURE: '1' }));
    expect(plugin.capabilities).not.toContain('configure');
    const err = await rejection(plugin.configure({ value: 'x' }));
    expect(err.code).toBe('PLUGHOST_CONFIGURE_UNSUPPORTED');
    expect(err.message).toContain('"trust-config" does not take configuration');
    expect(err.found).toContain('capabilities [');
    // Nothing was kept: a restart comes up without it.
    expect(text(await plugin.call('config', bytes('')))).toBe('');
  });

  it.skipIf(goKv === null)('is refused typed by a go-plugin plugin', async () => {
    const plugin = await host().loadDynamic({ name: 'go-kv', command: [goKv!], cookie: { key: 'KV_PLUGIN', value: 'hello' } });
    const err = await rejection(plugin.configure({ value: 'x' }));
    expect(err.code).toBe('PLUGHOST_CONFIGURE_UNSUPPORTED');
    expect(err.found).toContain('go-plugin');
  });

  /**
   * A plugin configured with `value`, whose instance is then killed: its
   * restart holds in configure (of `value`) until `open()` lets it go, so the
   * test acts while an instance is starting.
   */
  async function restartingInConfigure(value: string): Promise<{ plugin: Awaited<ReturnType<Host['loadDynamic']>>; open(): void }> {
    const log = capturingLogger();
    const plugin = await host(log).loadDynamic(configPlugin());
    const gate = path.join(tempDir(), 'gate');
    fs.writeFileSync(gate, '');
    await plugin.configure({ value, holdUntil: gate });
    expect(text(await plugin.call('config', bytes('')))).toBe(value);
    fs.rmSync(gate);
    const [old] = plugin.pids();
    process.kill(old!, 'SIGKILL');
    const holding = (e: CapturedLog): boolean => e.message.includes('holding in configure') && e.fields.pid !== old;
    await waitFor(() => log.entries.some(holding), 10_000, 'the restarted instance to hold in configure');
    return { plugin, open: () => fs.writeFileSync(gate, '') };
  }

  it('set while an instance restarts is the configuration it comes up with', async () => {
    const { plugin, open } = await restartingInConfigure('first');
    // configure() answers once the starting instance has taken it, after the gate opens.
    const second = plugin.configure({ value: 'second' });
    open();
    await second;
    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
    expect(text(await plugin.call('config', bytes('')))).toBe('second');
  });

  it('refused while an instance restarts is reported, and the instance comes up with the last accepted one', async () => {
    const { plugin, open } = await restartingInConfigure('good');
    const refused = rejection(plugin.configure({ value: 'refused' }));
    open();
    expect((await refused).code).toBe('PLUGHOST_INVALID_ARGUMENT');
    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
    expect(text(await plugin.call('config', bytes('')))).toBe('good');
    expect(plugin.stats().instances.map((i) => i.state)).toEqual(['ready']);
  });

  it('kept through a crash during configure: the restarted instance comes up with it', async () => {
    const plugin = await host().loadDynamic(configPlugin());
    await plugin.configure({ value: 'before' });
    const marker = path.join(tempDir(), 'crashed-once');
    const err = await rejection(plugin.configure({ value: 'latest', crashOnce: marker }));
    expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
    expect(text(await plugin.call('config', bytes('')))).toBe('latest');
  });
});

describe('a CPU-limit error', () => {
  it('is not reported for a SIGKILL from elsewhere before the CPU time reached the limit', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { limits: { cpuSeconds: 30 }, restart: { initialBackoffMs: 10 } }));
    const call = plugin.call('sleep', bytes('20000'));
    await waitFor(() => plugin.inFlight === 1, 5_000, 'the call in flight');
    process.kill(plugin.pids()[0]!, 'SIGKILL');
    const err = await rejection(call);
    expect(err).not.toBeInstanceOf(PluginResourceLimitError);
    expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    expect(err.found).toContain('SIGKILL');
  });

  it("is not reported for the host's own liveness kill", async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { limits: { cpuSeconds: 30 }, livenessTimeoutMs: 200, restart: { initialBackoffMs: 10 } }));
    // `spin` blocks the plugin's event loop: its deadline passes, its health check does not answer, the host kills it.
    const first = await rejection(plugin.call('spin', bytes(''), { timeoutMs: 300 }));
    expect(first.code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    // A call on the wedged instance fails with the kill: a crash, not a limit.
    const err = await rejection(plugin.call('echo', bytes('queued')));
    expect(err).not.toBeInstanceOf(PluginResourceLimitError);
    expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
  });
});

describe("Describe's protocol_version", () => {
  it('refuses a plugin that answers a version above the one the host sent', async () => {
    const err = await rejection(
      host().loadDynamic({ name: 'protocol-v2', command: [process.execPath, path.join(root, 'test/fixtures/trust/protocol-v2.mjs')], handshakeTimeoutMs: 10_000 }),
    );
    expect(err.code).toBe('PLUGHOST_DESCRIBE_FAILED');
    expect(err.message).toContain('protocol version 2');
  });
});
