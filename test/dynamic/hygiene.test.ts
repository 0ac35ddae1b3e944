// Subprocess hygiene through plughost-exec: plugins die with their host even
// on SIGKILL, resource limits are enforced by the kernel, secrets stay out of
// a plugin's environment; without the helper the host says what it cannot do.
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';

import { createHost, PluginResourceLimitError, type Host } from '../../src/index.js';
import { findExecHelper } from '../../src/dynamic/exec-helper.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { alive, bytes, capturingLogger, fixturePlugin, hostProcess, rejection, root, text, waitFor } from './support.js';

// Built by the test setup (test/setup/go-fixture.ts); null without Go (never in CI).
const goBinary = inject('goKvPlugin');
let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});
const host = (logger = capturingLogger()): Host => {
  const h = createHost({ buildId: 'hygiene', logger });
  hosts.push(h);
  return h;
};

beforeAll(() => {
  if (findExecHelper() === null) throw new Error('plughost-exec is not built: run `npm run build` (npm install does)');
});

const limitOf = (limits: string, name: string): string => {
  const line = limits.split('\n').find((l) => l.startsWith(name))!;
  return line.slice(name.length).trim().split(/\s+/)[0]!;
};

describe('no orphans', () => {
  it.skipIf(goBinary === null)('kill -9 of a host with 3 plugins (TypeScript, Python, Go) leaves no plugin process after 2 s', async () => {
    const { child, pids } = await hostProcess(`
      const host = createHost({ buildId: 'x', logger: silentLogger });
      const ts = await host.loadDynamic({ name: 'ts', command: fixture });
      const py = await host.loadDynamic({ name: 'py', command: [${JSON.stringify(pythonWithGrpc())}, ${JSON.stringify(path.join(root, 'plugins-dynamic/textstats-py/textstats.py'))}] });
      const go = await host.loadDynamic({ name: 'go', command: [${JSON.stringify(goBinary)}], cookie: { key: 'KV_PLUGIN', value: 'hello' } });
      process.stdout.write(JSON.stringify([...ts.pids(), ...py.pids(), ...go.pids()]) + '\\n');
    `);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    // The Go plugin watches nothing: only the kernel's parent-death signal ends it.
    await waitFor(() => pids.every((pid) => !alive(pid)), 2000, 'every plugin to die with its host');
  });
});

describe('enforced limits', () => {
  it('applies open-file and core-dump limits in the kernel', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { limits: { openFiles: 64 } }));
    const limits = text(await plugin.call('limits', bytes('')));
    expect(limitOf(limits, 'Max open files')).toBe('64');
    expect(limitOf(limits, 'Max core file size')).toBe('0');
  });

  it('a plugin that allocates past its memory limit is killed, reported with the limit, and restarted', async () => {
    const memoryBytes = 1.5 * 1024 ** 3;
    const plugin = await host().loadDynamic(fixturePlugin({}, { limits: { memoryBytes }, restart: { initialBackoffMs: 10 } }));
    expect(limitOf(text(await plugin.call('limits', bytes(''))), 'Max address space')).toBe(String(memoryBytes));
    const err = await rejection(plugin.call('hog', bytes('')));
    expect(err).toBeInstanceOf(PluginResourceLimitError);
    expect(err.code).toBe('PLUGHOST_RESOURCE_LIMIT');
    expect((err as PluginResourceLimitError).resource).toBe('memory');
    expect((err as PluginResourceLimitError).limit).toBe(memoryBytes);
    expect(err.expected).toContain(String(memoryBytes));
    expect(text(await plugin.call('echo', bytes('back')))).toBe('back');
    expect(plugin.stats().restarts).toBe(1);
  });

  it('a plugin that uses up its CPU time is killed and reported with the limit', async () => {
    const plugin = await host().loadDynamic(fixturePlugin({}, { limits: { cpuSeconds: 1 }, restart: { initialBackoffMs: 10 } }));
    const err = await rejection(plugin.call('spin', bytes('')));
    expect(err).toBeInstanceOf(PluginResourceLimitError);
    expect((err as PluginResourceLimitError).resource).toBe('cpu');
    expect(err.expected).toContain('1 CPU seconds');
    expect(text(await plugin.call('echo', bytes('back')))).toBe('back');
  });
});

describe('environment', () => {
  it('a plugin sees only the host variables it is allowed, plus its own', async () => {
    process.env.PLUGHOST_TEST_SECRET = 'host-secret';
    try {
      const plugin = await host().loadDynamic(fixturePlugin({ PLUGIN_OWN: 'mine' }, { envAllow: ['PATH'] }));
      expect(text(await plugin.call('env', bytes('PLUGHOST_TEST_SECRET')))).toBe('');
      expect(text(await plugin.call('env', bytes('PLUGIN_OWN')))).toBe('mine');
      expect(text(await plugin.call('env', bytes('PATH')))).toBe(process.env.PATH);
      // The default keeps secrets home (docs/dynamic-plugins.md, Environment); inheriting is an explicit opt-in.
      const byDefault = await host().loadDynamic(fixturePlugin());
      expect(text(await byDefault.call('env', bytes('PLUGHOST_TEST_SECRET')))).toBe('');
      const open = await host().loadDynamic(fixturePlugin({}, { inheritEnv: true }));
      expect(text(await open.call('env', bytes('PLUGHOST_TEST_SECRET')))).toBe('host-secret');
    } finally {
      delete process.env.PLUGHOST_TEST_SECRET;
    }
  });
});

describe('without the helper', () => {
  it('says which guarantees it cannot give, and still runs the plugin', async () => {
    process.env.PLUGHOST_EXEC_HELPER = 'none';
    try {
      const log = capturingLogger();
      const plugin = await host(log).loadDynamic({ ...fixturePlugin({}, { limits: { memoryBytes: 2 ** 31 } }), name: 'no-helper' });
      expect(text(await plugin.call('echo', bytes('ok')))).toBe('ok');
      const warning = log.entries.find((e) => e.message.startsWith('plughost-exec not found'));
      expect(warning?.fields.missing).toEqual([
        expect.stringContaining('not killed with the host on SIGKILL'),
        expect.stringContaining('resource limits'),
        expect.stringContaining('core dumps'),
      ]);
      expect(limitOf(text(await plugin.call('limits', bytes(''))), 'Max address space')).toBe('unlimited');
    } finally {
      delete process.env.PLUGHOST_EXEC_HELPER;
    }
  });
});
