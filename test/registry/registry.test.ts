// host.load(name) from a manifest: one API for both kinds, every pin checked
// (and refused, naming plugin, field, expected and found) before plugin code runs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { currentTarget } from '../../src/platform/target.js';
import { manifestJsonSchemaText } from '../../src/manifest/json-schema.js';
import { createHost, PluginCallError, type Host } from '../../src/index.js';
import type { Manifest } from '../../src/tools.js';
import { capturingLogger, rejection, root, text } from '../dynamic/support.js';
import { builtPlugins } from '../support/built.js';
import { waitFor } from '../support/wait-for.js';

const fx = inject('nativeFixtures');
const target = currentTarget();
const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

let dir: string;
let marker: string;
let hosts: Host[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-registry-'));
  marker = path.join(dir, 'marker.log');
  process.env.PLUGHOST_TEST_MARKER = marker;
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.copyFileSync(path.join(fx.built, 'good.node'), path.join(dir, 'plugins/good.node'));
  fs.copyFileSync(path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js'), path.join(dir, 'plugins/textstats.js'));
});
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
  delete process.env.PLUGHOST_TEST_MARKER;
  fs.rmSync(dir, { recursive: true, force: true });
});

function goodEntry(): Manifest['plugins'][number] {
  return {
    name: 'fixture-good',
    kind: 'native',
    version: '1.2.3',
    path: 'plugins/good.node',
    sha256: sha(path.join(dir, 'plugins/good.node')),
    methods: ['add', 'hello'],
    buildId: fx.buildId,
    platform: target.platform as 'linux',
    arch: target.arch,
    libc: target.libc,
    apiVersion: '1.0',
    napiVersion: 8,
  };
}

function manifest(plugins: unknown[], extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'manifest.json');
  fs.writeFileSync(file, JSON.stringify({ schemaVersion: 1, buildId: fx.buildId, plugins, ...extra }));
  return file;
}

function host(file: string): Host {
  const h = createHost({ manifest: file, logger: capturingLogger() });
  hosts.push(h);
  return h;
}

const markerLines = (): string[] => (fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim().split('\n') : []);

describe('loading by name', () => {
  it('loads a native plugin lazily, once, with its raw functions and the portable API', async () => {
    const h = host(manifest([goodEntry()]));
    expect(h.buildId).toBe(fx.buildId);
    expect(h.list()).toMatchObject([{ name: 'fixture-good', kind: 'native', loaded: false }]);
    expect(markerLines()).toEqual([]);
    const plugin = await h.load('fixture-good');
    expect(await h.load('fixture-good')).toBe(plugin);
    expect(plugin).toMatchObject({ name: 'fixture-good', kind: 'native', isolated: false, version: '1.2.3' });
    expect(plugin.native?.methods.add(2, 3)).toBe(5);
    // hello returns a string: not a portable (bytes in, bytes out) method.
    expect((await rejection(plugin.call('hello', new Uint8Array(1)))).code).toBe('PLUGHOST_NOT_PORTABLE');
    // A plugin's own error keeps its code, as PluginCallError.
    const err = await rejection(plugin.call('add', new Uint8Array(1)));
    expect(err).toBeInstanceOf(PluginCallError);
    expect(err.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    expect(h.list()[0]!.loaded).toBe(true);
  });

  it('gives native, dynamic and isolated plugins one API and the same results', async () => {
    const info = builtPlugins(root);
    const textstatsFile = info.file('textstats');
    fs.copyFileSync(textstatsFile, path.join(dir, 'plugins/textstats.node'));
    const file = path.join(dir, 'manifest.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        schemaVersion: 1,
        buildId: info.buildId,
        plugins: [
          {
            name: 'textstats', kind: 'native', version: '1.0.0', path: 'plugins/textstats.node', sha256: sha(textstatsFile),
            methods: ['fail', 'stats', 'statsBytes'], buildId: info.buildId, platform: target.platform, arch: target.arch,
            libc: target.libc, apiVersion: '1.0', napiVersion: 8,
          },
          {
            name: 'textstats-ts', kind: 'dynamic', version: '1.0.0', path: 'plugins/textstats.js', sha256: sha(path.join(dir, 'plugins/textstats.js')),
            methods: ['echo', 'statsBytes', 'upper'], command: ['node', '{path}'],
          },
        ],
      }),
    );
    // The example imports the SDK by a repo-relative path: the deploy's entry file starts it from the dist tree.
    fs.writeFileSync(path.join(dir, 'plugins/textstats.js'), `import ${JSON.stringify(path.join(root, 'dist/plugins-dynamic/textstats-ts/textstats.js'))};\n`);
    const manifestJson = JSON.parse(fs.readFileSync(file, 'utf8'));
    manifestJson.plugins[1].sha256 = sha(path.join(dir, 'plugins/textstats.js'));
    fs.writeFileSync(file, JSON.stringify(manifestJson));
    const h = createHost({ manifest: file, logger: capturingLogger() });
    hosts.push(h);
    const input = Buffer.from('One API, three ways to run: one API!\n');
    const native = await h.load('textstats');
    const dynamic = await h.load('textstats-ts');
    const isolated = await h.load('textstats', { isolate: true });
    expect(isolated).toMatchObject({ kind: 'native', isolated: true });
    // One shape; `runs` says which extras a plugin has, and TypeScript narrows on it.
    expect([native.runs, dynamic.runs, isolated.runs]).toEqual(['in-process', 'subprocess', 'subprocess']);
    for (const p of [native, dynamic, isolated]) {
      if (p.runs === 'in-process') expect(p.native.methodNames).toEqual(p.methods);
      else expect(p.dynamic.pids().length).toBe(1);
    }
    expect([native.native?.name, dynamic.native, isolated.native]).toEqual(['textstats', undefined, undefined]);
    const outputs = await Promise.all([native, dynamic, isolated].map((p) => p.call('statsBytes', input)));
    expect(new Set(outputs.map(text)).size).toBe(1);
    // Method errors are PluginCallError with the plugin's code on every path.
    for (const p of [native, dynamic, isolated]) {
      const err = await rejection(p.call('statsBytes', Uint8Array.of(0xff)));
      expect(err).toBeInstanceOf(PluginCallError);
      expect(err.code).toBe('PLUGHOST_INVALID_ARGUMENT');
    }
    const batch = await isolated.batch('statsBytes', [input, Uint8Array.of(0xff)]);
    expect(text(batch[0] as Uint8Array)).toBe(text(outputs[0]!));
    expect(batch[1]).toBeInstanceOf(PluginCallError);
  });

  it('names the plugins it has when asked for an unknown one', async () => {
    const err = await rejection(host(manifest([goodEntry()])).load('nope'));
    expect(err.code).toBe('PLUGHOST_UNKNOWN_PLUGIN');
    expect(err.expected).toContain('fixture-good');
  });

  it('warms up every plugin at once', async () => {
    const h = host(manifest([goodEntry()]));
    const [plugin] = await h.warmUp();
    expect(plugin!.name).toBe('fixture-good');
    expect(markerLines()).toContain('fixture-good init');
  });
});

