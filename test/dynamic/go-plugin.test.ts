// go-plugin compatibility: a real Go plugin built with hashicorp/go-plugin's
// server library (Debian's golang-github-hashicorp-go-plugin-dev), and a
// Python plugin speaking the same handshake, both called through their own
// app service from a user-supplied .proto.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, type DynamicPluginOptions, type Host } from '../../src/index.js';
import { pythonWithGrpc } from '../../src/dynamic/python.js';
import { alive, bytes, capturingLogger, rejection, root, text, waitFor } from './support.js';

const goDir = path.join(root, 'test/fixtures/dynamic/go-kv');
const goBinary = path.join(goDir, 'build/go-kv');
const hasGo = (() => {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Builds the Go fixture once per source change (a warm build takes ~0.1 s, a cold one ~10 s). */
function buildGoPlugin(): void {
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(goDir).filter((f) => /\.(go|sh)$/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(goDir, f)));
  const stamp = path.join(goDir, 'build/.sources-sha256');
  const want = hash.digest('hex');
  if (fs.existsSync(goBinary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  fs.mkdirSync(path.dirname(goBinary), { recursive: true });
  execFileSync('sh', [path.join(goDir, 'build.sh'), goBinary], {
    env: { ...process.env, GOCACHE: path.join(goDir, 'build/gocache') },
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 170_000,
  });
  fs.writeFileSync(stamp, want);
}

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
    options: () => ({ name: 'go-kv', command: [goBinary], cookie: { key: 'KV_PLUGIN', value: 'hello' } }),
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

beforeAll(() => {
  // CI installs Go (README prerequisites); only a developer machine without it skips.
  if (!hasGo && process.env.CI) throw new Error('Go is required in CI: apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev');
  if (hasGo) buildGoPlugin();
}, 180_000);

describe.each(kvPlugins)('a go-plugin plugin in $name', ({ name, options, proto }) => {
  const skip = name.startsWith('Go') && !hasGo;

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
