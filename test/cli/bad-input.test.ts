// Bad input to every command, as a user types it: one line on stderr with a
// code, never a stack; exit 2 when the command line is wrong, 1 when
// plughost refuses what it was given. Run as the real built CLI.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
// Made when the file is collected: the cases below name paths inside it.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bad-input-'));

beforeAll(() => {
  fs.mkdirSync(path.join(tmp, 'empty'));
  fs.mkdirSync(path.join(tmp, 'out-dir'));
  fs.mkdirSync(path.join(tmp, 'bad-spec'));
  fs.writeFileSync(path.join(tmp, 'bad-spec/package.json'), JSON.stringify({ name: 'x', plughost: { plugins: [{ name: 'a', builder: 'make', dir: '.', output: 'a.node' }] } }));
  fs.mkdirSync(path.join(tmp, 'bad-json'));
  fs.writeFileSync(path.join(tmp, 'bad-json/package.json'), '{ not json');
  fs.writeFileSync(path.join(tmp, 'bad-json/manifest.json'), '{ not json');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Case = [what: string, args: string[], exit: 1 | 2, code: string, says?: RegExp];
const manifest = path.join(root, 'manifest.json');
const cases: Case[] = [
  ['an unknown command', ['nosuch'], 2, 'PLUGHOST_INVALID_ARGUMENT', /unknown command 'nosuch'/],
  ['a mistyped command', ['verfy', 'x'], 2, 'PLUGHOST_INVALID_ARGUMENT', /Did you mean verify\?/],
  ['a missing required option', ['bundle'], 2, 'PLUGHOST_INVALID_ARGUMENT', /required option '--out <file>'/],
  ['--timeout that is not a number', ['call', 'textstats', 'statsBytes', '--manifest', manifest, '--timeout', 'abc'], 2, 'PLUGHOST_INVALID_ARGUMENT', /--timeout <ms>.*'abc' is invalid/],
  ['--timeout 0', ['call', 'textstats', 'statsBytes', '--manifest', manifest, '--timeout', '0'], 2, 'PLUGHOST_INVALID_ARGUMENT'],
  ['--sha256 that is not hex', ['verify', path.join(root, 'build/Release/crc32.node'), '--sha256', 'xyz'], 2, 'PLUGHOST_INVALID_ARGUMENT', /64 hex digits/],
  ['an invalid --build-id', ['verify', path.join(root, 'build/Release/crc32.node'), '--build-id', 'bad id'], 2, 'PLUGHOST_INVALID_ARGUMENT', /invalid build ID/],
  ['call --manifest of nothing', ['call', 'x', 'y', '--manifest', '/nonexistent'], 1, 'PLUGHOST_MANIFEST_INVALID', /cannot read the manifest/],
  ['call --manifest of bad JSON', ['call', 'x', 'y', '--manifest', path.join(tmp, 'bad-json')], 1, 'PLUGHOST_MANIFEST_INVALID'],
  ['call --file of nothing', ['call', 'textstats', 'statsBytes', '--manifest', manifest, '--file', '/nonexistent'], 2, 'PLUGHOST_INVALID_ARGUMENT', /--file: cannot read the payload/],
  ['call of an unknown plugin', ['call', 'nope', 'x', '--manifest', manifest], 1, 'PLUGHOST_UNKNOWN_PLUGIN'],
  ['build --dir without package.json', ['build', '--dir', path.join(tmp, 'empty')], 2, 'PLUGHOST_INVALID_ARGUMENT', /no package.json: not a project directory/],
  ['build --dir with package.json that is not JSON', ['build', '--dir', path.join(tmp, 'bad-json')], 2, 'PLUGHOST_INVALID_ARGUMENT', /not valid JSON/],
  ['build with an invalid plugin entry', ['build', '--dir', path.join(tmp, 'bad-spec')], 2, 'PLUGHOST_INVALID_ARGUMENT', /plughost\.plugins\[0\]\.builder/],
  ['bundle --out naming a directory', ['bundle', '--dir', path.dirname(manifest), '--out', path.join(tmp, 'out-dir')], 2, 'PLUGHOST_INVALID_ARGUMENT', /is a directory/],
  ['bundle of a directory without a manifest', ['bundle', '--dir', path.join(tmp, 'empty'), '--out', path.join(tmp, 'x.tar.gz')], 1, 'PLUGHOST_MANIFEST_INVALID'],
  ['verify of nothing', ['verify', '/nonexistent.node'], 1, 'PLUGHOST_FILE_NOT_FOUND'],
  ['inspect of a directory', ['inspect', path.join(tmp, 'empty')], 1, 'PLUGHOST_NOT_A_FILE'],
  ['inspect of a text file', ['inspect', path.join(tmp, 'bad-json/package.json')], 1, 'PLUGHOST_BAD_FORMAT', /not an ELF or Mach-O file/],
  ['ls of nothing', ['ls', '--dir', '/nonexistent'], 1, 'PLUGHOST_MANIFEST_INVALID'],
  ['new with a bad name', ['new', 'native', 'Bad Name', '--dir', path.join(tmp, 'n1')], 2, 'PLUGHOST_INVALID_ARGUMENT', /invalid plugin name/],
  ['new with a bad kind', ['new', 'wasm', 'x'], 2, 'PLUGHOST_INVALID_ARGUMENT', /Allowed choices are native, dynamic/],
  ['new --plughost of nothing', ['new', 'native', 'x', '--dir', path.join(tmp, 'n2'), '--plughost', '/nowhere/plughost.tgz'], 2, 'PLUGHOST_INVALID_ARGUMENT', /--plughost names no plughost tarball/],
  ['prebuild --dir of nothing', ['prebuild', '--dir', '/nonexistent'], 2, 'PLUGHOST_INVALID_ARGUMENT', /no readable package.json/],
];

describe('bad input, every command', () => {
  it.each(cases)('%s: one line with its code, never a stack', (_what, args, exit, code, says) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(exit);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^plughost: ${code}: `));
    if (says !== undefined) expect(lines[0]).toMatch(says);
    expect(r.stderr + r.stdout).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it('--version prints plughost\'s version and this machine\'s tuple', () => {
    const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
    const r = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`plughost ${version} (node ${process.version}, Node-API ${process.versions.napi}, ${process.platform}-${process.arch}${process.platform === 'linux' ? '-glibc' : ''})\n`);
  });
});