describe('every pin is checked', () => {
  type Case = [field: string, change: (e: Record<string, unknown>) => void, code: string, expected: string, found: string, ranCode: boolean];
  const cases: Case[] = [
    ['name', (e) => (e.name = 'other-name'), 'PLUGHOST_MANIFEST_MISMATCH', 'other-name (manifest)', 'fixture-good (file)', false],
    ['version', (e) => (e.version = '9.9.9'), 'PLUGHOST_MANIFEST_MISMATCH', '9.9.9 (manifest)', '1.2.3 (file)', false],
    ['apiVersion', (e) => (e.apiVersion = '1.1'), 'PLUGHOST_MANIFEST_MISMATCH', '1.1 (manifest)', '1.0 (file)', false],
    ['napiVersion', (e) => (e.napiVersion = 7), 'PLUGHOST_MANIFEST_MISMATCH', '7 (manifest)', '8 (file)', false],
    ['sha256', (e) => (e.sha256 = 'a'.repeat(64)), 'PLUGHOST_CHECKSUM_MISMATCH', 'a'.repeat(64), '', false],
    ['platform', (e) => (e.platform = 'darwin'), 'PLUGHOST_WRONG_TARGET', '(this machine)', 'darwin', false],
    ['arch', (e) => (e.arch = 'arm64'), 'PLUGHOST_WRONG_TARGET', '(this machine)', 'arm64', false],
    ['libc', (e) => (e.libc = 'musl'), 'PLUGHOST_WRONG_TARGET', '(this machine)', 'musl', false],
    ['methods', (e) => (e.methods = ['add', 'hello', 'extra']), 'PLUGHOST_MANIFEST_MISMATCH', 'add, extra, hello (manifest)', 'add, hello (plugin)', true],
  ];

  it.each(cases)('%s', async (field, change, code, expected, found, ranCode) => {
    const entry = goodEntry() as unknown as Record<string, unknown>;
    change(entry);
    // A copy per case: a file whose init ran stays loaded in this process.
    const copy = `plugins/good-${field}.node`;
    fs.copyFileSync(path.join(dir, 'plugins/good.node'), path.join(dir, copy));
    entry.path = copy;
    const err = await rejection(host(manifest([entry])).load(String(entry.name)));
    expect(err.code).toBe(code);
    expect(err.message).toContain(String(entry.name) === 'other-name' || code === 'PLUGHOST_CHECKSUM_MISMATCH' ? '' : `"${entry.name}"`);
    expect(err.expected).toContain(expected);
    expect(err.found).toContain(found);
    if (code === 'PLUGHOST_MANIFEST_MISMATCH') expect(err.message).toContain(field);
    // Only the methods pin needs the plugin loaded to be checked.
    expect(markerLines().length > 0).toBe(ranCode);
  });

  it('a native plugin of another build refuses the whole manifest', () => {
    const entry = { ...goodEntry(), buildId: 'other-build' };
    expect(() => host(manifest([entry]))).toThrow(expect.objectContaining({ code: 'PLUGHOST_MANIFEST_INVALID', message: expect.stringContaining('plugins.0.buildId') }));
  });

  it('a dynamic plugin whose entry file changed is refused', async () => {
    const entry = {
      name: 'ts', kind: 'dynamic', version: '1.0.0', path: 'plugins/textstats.js', sha256: 'b'.repeat(64),
      methods: ['echo'], command: ['node', '{path}'],
    };
    const err = await rejection(host(manifest([entry])).load('ts'));
    expect(err.code).toBe('PLUGHOST_MANIFEST_MISMATCH');
    expect(err.message).toContain('sha256');
  });
});

