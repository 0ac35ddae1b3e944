// The native loader against the fixture corpus: every refusal happens before
// any plugin code runs, and a good plugin loads once per file.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import {
  createHost,
  PluginCompatibilityError,
  PluginFormatError,
  PluginIntegrityError,
  PluginLoadError,
  PlughostError,
  PlughostUsageError,
  type ErrorCode,
} from '../../src/index.js';

const fx = inject('nativeFixtures');
const built = (name: string): string => path.join(fx.built, `${name}.node`);
const corpus = (name: string): string => path.join(fx.corpus, name);

let tmp: string;
let marker: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-loader-'));
  marker = path.join(tmp, 'marker.log');
  process.env.PLUGHOST_TEST_MARKER = marker;
});

afterEach(() => {
  delete process.env.PLUGHOST_TEST_MARKER;
  fs.rmSync(tmp, { recursive: true, force: true });
});

const markerLines = (): string[] =>
  fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim().split('\n').filter(Boolean) : [];

function captureError(fn: () => unknown): PlughostError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PlughostError);
    return err as PlughostError;
  }
  throw new Error('expected a PlughostError, nothing was thrown');
}

describe('a good plugin', () => {
  it('loads, runs its constructor and init once, and exposes its own functions', () => {
    const host = createHost({ buildId: fx.buildId });
    const plugin = host.loadNative<{ hello: () => string; add: (a: number, b: number) => number }>(built('good'));
    expect(markerLines()).toEqual(['fixture-good constructor', 'fixture-good init']);
    expect(plugin.kind).toBe('native');
    expect(plugin.name).toBe('fixture-good');
    expect(plugin.version).toBe('1.2.3');
    expect(plugin.descriptor).toMatchObject({
      buildId: fx.buildId,
      napiVersion: 8,
      apiVersion: { major: 1, minor: 0 },
    });
    expect(plugin.methodNames).toEqual(['hello', 'add']);
    expect(plugin.methods.hello()).toBe('hello from fixture-good');
    expect(plugin.methods.add(2, 40)).toBe(42);
    // No wrapper: the function handed out is the module's native function itself.
    expect(Function.prototype.toString.call(plugin.methods.add)).toContain('[native code]');
    expect(plugin.methods.add.name).toBe('add');
    expect(plugin.method('add')).toBe(plugin.methods.add);
  });

  it('reports its GNU build-id and SHA-256 as the tools do', () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative(built('good'));
    const readelf = execFileSync('readelf', ['-n', built('good')], { encoding: 'utf8' });
    expect(readelf).toContain(`Build ID: ${plugin.gnuBuildId}`);
    const sha = execFileSync('sha256sum', [built('good')], { encoding: 'utf8' }).split(' ')[0];
    expect(plugin.sha256).toBe(sha);
  });

  it('loads a file once whether reached by the same path, a hard link or a symlink', () => {
    const host = createHost({ buildId: fx.buildId });
    const first = host.loadNative(built('good_twin'));
    const linesAfterFirst = markerLines();
    const hardLink = path.join(tmp, 'hard.node');
    const symLink = path.join(tmp, 'sym.node');
    fs.linkSync(built('good_twin'), hardLink);
    fs.symlinkSync(built('good_twin'), symLink);
    expect(host.loadNative(built('good_twin'))).toBe(first);
    expect(host.loadNative(hardLink)).toBe(first);
    expect(host.loadNative(symLink)).toBe(first);
    // A second host in the same process shares the mapping: init still ran once.
    const other = createHost({ buildId: fx.buildId }).loadNative(symLink);
    expect(other.methods).toBe(first.methods);
    expect(markerLines()).toEqual(linesAfterFirst);
    expect(host.stats().loads).toMatchObject({ cached: 3 });
  });

  it('accepts a matching SHA-256 pin and refuses a wrong one before loading', () => {
    const sha = execFileSync('sha256sum', [built('good')], { encoding: 'utf8' }).split(' ')[0]!;
    const host = createHost({ buildId: fx.buildId });
    expect(host.loadNative(built('good'), { sha256: sha.toUpperCase() }).name).toBe('fixture-good');

    const copy = path.join(tmp, 'pinned.node');
    fs.copyFileSync(built('good'), copy); // a new inode: not loaded yet
    fs.rmSync(marker, { force: true });
    const err = captureError(() => host.loadNative(copy, { sha256: '0'.repeat(64) }));
    expect(err).toBeInstanceOf(PluginIntegrityError);
    expect(err.code).toBe('PLUGHOST_CHECKSUM_MISMATCH');
    expect(err.expected).toBe('0'.repeat(64));
    expect(err.found).toBe(sha);
    expect(markerLines()).toEqual([]);
  });

  it('refuses a loaded file that changed on disk instead of pretending it was reloaded', () => {
    // Rewriting a mapped library corrupts the process that mapped it, so this
    // runs in a child that reports and then dies without touching the plugin again.
    const copy = path.join(tmp, 'changing.node');
    fs.copyFileSync(built('good_twin'), copy);
    const script = `
      import fs from 'node:fs';
      import { createHost } from ${JSON.stringify(path.resolve('dist/src/index.js'))};
      const [file, buildId] = process.argv.slice(1);
      const host = createHost({ buildId });
      host.loadNative(file);
      const bytes = fs.readFileSync(file);
      bytes.write('HELLO', bytes.indexOf('hello from'), 'latin1');
      fs.writeFileSync(file, bytes); // same inode, new content, as \`cp new old\` does
      let code = 'no error';
      try { host.loadNative(file); } catch (err) { code = err.code; }
      fs.writeSync(1, code);
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, copy, fx.buildId], {
      encoding: 'utf8',
    });
    expect(child.stdout).toBe('PLUGHOST_CHECKSUM_MISMATCH');
  });

  it('names an unknown method and lists the real ones', () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative(built('good'));
    const err = captureError(() => plugin.method('nope' as 'add'));
    expect(err).toBeInstanceOf(PlughostUsageError);
    expect(err.code).toBe('PLUGHOST_UNKNOWN_METHOD');
    expect(err.message).toContain('hello, add');
  });

  it('records load timings and outcomes', () => {
    const host = createHost({ buildId: fx.buildId });
    host.loadNative(built('good'));
    captureError(() => host.loadNative(corpus('not-elf.node')));
    const { loads, events } = host.stats();
    expect(loads.refused).toBe(1);
    expect(loads.loaded + loads.cached).toBe(1);
    expect(events[0]!.totalMs).toBeGreaterThan(0);
    expect(events[1]).toMatchObject({ status: 'refused', code: 'PLUGHOST_BAD_FORMAT' });
  });
});

type Refusal = [label: string, file: () => string, code: ErrorCode, cls: typeof PlughostError, expected?: string, found?: string];

const refusals: Refusal[] = [
  ['a missing file', () => path.join(fx.corpus, 'missing.node'), 'PLUGHOST_FILE_NOT_FOUND', PluginFormatError],
  ['a directory', () => corpus('directory.node'), 'PLUGHOST_NOT_A_FILE', PluginFormatError, 'a regular file', 'a directory'],
  ['an empty file', () => corpus('empty.node'), 'PLUGHOST_FILE_TRUNCATED', PluginFormatError],
  ['a file cut inside its header', () => corpus('truncated-header.node'), 'PLUGHOST_FILE_TRUNCATED', PluginFormatError],
  ['a file cut after its descriptor', () => corpus('truncated-body.node'), 'PLUGHOST_FILE_TRUNCATED', PluginFormatError],
  ['a text file', () => corpus('not-elf.node'), 'PLUGHOST_BAD_FORMAT', PluginFormatError],
  ['a Mach-O file on Linux', () => corpus('macho.node'), 'PLUGHOST_WRONG_PLATFORM', PluginFormatError, 'ELF', 'Mach-O'],
  ['a 32-bit ELF', () => corpus('elf32.node'), 'PLUGHOST_WRONG_WORD_SIZE', PluginFormatError, '64-bit', '32-bit'],
  ['an ELF for another arch', () => corpus('other-arch.node'), 'PLUGHOST_WRONG_ARCH', PluginFormatError, 'x64', 'arm64'],
  ['a plain N-API addon', () => built('no_descriptor'), 'PLUGHOST_NO_DESCRIPTOR', PluginFormatError],
  ['a plugin from another build', () => built('wrong_build_id'), 'PLUGHOST_BUILD_ID_MISMATCH', PluginCompatibilityError, '"fixture-build" (host)', '"some-other-build" (plugin)'],
  ['a plugin for API 2.0', () => built('api_major'), 'PLUGHOST_API_MISMATCH', PluginCompatibilityError, '1.x', '2.0'],
  ['a plugin for a newer API minor', () => built('api_minor_newer'), 'PLUGHOST_API_MISMATCH', PluginCompatibilityError, 'x <= 0', '1.7'],
  ['a plugin declaring Node-API 10', () => built('napi_too_high'), 'PLUGHOST_NAPI_TOO_NEW', PluginCompatibilityError, `1..${process.versions.napi}`, '10'],
  ['a plugin with an unresolved symbol', () => built('unresolved_symbol'), 'PLUGHOST_DLOPEN_FAILED', PluginLoadError],
];

describe('refusals: typed, named, and before any plugin code runs', () => {
  it.each(refusals)('%s', (_label, file, code, cls, expected, found) => {
    const host = createHost({ buildId: fx.buildId });
    const err = captureError(() => host.loadNative(file()));
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
    expect(err.file).toBe(file());
    expect(err.message).toContain(file());
    if (expected !== undefined) expect(err.expected).toContain(expected);
    if (found !== undefined) expect(err.found).toContain(found);
    // Neither the ELF constructor nor Node-API init of the refused file ran.
    expect(markerLines()).toEqual([]);
    // The host is unharmed: a good plugin still loads and works.
    expect(host.loadNative(built('good')).methods.add(1, 2)).toBe(3);
    expect(host.stats().loads.refused + host.stats().loads.failed).toBe(1);
  });

  it('the same good file is refused by a host of another build', () => {
    const err = captureError(() => createHost({ buildId: 'release-2' }).loadNative(built('good_twin')));
    expect(err.code).toBe('PLUGHOST_BUILD_ID_MISMATCH');
    expect(err.message).toMatch(/expected "release-2" \(host\), found "fixture-build" \(plugin\)/);
    expect(err.hint).toContain('PLUGHOST_BUILD_ID=release-2');
  });

  it('an unresolved symbol is reported with the symbol name', () => {
    const err = captureError(() => createHost({ buildId: fx.buildId }).loadNative(built('unresolved_symbol')));
    expect(err.message).toContain('plughost_fixture_missing_symbol');
    expect(err.message).not.toContain('/proc/self/fd');
  });
});

describe('failures once plugin code runs', () => {
  it('an init that throws is a typed error, and a retry does not run init again', () => {
    const host = createHost({ buildId: fx.buildId });
    const err = captureError(() => host.loadNative(built('init_throws')));
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.code).toBe('PLUGHOST_INIT_FAILED');
    expect(err.message).toContain('fixture init refuses to start');
    expect((err.cause as { code?: string }).code).toBe('FIXTURE_INIT_REFUSED');
    const again = captureError(() => host.loadNative(built('init_throws')));
    expect(again).toBe(err);
    expect(markerLines()).toEqual(['init-throws constructor', 'init-throws init']);
  });

  it('a module whose exported descriptor differs from its file is refused', () => {
    const err = captureError(() => createHost({ buildId: fx.buildId }).loadNative(built('descriptor_mismatch')));
    expect(err).toBeInstanceOf(PluginIntegrityError);
    expect(err.code).toBe('PLUGHOST_DESCRIPTOR_MISMATCH');
    expect(err.expected).toContain('1.0.0');
    expect(err.found).toContain('6.6.6');
  });
});

describe('symbol binding', () => {
  const nodeUvVersion = (): number => {
    const [major, minor, patch] = process.versions.uv!.split('.').map(Number);
    return (major! << 16) | (minor! << 8) | patch!;
  };

  it('a plugin that defines a symbol Node exports gets its own (-Bsymbolic)', () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative<{ uvVersion: () => number }>(built('symclash'));
    expect(plugin.methods.uvVersion()).toBe(0xc0ffee);
  });

  it('control: without -Bsymbolic the same plugin binds to Node\'s symbol', () => {
    const plugin = createHost({ buildId: fx.buildId }).loadNative<{ uvVersion: () => number }>(
      built('symclash_nosymbolic'),
    );
    expect(plugin.methods.uvVersion()).toBe(nodeUvVersion());
  });
});

describe('bad arguments', () => {
  it('rejects a bad build ID and an empty path with usage errors', () => {
    expect(() => createHost({ buildId: 'has spaces' })).toThrow(PlughostUsageError);
    const err = captureError(() => createHost({ buildId: fx.buildId }).loadNative(''));
    expect(err.code).toBe('PLUGHOST_INVALID_ARGUMENT');
  });
});
