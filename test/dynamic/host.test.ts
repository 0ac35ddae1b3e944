// The host's dynamic path against real plugin processes over real sockets.
import { afterEach, describe, expect, it } from 'vitest';

import {
  createHost,
  PluginCallCancelledError,
  PluginCallError,
  PluginCrashedError,
  PluginHandshakeError,
  PluginStartError,
  PluginUnavailableError,
  PlughostUsageError,
  type Host,
} from '../../src/index.js';
import { oneTimeIdentity } from '../../src/protocol/certificates.js';
import { alive, bytes, capturingLogger, fixturePlugin, hostProcess, rawPlugin, rejection, text, waitFor } from './support.js';

/** A real certificate as a handshake's field 6 (base64 DER, unpadded as go-plugin writes it). */
const certField = (): string => Buffer.from(oneTimeIdentity().der).toString('base64').replace(/=+$/, '');

let hosts: Host[] = [];
function host(): { host: Host; log: ReturnType<typeof capturingLogger> } {
  const log = capturingLogger();
  const h = createHost({ buildId: 'dynamic-tests', logger: log });
  hosts.push(h);
  return { host: h, log };
}
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

describe('start-up', () => {
  it('starts a TypeScript plugin: handshake, health, describe, a call', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    expect(plugin.name).toBe('fixture');
    expect(plugin.capabilities).toEqual(expect.arrayContaining(['channel', 'batch', 'configure']));
    expect(plugin.methods).toContainEqual({ name: 'echo', kind: 'unary' });
    expect(plugin.methods).toContainEqual({ name: 'upper', kind: 'stream' });
    expect(text(await plugin.call('echo', bytes('hi')))).toBe('hi');
    expect(plugin.readyMs[0]).toBeGreaterThan(0);
    expect(alive(plugin.pids()[0]!)).toBe(true);
  });

  it('tolerates and logs noise on stdout before the handshake', async () => {
    const { host: h, log } = host();
    const plugin = await h.loadDynamic(fixturePlugin({ FIXTURE_NOISE_LINES: '3' }));
    expect(text(await plugin.call('echo', bytes('ok')))).toBe('ok');
    const noise = log.entries.filter((e) => e.message.includes('before its handshake'));
    expect(noise.map((e) => e.fields.line)).toEqual(['noise line 0 before the handshake', 'noise line 1 before the handshake', 'noise line 2 before the handshake']);
  });

  it('forwards stderr to the logger, parsing hclog JSON lines', async () => {
    const { host: h, log } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    await plugin.call('log', bytes(JSON.stringify({ '@level': 'warn', '@message': 'disk low', '@timestamp': 't', free: 3 })));
    await plugin.call('log', bytes('a plain line'));
    await waitFor(() => log.entries.some((e) => e.message === 'a plain line'), 2000, 'the plain line');
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'warn', message: 'disk low', fields: expect.objectContaining({ free: 3, plugin: 'fixture', stream: 'stderr' }) }));
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'info', message: 'a plain line' }));
  });

  it('waits for a slow start within the timeout', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({ FIXTURE_START_DELAY_MS: '400' }));
    expect(plugin.readyMs[0]).toBeGreaterThanOrEqual(400);
  });

  type Refusal = [label: string, options: () => Parameters<Host['loadDynamic']>[0], code: string, cls: Function, contains?: string];
  const refusals: Refusal[] = [
    ['no handshake at all (timeout)', () => rawPlugin('silent.mjs', [], { handshakeTimeoutMs: 300 }), 'PLUGHOST_HANDSHAKE_TIMEOUT', PluginHandshakeError, 'starting up...'],
    ['a slow start past the timeout', () => fixturePlugin({ FIXTURE_START_DELAY_MS: '2000' }, { handshakeTimeoutMs: 200 }), 'PLUGHOST_HANDSHAKE_TIMEOUT', PluginHandshakeError],
    ['exit before the handshake', () => rawPlugin('exit-early.mjs'), 'PLUGHOST_HANDSHAKE_EXITED', PluginHandshakeError, 'config file /etc/fixture.conf not found'],
    ['a wrong magic cookie', () => fixturePlugin({}, { cookie: { key: 'PLUGHOST_PLUGIN_COOKIE', value: 'wrong' } }), 'PLUGHOST_HANDSHAKE_EXITED', PluginHandshakeError, 'status 1'],
    ['CORE 2', () => rawPlugin('handshake-line.mjs', ['2|1|unix|/tmp/x.sock|grpc']), 'PLUGHOST_HANDSHAKE_CORE_VERSION', PluginHandshakeError],
    ['an app version not offered', () => rawPlugin('handshake-line.mjs', ['1|7|unix|/tmp/x.sock|grpc']), 'PLUGHOST_HANDSHAKE_APP_VERSION', PluginHandshakeError],
    ['net/rpc', () => rawPlugin('handshake-line.mjs', ['1|1|unix|/tmp/x.sock|netrpc']), 'PLUGHOST_HANDSHAKE_PROTOCOL', PluginHandshakeError, 'netrpc'],
    ['no protocol field', () => rawPlugin('handshake-line.mjs', ['1|1|unix|/tmp/x.sock']), 'PLUGHOST_HANDSHAKE_PROTOCOL', PluginHandshakeError],
    ['a relative socket path', () => rawPlugin('handshake-line.mjs', ['1|1|unix|x.sock|grpc']), 'PLUGHOST_HANDSHAKE_BAD_ADDRESS', PluginHandshakeError],
    ['an unknown network', () => rawPlugin('handshake-line.mjs', ['1|1|pipe|/tmp/x|grpc']), 'PLUGHOST_HANDSHAKE_BAD_ADDRESS', PluginHandshakeError],
    ['a tcp address without TLS', () => rawPlugin('handshake-line.mjs', ['1|1|tcp|127.0.0.1:1234|grpc']), 'PLUGHOST_HANDSHAKE_BAD_ADDRESS', PluginHandshakeError, 'without TLS'],
    ['a certificate the host did not ask for', () => rawPlugin('handshake-line.mjs', [`1|1|unix|/tmp/x.sock|grpc|${'A'.repeat(80)}`]), 'PLUGHOST_HANDSHAKE_TLS', PluginHandshakeError],
    ['TLS asked for, no certificate given', () => rawPlugin('handshake-line.mjs', ['1|1|unix|/tmp/x.sock|grpc|'], { tls: 'auto' }), 'PLUGHOST_HANDSHAKE_TLS', PluginHandshakeError, 'field 6 is empty'],
    ['TLS asked for, a certificate that is not one', () => rawPlugin('handshake-line.mjs', ['1|1|unix|/tmp/x.sock|grpc|bm90IGEgY2VydGlmaWNhdGU'], { tls: 'auto' }), 'PLUGHOST_HANDSHAKE_TLS', PluginHandshakeError],
    ['TLS, then a tcp address nobody serves', () => rawPlugin('handshake-line.mjs', ['1|1|tcp|127.0.0.1:1|grpc|' + certField()], { tls: 'auto' }), 'PLUGHOST_CONNECT_FAILED', PluginStartError],
    ['garbage, then an address nobody serves', () => rawPlugin('handshake-line.mjs', ['1|1|unix|/tmp/plughost-nobody-here.sock|grpc', '\u00ff\u00fe garbage \u001b[31m', 'more']), 'PLUGHOST_CONNECT_FAILED', PluginStartError],
    ['a command that does not exist', () => ({ name: 'missing', command: ['/nonexistent/plugin'] }), 'PLUGHOST_SPAWN_FAILED', PluginStartError],
  ];

  it.each(refusals)('refuses %s with a typed error', async (_label, options, code, cls, contains) => {
    const { host: h } = host();
    const err = await rejection(h.loadDynamic({ rpcTimeoutMs: 1000, ...options() }));
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
    if (contains !== undefined) expect(`${err.message} ${err.found ?? ''}`).toContain(contains);
    // The host is unharmed.
    const plugin = await h.loadDynamic(fixturePlugin());
    expect(text(await plugin.call('echo', bytes('still here')))).toBe('still here');
  });

  it('refuses a bad pool size and a missing command', async () => {
    const { host: h } = host();
    await expect(h.loadDynamic(fixturePlugin({}, { pool: 0 }))).rejects.toBeInstanceOf(PlughostUsageError);
    await expect(h.loadDynamic({ name: 'x', command: [] })).rejects.toBeInstanceOf(PlughostUsageError);
  });
});

