// go-plugin compatibility: a real Go plugin built with hashicorp/go-plugin's
// server library (Debian's golang-github-hashicorp-go-plugin-dev), and a
// Python plugin speaking the same handshake, both called through their own
// app service from a user-supplied .proto.
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { createHost, type DynamicPluginOptions, type Host } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { alive, bytes, capturingLogger, rejection, root, text, waitFor } from './support.js';

const goDir = path.join(root, 'test/fixtures/dynamic/go-kv');
// Built by the test setup (test/setup/go-fixture.ts); null without Go (never in CI).
const goBinary = inject('goKvPlugin');

let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

interface Kv {
  name: string;
  options: () => DynamicPluginOptions;
  proto: string;
}

const kvPlugins: Kv[] = [
  {
    name: 'Go (hashicorp/go-plugin 1.0.1)',
    options: () => ({ name: 'go-kv', command: [goBinary!], cookie: { key: 'KV_PLUGIN', value: 'hello' } }),
    proto: path.join(goDir, 'kv.proto'),
  },
  {
    name: 'Python (same handshake, no SDK)',
    options: () => ({
      name: 'py-kv',
      command: [pythonWithGrpc(), path.join(root, 'test/fixtures/dynamic/python/kv_plugin.py')],
      cookie: { key: 'KV_PLUGIN', value: 'hello' },
    }),
    proto: path.join(root, 'test/fixtures/dynamic/python/kv.proto'),
  },
];

describe.each(kvPlugins)('a go-plugin plugin in $name', ({ name, options, proto }) => {
  const skip = name.startsWith('Go') && goBinary === null;

  it.skipIf(skip)('loads, serves its own service through the user .proto, and shuts down', async () => {
    const log = capturingLogger();
    const host = createHost({ buildId: 'go-plugin-tests', logger: log });
    hosts.push(host);
    const plugin = await host.loadDynamic(options());
    // Not a plughost plugin: no Describe, no methods of ours.
    expect(plugin.methods).toEqual([]);
    const kv = plugin.appService(proto, 'kv.KV');
    await kv.call('Put', { key: 'greeting', value: bytes('hello from the host') });
    const got = await kv.call<{ value: Buffer }>('Get', { key: 'greeting' });
    expect(text(got.value)).toBe('hello from the host');
    // Its hclog JSON stderr became structured log entries.
    await waitFor(() => log.entries.some((e) => e.fields.stream === 'stderr' && e.fields.pluginTime !== undefined), 2000, 'an hclog line');
    // Our plughost calls are refused clearly rather than hanging.
    const err = await rejection(plugin.call('anything', bytes('')));
    expect(err.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    expect(err.message).toContain('appService');
    const [pid] = plugin.pids();
    await plugin.close();
    expect(alive(pid!)).toBe(false);
  });

  it.skipIf(skip)('a crash is contained and the plugin restarted', async () => {
    const host = createHost({ buildId: 'go-plugin-tests', logger: capturingLogger() });
    hosts.push(host);
    const plugin = await host.loadDynamic({ ...options(), restart: { initialBackoffMs: 10 } });
    const kv = plugin.appService(proto, 'kv.KV');
    process.kill(plugin.pids()[0]!, 'SIGKILL');
    await waitFor(() => plugin.stats().restarts === 1, 10_000, 'the restart');
    await kv.call('Put', { key: 'k', value: bytes('v') });
    expect(text((await kv.call<{ value: Buffer }>('Get', { key: 'k' })).value)).toBe('v');
  });
});
