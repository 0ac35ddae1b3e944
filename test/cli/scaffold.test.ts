// plughost new: each generated project builds and passes its own test as
// generated. node_modules/plughost is a symlink to this checkout (what npm
// link does); the few packages npm would hoist beside it are linked too.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-scaffold-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function node(args: string[], cwd: string, timeout = 60_000): SpawnSyncReturns<string> {
  // timeout kills the child (SIGTERM) if it hangs; nothing outlives the test.
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
}

const output = (r: SpawnSyncReturns<string>): string => `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;

/** `plughost new ...` in tmp; returns the project directory. */
function create(kind: string, lang: string, dir: string): string {
  const r = node([cli, 'new', kind, 'hello', '--lang', lang, '--dir', dir], tmp);
  expect(r.status, output(r)).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`created a ${kind} plugin "hello" in ${lang} in ${dir}/`));
  expect(r.stdout).toContain(`cd ${dir}`);
  expect(r.stdout).toMatch(/done in [\d.]+ (µs|ms)/);
  return path.join(tmp, dir);
}

/** What `npm install` would give the project: plughost, and what it hoists. */
function link(project: string, packages: string[]): void {
  for (const name of ['plughost', ...packages]) {
    const at = path.join(project, 'node_modules', name);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(name === 'plughost' ? root : path.join(root, 'node_modules', name), at, 'dir');
  }
}

/** Runs the project's own generated test (npm test is `node --test test/`). */
function runGeneratedTest(project: string): void {
  const r = node(['--test', 'test/'], project);
  expect(r.status, output(r)).toBe(0);
  expect(r.stdout).toMatch(/^# pass 1$/m);
  expect(r.stdout).toMatch(/^# fail 0$/m);
}

describe('plughost new', () => {
  it('dynamic --lang ts: builds with tsc and passes its test', () => {
    const project = create('dynamic', 'ts', 'hello-ts');
    expect(fs.readFileSync(path.join(project, 'src/hello.ts'), 'utf8')).toContain("from 'plughost/sdk'");
    const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
    expect(pkg.plughost.plugins).toEqual([
      { name: 'hello', kind: 'dynamic', path: 'dist/hello.js', command: ['node', '{path}'], build: ['tsc', '-p', 'tsconfig.json'] },
    ]);
    expect(pkg.files).toEqual(['dist/']);
    link(project, ['typescript', '@types/node']);
    // npm install puts tsc in node_modules/.bin; plughost build runs the declared step with it on PATH.
    fs.mkdirSync(path.join(project, 'node_modules/.bin'));
    fs.symlinkSync('../typescript/bin/tsc', path.join(project, 'node_modules/.bin/tsc'));
    const build = node([cli, 'build', '--dir', '.'], project, 120_000);
    expect(build.status, output(build)).toBe(0);
    expect(build.stdout).toContain('[build] hello: tsc -p tsconfig.json ...');
    expect(build.stdout).toMatch(/manifest: hello \(dynamic\) 1 method\(s\)/);
    runGeneratedTest(project);
  });

  it('dynamic --lang python: passes its test with the Python SDK on PYTHONPATH', () => {
    const project = create('dynamic', 'python', 'hello-py');
    expect(fs.readFileSync(path.join(project, 'hello.py'), 'utf8')).toContain('from plughost_plugin import');
    link(project, []);
    runGeneratedTest(project);
  });

  it('native --lang c: plughost build (node-gyp) and its test', () => {
    const project = create('native', 'c', 'hello-c');
    expect(fs.readFileSync(path.join(project, 'binding.gyp'), 'utf8')).toContain("'node_modules/plughost/native/plughost.gypi'");
    expect(fs.readFileSync(path.join(project, 'src/hello.c'), 'utf8')).toMatch(/#include "plughost.h"[\s\S]*PLUGHOST_PLUGIN\("hello"/);
    const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
    // Build tools belong to the project that builds, not to plughost (an app that loads plugins needs none).
    expect(Object.keys(pkg.devDependencies)).toEqual(['node-gyp']);
    expect(pkg.dependencies).toEqual({ plughost: `^${version}` });
    link(project, ['node-addon-api']);
    const build = node([cli, 'build', '--dir', '.'], project, 120_000);
    expect(build.status, output(build)).toBe(0);
    expect(build.stdout).toContain('built hello');
    expect(fs.existsSync(path.join(project, 'build/Release/hello.node'))).toBe(true);
    runGeneratedTest(project);
  }, 120_000);

  it('native --lang cpp: plughost build (cmake-js) and its test', () => {
    const project = create('native', 'cpp', 'hello-cpp');
    expect(fs.readFileSync(path.join(project, 'CMakeLists.txt'), 'utf8')).toContain('native/plughost.cmake');
    expect(fs.readFileSync(path.join(project, 'src/hello.cpp'), 'utf8')).toContain('#include "plughost.hpp"');
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')).devDependencies)).toEqual(['cmake-js']);
    link(project, []);
    const build = node([cli, 'build', '--dir', '.'], project, 120_000);
    expect(build.status, output(build)).toBe(0);
    runGeneratedTest(project);
  }, 120_000);

  it('depends on plughost as the app does, on a local tarball when asked, and says which', () => {
    // An app that uses a local plughost tarball: its plugin projects get the same one.
    const app = path.join(tmp, 'app-with-tarball');
    fs.mkdirSync(path.join(app, 'vendor'), { recursive: true });
    fs.writeFileSync(path.join(app, 'vendor', 'plughost-9.9.9.tgz'), 'not read by plughost new');
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', dependencies: { plughost: 'file:vendor/plughost-9.9.9.tgz' } }));
    const r = node([cli, 'new', 'dynamic', 'follow', '--lang', 'python'], app);
    expect(r.status, output(r)).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(app, 'follow/package.json'), 'utf8')).dependencies).toEqual({ plughost: 'file:../vendor/plughost-9.9.9.tgz' });
    expect(r.stdout).toContain(`plughost dependency: "file:../vendor/plughost-9.9.9.tgz", from the local plughost tarball ${path.join(app, 'vendor/plughost-9.9.9.tgz')} (the app in ${app})`);
    expect(r.stdout).toContain('{"project":"follow"}');
    expect(fs.readFileSync(path.join(app, 'follow/README.md'), 'utf8')).toContain('plughost comes from the local plughost tarball');

    // --plughost: a tarball path becomes a file: spec relative to the project; a range stays a range.
    const asked = node([cli, 'new', 'native', 'asked', '--dir', 'asked', '--plughost', path.join(app, 'vendor/plughost-9.9.9.tgz')], tmp);
    expect(asked.status, output(asked)).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'asked/package.json'), 'utf8')).dependencies.plughost).toBe(
      `file:${path.relative(path.join(tmp, 'asked'), path.join(app, 'vendor/plughost-9.9.9.tgz'))}`,
    );
    const ranged = node([cli, 'new', 'native', 'ranged', '--dir', 'ranged', '--plughost', '~0.1.0'], tmp);
    expect(ranged.status, output(ranged)).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'ranged/package.json'), 'utf8')).dependencies.plughost).toBe('~0.1.0');
    expect(fs.readFileSync(path.join(tmp, 'ranged/README.md'), 'utf8')).toContain('plughost comes from the npm registry (~0.1.0)');
    const missing = node([cli, 'new', 'native', 'missing', '--dir', 'missing', '--plughost', './nowhere/plughost.tgz'], tmp);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^plughost: PLUGHOST_INVALID_ARGUMENT: .*--plughost names no plughost tarball or directory/);
    expect(fs.existsSync(path.join(tmp, 'missing'))).toBe(false);
  });

  it('refuses bad names, languages and a non-empty directory with exit 2', () => {
    const bad = node([cli, 'new', 'dynamic', 'Hello World'], tmp);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('PLUGHOST_INVALID_ARGUMENT');
    const mismatch = node([cli, 'new', 'native', 'x', '--lang', 'ts', '--dir', 'x'], tmp);
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toContain('cannot be written in "ts"');
    expect(node([cli, 'new', 'wasm', 'x'], tmp).status).toBe(2);
    expect(node([cli, 'new', 'native', 'x', '--lang', 'rust'], tmp).status).toBe(2);
    const taken = node([cli, 'new', 'dynamic', 'hello', '--dir', 'hello-ts'], tmp);
    expect(taken.status).toBe(2);
    expect(taken.stderr).toContain('not empty');
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});