describe('calls', () => {
  it('reports method errors with the plugin\'s code and keeps serving', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const failed = await rejection(plugin.call('fail', bytes('x')));
    expect(failed).toBeInstanceOf(PluginCallError);
    expect(failed.code).toBe('FIXTURE_FAILED');
    expect(failed.message).toContain('failed on purpose: x');
    expect((await rejection(plugin.call('throws', bytes('')))).code).toBe('PLUGHOST_PLUGIN_EXCEPTION');
    expect((await rejection(plugin.call('nope', bytes('')))).code).toBe('PLUGHOST_UNKNOWN_METHOD');
    expect(text(await plugin.call('echo', bytes('fine')))).toBe('fine');
    expect(plugin.stats().restarts).toBe(0);
  });

  it('falls back to one unary Call per call for a plugin without the Channel', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({ FIXTURE_UNARY_ONLY: '1' }, { restart: { initialBackoffMs: 5 } }));
    expect(plugin.capabilities).toEqual(['configure']);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => plugin.call('echo', bytes(`u${i}`))));
    expect(answers.map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `u${i}`));
    expect((await plugin.batch('echo', [bytes('a'), bytes('b')])).map((r) => text(r as Uint8Array))).toEqual(['a', 'b']);
    expect((await rejection(plugin.call('fail', bytes('x')))).code).toBe('FIXTURE_FAILED');
    expect((await rejection(plugin.call('hang', bytes(''), { timeoutMs: 100 }))).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    const crashed = await rejection(Promise.all([plugin.call('sleep', bytes('5000')), plugin.call('crash', bytes(''))]));
    expect(crashed.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    expect(text(await plugin.call('echo', bytes('back')))).toBe('back');
  });

  it('batches many payloads in one message, each with its own result', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const out = await plugin.batch('echo', [bytes('a'), bytes('b'), bytes('c')]);
    expect(out.map((r) => text(r as Uint8Array))).toEqual(['a', 'b', 'c']);
    const mixed = await plugin.batch('fail', [bytes('1')]);
    expect(mixed[0]).toBeInstanceOf(PluginCallError);
  });

  it('coalesces concurrent calls and matches every answer to its call', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const n = 2000;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => plugin.call('echo', bytes(`m${i}`))));
    expect(answers.map(text)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
  });

  it('splits coalesced calls that would not fit one message into several batches', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { maxMessageBytes: 1 << 20 }));
    const payloads = Array.from({ length: 40 }, (_, i) => new Uint8Array(100_000).fill(i));
    const answers = await Promise.all(payloads.map((p) => plugin.call('echo', p)));
    answers.forEach((a, i) => expect(Buffer.from(a).equals(Buffer.from(payloads[i]!))).toBe(true));
  });

  it('runs a stream method', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const stream = await plugin.stream('upper');
    stream.write(bytes('abc'));
    stream.write(bytes('def'));
    stream.end();
    const got: string[] = [];
    for await (const m of stream) got.push(text(m));
    expect(got).toEqual(['ABC', 'DEF']);
  });

  it('applies hot configuration, and reports a refused one', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    await plugin.configure({ level: 2 });
    expect(text(await plugin.call('config', bytes('')))).toBe('{"level":2}');
    const err = await rejection(plugin.configure({ reject: true }));
    expect(err.code).toBe('FIXTURE_BAD_CONFIG');
    expect(text(await plugin.call('config', bytes('')))).toBe('{"level":2}');
  });

  it('refuses an oversized payload before sending, and survives an oversized result', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { maxMessageBytes: 1 << 20 }));
    const tooBig = await rejection(plugin.call('echo', new Uint8Array(2 << 20)));
    expect(tooBig).toBeInstanceOf(PlughostUsageError);
    expect(tooBig.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    const bigResult = await rejection(plugin.call('big', bytes(String(2 << 20))));
    expect(bigResult.code).toBe('PLUGHOST_MESSAGE_TOO_LARGE');
    expect(text(await plugin.call('echo', bytes('after')))).toBe('after');
    expect(plugin.stats().restarts).toBe(0);
  });
});

