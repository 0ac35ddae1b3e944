// `plughost call` and `plughost bench` through the real built CLI, on this
// project's own manifest (written by `npm run build`).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: root });

describe('plughost call', () => {
  it.each([['textstats'], ['textstats-ts'], ['textstats-py']])('calls %s and prints what it did', (name) => {
    const r = run('call', name, 'statsBytes', '--data', 'b a b');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bytes: 5, lines: 0, words: 3, top: [['b', 2], ['a', 1]] });
    expect(r.stderr).toMatch(new RegExp(`called ${name}\\.statsBytes \\(\\w+\\): 5 bytes in, \\d+ out; load .*, call `));
  });

  it('runs a native plugin isolated on request, with JSON output', () => {
    const r = run('call', 'textstats', 'statsBytes', '--data', 'x', '--isolate', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, kind: 'native', isolated: true, bytesIn: 1 });
  });

  it('exits 1 with the code for an unknown plugin, a non-portable method or a plugin error', () => {
    expect(run('call', 'nope', 'x').stderr).toContain('PLUGHOST_UNKNOWN_PLUGIN');
    const notPortable = run('call', 'crc32', 'crc32', '--data', 'x');
    expect(notPortable.status).toBe(1);
    expect(notPortable.stderr).toContain('PLUGHOST_NOT_PORTABLE');
    const invalid = run('call', 'textstats-py', 'statsBytes', '--file', path.join(root, 'build/Release/crc32.node'));
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('PLUGHOST_INVALID_ARGUMENT');
  });
});

describe('plughost bench', () => {
  it('measures the native path and prints JSON with the ratios', () => {
    const r = spawnSync(process.execPath, [cli, 'bench', 'native', '--quick', '--json'], { encoding: 'utf8', cwd: root, timeout: 120_000 });
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.bench).toBe('native');
    expect(result.hostOverRaw).toBeGreaterThan(0);
    expect(result.load.hostFirstLoadMs).toBeGreaterThan(0);
  }, 120_000);
});