describe('pins hold after load', () => {
  it('a dynamic plugin whose file changed is not restarted with the new bytes', async () => {
    const entryFile = path.join(dir, 'plugins/echo.mjs');
    fs.writeFileSync(entryFile, `import { serve } from ${JSON.stringify(path.join(root, 'dist/src/sdk/index.js'))};\nawait serve({ name: 'echo', version: '1.0.0', methods: { echo: (p) => p } });\n`);
    const entry = {
      name: 'echo', kind: 'dynamic', version: '1.0.0', path: 'plugins/echo.mjs', sha256: sha(entryFile), methods: ['echo'],
      command: ['node', '{path}'], options: { restart: { maxRestarts: 1, initialBackoffMs: 5 } },
    };
    const h = host(manifest([entry]));
    const plugin = await h.load('echo');
    expect(plugin.name).toBe('echo');
    fs.appendFileSync(entryFile, `import fs from 'node:fs'; fs.writeFileSync(${JSON.stringify(marker)}, 'tampered code ran');\n`);
    process.kill(plugin.dynamic!.pids()[0]!, 'SIGKILL');
    // A call waits for the restart; once the restart is refused, calls fail with PLUGHOST_PLUGIN_UNAVAILABLE.
    const err = await waitFor(
      () =>
        plugin.call('echo', Buffer.from('x')).then(
          () => undefined,
          (e: Error & { code?: string; found?: string }) => (e.code === 'PLUGHOST_PLUGIN_UNAVAILABLE' ? e : undefined),
        ),
      { timeoutMs: 10_000, what: 'a call refused with PLUGHOST_PLUGIN_UNAVAILABLE after the restart was refused' },
    );
    expect(err.code).toBe('PLUGHOST_PLUGIN_UNAVAILABLE');
    expect(err.found).toContain('sha256');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a symlink in a deploy may not lead a pin outside it', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-outside-'));
    try {
      fs.copyFileSync(path.join(dir, 'plugins/good.node'), path.join(outside, 'good.node'));
      fs.symlinkSync(path.join(outside, 'good.node'), path.join(dir, 'plugins/linked.node'));
      const err = await rejection(host(manifest([{ ...goodEntry(), path: 'plugins/linked.node' }])).load('fixture-good'));
      expect(err.code).toBe('PLUGHOST_MANIFEST_MISMATCH');
      expect(err.message).toContain('outside the deploy');
      expect(markerLines()).toEqual([]);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('counts refused loads in the metrics, under the manifest name', async () => {
    const h = host(manifest([{ ...goodEntry(), sha256: 'c'.repeat(64) }]));
    await rejection(h.load('fixture-good'));
    const text = await h.metrics().text();
    expect(text).toMatch(/plugin_load_total\{plugin="fixture-good",kind="native",status="refused"\} 1/);
  });
});

describe('manifest validation', () => {
  it('lists every violation with its path', () => {
    const file = manifest([{ ...goodEntry(), sha256: 'nothex', path: '../escape.node' }, { name: 'x', kind: 'weird' }], { extra: 1 });
    try {
      createHost({ manifest: file, logger: capturingLogger() });
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      expect((err as { code: string }).code).toBe('PLUGHOST_MANIFEST_INVALID');
      for (const p of ['plugins.0.sha256', 'plugins.0.path', 'plugins.1.kind']) expect(message).toContain(p);
      expect(message).toContain('extra');
    }
  });

  it('requires a dynamic command to run the pinned file', () => {
    const entry = { name: 'd', kind: 'dynamic', version: '1', path: 'plugins/textstats.js', sha256: 'a'.repeat(64), methods: [], command: ['node', '{dir}/other.js'] };
    expect(() => host(manifest([entry]))).toThrow(/plugins\.0\.command: must run the pinned file/);
  });

  it('refuses duplicate names and a host build ID that contradicts the manifest', () => {
    expect(() => host(manifest([goodEntry(), goodEntry()]))).toThrow(/duplicate plugin name/);
    expect(() => createHost({ manifest: manifest([goodEntry()]), buildId: 'another', logger: capturingLogger() })).toThrow(
      expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT' }),
    );
  });

  it('schema/manifest.schema.json is generated from the validator', () => {
    expect(fs.readFileSync(path.join(root, 'schema/manifest.schema.json'), 'utf8')).toBe(manifestJsonSchemaText());
  });
});