describe('deadlines and cancellation', () => {
  it('a hanging method misses its deadline; the plugin keeps serving other calls', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const err = await rejection(plugin.call('hang', bytes(''), { timeoutMs: 100 }));
    expect(err).toBeInstanceOf(PluginCallCancelledError);
    expect(err.code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(text(await plugin.call('echo', bytes('next')))).toBe('next');
    expect(plugin.stats().restarts).toBe(0);
  });

  it('an aborted signal cancels the call in the plugin too', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin());
    const controller = new AbortController();
    const pending = plugin.call('sleep', bytes('5000'), { signal: controller.signal });
    // A later call's reply on the same channel: the plugin has read the sleep call, so the abort finds it running there.
    expect(text(await plugin.call('echo', bytes('after the sleep')))).toBe('after the sleep');
    controller.abort();
    expect((await rejection(pending)).code).toBe('PLUGHOST_CALL_ABORTED');
    expect((await rejection(plugin.call('echo', bytes(''), { signal: AbortSignal.abort() }))).code).toBe('PLUGHOST_CALL_ABORTED');
  });

  it('a plugin wedged by a busy loop is found by its health check and restarted', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { livenessTimeoutMs: 300, restart: { initialBackoffMs: 10 } }));
    const before = plugin.pids()[0]!;
    expect((await rejection(plugin.call('spin', bytes(''), { timeoutMs: 100 }))).code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    await waitFor(() => plugin.stats().restarts === 1, 5000, 'the restart');
    expect(alive(before)).toBe(false);
    expect(text(await plugin.call('echo', bytes('recovered')))).toBe('recovered');
  });
});

