// The isolation switch: a native plugin run in a subprocess by the isolation
// runner (dist/src/isolate/runner.js, built by test/setup/build-typescript.ts), called over
// the dynamic protocol. Same file, same results; a crash kills only the runner.
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';

import {
  createHost,
  PluginCallError,
  PluginCrashedError,
  PluginHandshakeError,
  type DynamicPlugin,
  type Host,
} from '../../src/index.js';
import { isolatedNativeOptions } from '../../src/isolate/index.js';
import { alive, bytes, capturingLogger, rejection, root, text, waitFor } from './support.js';
import { builtPlugins, type Built } from '../support/built.js';

const fx = inject('nativeFixtures');
const built = (name: string): string => path.join(fx.built, `${name}.node`);

let hosts: Host[] = [];
function host(buildId = fx.buildId): { host: Host; log: ReturnType<typeof capturingLogger> } {
  const log = capturingLogger();
  const h = createHost({ buildId, logger: log });
  hosts.push(h);
  return { host: h, log };
}
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

type Crashy = { echo(b: Uint8Array): Uint8Array; number(): number };

function isolatedCrashy(h: Host): Promise<DynamicPlugin> {
  // A fast restart keeps the crash tests short.
  return h.loadDynamic(isolatedNativeOptions(built('crashy'), { name: 'crashy', buildId: fx.buildId, restart: { initialBackoffMs: 20 } }));
}

describe('a native plugin isolated in a subprocess', () => {
  it('builds loadDynamic options around the runner', () => {
    const options = isolatedNativeOptions('relative/x.node', { name: 'x', buildId: 'b1', sha256: 'ab', pool: 2 });
    expect(options.name).toBe('x');
    expect(options.pool).toBe(2);
    expect(options.command).toEqual([process.execPath, path.join(root, 'dist/src/isolate/runner.js'), path.resolve('relative/x.node'), 'b1', 'ab']);
    expect(options).not.toHaveProperty('buildId');
    expect(isolatedNativeOptions('/p.node', { name: 'p', buildId: 'b1' }).command).toHaveLength(4);
  });

  it('serves the portable methods with the in-process results, and refuses the others', async () => {
    const { host: h } = host();
    const plugin = await isolatedCrashy(h);
    expect(plugin.name).toBe('crashy');
    expect(plugin.version).toBe('1.0.0');
    expect(plugin.methods.map((m) => m.name).sort()).toEqual(['abort', 'echo', 'number', 'segfault']);
    expect(alive(plugin.pids()[0]!)).toBe(true);
    expect(plugin.pids()[0]).not.toBe(process.pid);

    const inProcess = h.loadNative<Crashy>(built('crashy')).methods;
    for (const input of [bytes(''), bytes('hello'), Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)]) {
      const out = await plugin.call('echo', input);
      expect(Buffer.from(out)).toEqual(Buffer.from(inProcess.echo(input)));
    }

    const err = await rejection(plugin.call('number', bytes('')));
    expect(err).toBeInstanceOf(PluginCallError);
    expect(err.code).toBe('PLUGHOST_NOT_PORTABLE');
    expect(err.message).toContain('a number');
    // Not a crash: the runner keeps serving.
    expect(text(await plugin.call('echo', bytes('still here')))).toBe('still here');
    expect(plugin.stats()).toMatchObject({ restarts: 0, crashes: 0 });
  });

  it.each([
    ['segfault', 'SIGSEGV'],
    ['abort', 'SIGABRT'],
  ])('contains a crash (%s): the call fails with %s, the plugin restarts and serves again', async (method, signal) => {
    const { host: h } = host();
    const plugin = await isolatedCrashy(h);
    const pid = plugin.pids()[0]!;
    expect(text(await plugin.call('echo', bytes('before')))).toBe('before');

    const err = await rejection(plugin.call(method, bytes('')));
    expect(err).toBeInstanceOf(PluginCrashedError);
    expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    expect(`${err.message} ${err.found ?? ''}`).toContain(signal);
    expect(alive(process.pid)).toBe(true);
    expect(alive(pid)).toBe(false);

    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
    expect(text(await plugin.call('echo', bytes('after')))).toBe('after');
    expect(plugin.pids()[0]).not.toBe(pid);
    expect(plugin.stats()).toMatchObject({ restarts: 1, crashes: 1 });
  });
});

describe('the native textstats example, isolated', () => {
  let info: Built;
  beforeAll(() => {
    info = builtPlugins(root);
  });

  it('returns what the in-process plugin returns', async () => {
    const file = info.file('textstats');
    const { host: h } = host(info.buildId);
    const native = h.loadNative<{ statsBytes(d: Uint8Array): Uint8Array; fail(m: unknown): never }>(file);
    const plugin = await h.loadDynamic(isolatedNativeOptions(file, { name: 'textstats', buildId: info.buildId, sha256: native.sha256 }));
    expect(plugin.name).toBe(native.name);
    const texts = ['', 'a b a\n', 'The quick brown fox jumps over the lazy dog.\nThe dog sleeps.\n', 'ünïcödé wörds, ünïcödé\r\n\tand tabs', 'x '.repeat(5000)];
    for (const t of texts) {
      const input = bytes(t);
      expect(Buffer.from(await plugin.call('statsBytes', input))).toEqual(Buffer.from(native.methods.statsBytes(input)));
    }
    // An error the plugin throws keeps its code; a method returning an object is not portable.
    let thrown: { code?: string } | undefined;
    try {
      native.methods.fail(bytes('not a string'));
    } catch (err) {
      thrown = err as { code?: string };
    }
    expect(thrown?.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    const failed = await rejection(plugin.call('fail', bytes('not a string')));
    expect(failed).toBeInstanceOf(PluginCallError);
    expect(failed.code).toBe(thrown?.code);
    expect((await rejection(plugin.call('stats', bytes('a b')))).code).toBe('PLUGHOST_NOT_PORTABLE');
    // Concurrent calls travel as automatic batches: same results.
    const batched = await Promise.all(texts.map((t) => plugin.call('statsBytes', bytes(t))));
    expect(batched.map((b) => text(b))).toEqual(texts.map((t) => text(native.methods.statsBytes(bytes(t)))));
  });
});

describe('verification in the runner', () => {
  it.each([
    ['a plugin from another build', () => isolatedNativeOptions(built('wrong_build_id'), { name: 'wrong', buildId: fx.buildId }), 'PLUGHOST_BUILD_ID_MISMATCH'],
    ['a wrong SHA-256 pin', () => isolatedNativeOptions(built('crashy'), { name: 'pinned', buildId: fx.buildId, sha256: '0'.repeat(64) }), 'PLUGHOST_CHECKSUM_MISMATCH'],
    ['a missing file', () => isolatedNativeOptions(built('no_such_plugin'), { name: 'missing', buildId: fx.buildId }), 'PLUGHOST_FILE_NOT_FOUND'],
  ])('refuses %s before the handshake', async (_label, options, code) => {
    const { host: h, log } = host();
    const err = await rejection(h.loadDynamic(options()));
    expect(err).toBeInstanceOf(PluginHandshakeError);
    expect(err.code).toBe('PLUGHOST_HANDSHAKE_EXITED');
    expect(err.message).toContain('exited with status 78');
    expect(err.found).toContain(code);
    expect(err.message).toContain(code);
    // The runner's refusal reaches the host's logger as an error with its fields.
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'error', fields: expect.objectContaining({ code }) }));
    expect(h.dynamicPlugins()).toEqual([]);
  });
});