describe('supervision', () => {
  it('a crash mid-call fails every call in flight with PluginCrashedError, then the plugin is back', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 10 } }));
    const before = plugin.pids()[0]!;
    const slow = plugin.call('sleep', bytes('5000'));
    const crash = plugin.call('crash', bytes(''));
    const [a, b] = await Promise.all([rejection(slow), rejection(crash)]);
    for (const err of [a, b]) {
      expect(err).toBeInstanceOf(PluginCrashedError);
      expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
      expect(err.message).toContain('SIGKILL');
    }
    expect(text(await plugin.call('echo', bytes('back')))).toBe('back');
    expect(plugin.stats()).toMatchObject({ restarts: 1, crashes: 1 });
    expect(plugin.pids()[0]).not.toBe(before);
  });

  it('gives up after the crash-loop limit with PluginUnavailableError', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { maxRestarts: 2, initialBackoffMs: 5, windowMs: 60_000 } }));
    for (let i = 0; i < 3; i++) expect(await rejection(plugin.call('exit', bytes('')))).toBeInstanceOf(PluginCrashedError);
    const err = await rejection(plugin.call('echo', bytes('')));
    expect(err).toBeInstanceOf(PluginUnavailableError);
    expect(err.code).toBe('PLUGHOST_PLUGIN_UNAVAILABLE');
    expect(err.message).toContain('crashed 3 times');
    expect(err.found).toContain('status 7');
    expect(plugin.stats()).toMatchObject({ restarts: 2, crashes: 3 });
  });

  it('re-applies the configuration to a restarted plugin', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { restart: { initialBackoffMs: 5 } }));
    await plugin.configure({ mode: 'kept' });
    await rejection(plugin.call('crash', bytes('')));
    expect(text(await plugin.call('config', bytes('')))).toBe('{"mode":"kept"}');
  });

  it('a plugin that ignores Shutdown and SIGTERM is stopped with SIGKILL', async () => {
    const { host: h, log } = host();
    const plugin = await h.loadDynamic(fixturePlugin({ FIXTURE_IGNORE_EXIT: '1' }, { shutdownGraceMs: 200, killGraceMs: 200 }));
    const [pid] = plugin.pids();
    const started = Date.now();
    await plugin.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(alive(pid!)).toBe(false);
    const messages = log.entries.map((e) => e.message);
    expect(messages).toContain('plugin did not exit after Shutdown; sending SIGTERM');
    expect(messages).toContain('fixture: ignoring SIGTERM');
    expect(messages).toContain('plugin did not exit after SIGTERM; sending SIGKILL');
  });

  it('close() stops every instance, and later calls are refused', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { pool: 2 }));
    const pids = plugin.pids();
    expect(pids).toHaveLength(2);
    await h.close();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect((await rejection(plugin.call('echo', bytes('')))).code).toBe('PLUGHOST_PLUGIN_CLOSED');
  });

  it('leaves no plugin behind when the host process is killed with SIGKILL', async () => {
    const { child, pids } = await hostProcess(`
      const host = createHost({ buildId: 'x', logger: silentLogger });
      const a = await host.loadDynamic({ name: 'f', command: fixture, pool: 2 });
      const b = await host.loadDynamic({ name: 'g', command: fixture });
      process.stdout.write(JSON.stringify([...a.pids(), ...b.pids()]) + '\\n');
    `);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => pids.every((pid) => !alive(pid)), 2000, 'the plugins to exit after their host died');
  });
});

describe('pools and hot reload', () => {
  it('spreads concurrent calls over the pool by least in flight', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({}, { pool: 3 }));
    const answers = await Promise.all(Array.from({ length: 300 }, () => plugin.call('pid', bytes(''))));
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(text(a), (counts.get(text(a)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(plugin.pids().map(String).sort());
    for (const n of counts.values()) expect(n).toBeGreaterThanOrEqual(50);
  });

  it('reloads under load without losing a call', async () => {
    const { host: h } = host();
    const plugin = await h.loadDynamic(fixturePlugin({ FIXTURE_VERSION: '1.0.0' }, { pool: 2 }));
    const oldPids = plugin.pids();
    let running = true;
    const seen = new Set<string>();
    let calls = 0;
    const workers = Array.from({ length: 16 }, async () => {
      while (running) {
        seen.add(text(await plugin.call('version', bytes(''))));
        calls++;
      }
    });
    await waitFor(() => calls > 200, 5000, 'load before the reload');
    await plugin.reload({ env: { FIXTURE_VERSION: '2.0.0' } });
    const afterReload = calls;
    await waitFor(() => calls > afterReload + 200, 5000, 'load after the reload');
    running = false;
    await Promise.all(workers); // any failed call would reject here
    expect(seen).toEqual(new Set(['1.0.0', '2.0.0']));
    expect(text(await plugin.call('version', bytes('')))).toBe('2.0.0');
    expect(plugin.version).toBe('2.0.0');
    for (const pid of oldPids) expect(alive(pid)).toBe(false);
  });
});
