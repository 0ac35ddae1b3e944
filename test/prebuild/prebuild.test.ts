// Plugins shipped as npm packages with prebuilt binaries, end to end with real
// npm: `plughost prebuild` on a copy of test/fixtures/plugin-package, `npm pack`
// of plughost and of the plugin package, `npm install --ignore-scripts` of both
// into a fresh project with no compiler on PATH, and a script there that loads
// the plugin through plughost's host.loadPackage. Then a package whose only
// prebuilds are for other machines, and the override variable.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveBuildId } from '../../src/release/build-id.js';
import { execHelperPrebuild } from '../../src/dynamic/exec-helper.js';
import { currentLibc } from '../../src/platform/target.js';
import { inspectNative, verifyNative } from '../../src/native/inspect.js';
import { NoPrebuildError, prebuildOverrideVariable, resolvePrebuildDir } from '../../src/prebuild/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const fixture = path.join(root, 'test/fixtures/plugin-package');
const PKG = 'plughost-plugin-fixture-hello';
const BUILD_ID = 'prebuild-test.1';
/** The app's own release: not the plugin package's. */
const APP_BUILD_ID = 'app-release.7';
const libc = currentLibc() ?? 'glibc';
const otherLibc = libc === 'glibc' ? 'musl' : 'glibc';
const otherArch = process.arch === 'arm64' ? 'x64' : 'arm64';
const tupleDir = `${process.platform}-${process.arch}`;
const prebuildName = `${PKG}.napi.${libc}.node`;
const OVERRIDE = prebuildOverrideVariable(PKG);

let tmp: string;
let pkgDir: string; // the fixture copy that plughost prebuild builds into
let bin: string; // PATH for npm and the app: node and npm only
let npmCli: string;
let app: string;
let tarballs: { plughost: string; plugin: string };

/** process.env without npm's per-script variables (npm test sets them; they would steer the nested npm). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, ...extra };
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv(), timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
}

const output = (r: SpawnSyncReturns<string>): string => `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;

/** npm as a user runs it, with only node and npm on PATH: no cc, gcc, make or python. */
function npm(args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return run([npmCli, ...args], cwd, cleanEnv({ PATH: bin, ...extraEnv }), 120_000);
}

/** `npm install --ignore-scripts --offline`; if the cache lacks a dependency, --prefer-offline (and says so). */
function npmInstall(specs: string[]): { mode: string; r: SpawnSyncReturns<string> } {
  const base = ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...specs];
  const offline = npm([...base, '--offline'], app);
  if (offline.status === 0 || !/ENOTCACHED/.test(offline.stdout + offline.stderr)) return { mode: '--offline', r: offline };
  console.warn(`npm install --offline: a dependency is not in the npm cache; retrying with --prefer-offline\n${offline.stderr.trim().split('\n').slice(-3).join('\n')}`);
  return { mode: '--prefer-offline', r: npm([...base, '--prefer-offline'], app) };
}

/** Runs the app's script: createHost + host.loadPackage, then a call; prints JSON. */
function loadInApp(env: NodeJS.ProcessEnv = {}): { status: number | null; out: Record<string, any>; raw: string } {
  // The app's release is not the package's: an independently published plugin loads in any host of its plugin API.
  const r = run([path.join(app, 'load.mjs'), APP_BUILD_ID], app, cleanEnv({ PATH: bin, ...env }));
  let out: Record<string, any> = {};
  try {
    out = JSON.parse(r.stdout);
  } catch {
    // reported below through raw
  }
  return { status: r.status, out, raw: output(r) };
}

function findOnPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error(`${name} is not on PATH`);
}

beforeAll(() => {
  expect(fs.existsSync(cli), 'the CLI runs from dist/, built by test/setup/build-typescript.ts').toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-prebuild-'));
  pkgDir = path.join(tmp, 'pkg');
  fs.cpSync(fixture, pkgDir, { recursive: true });
  // What `npm install` gives the package's developer: plughost (for plughost.gypi) and node-addon-api.
  for (const [name, target] of [['plughost', root], ['node-addon-api', path.join(root, 'node_modules/node-addon-api')]] as const) {
    fs.mkdirSync(path.join(pkgDir, 'node_modules'), { recursive: true });
    fs.symlinkSync(target, path.join(pkgDir, 'node_modules', name), 'dir');
  }
  bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  npmCli = findOnPath('npm');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'prebuild-test-app', version: '1.0.0', private: true }) + '\n');
  fs.writeFileSync(
    path.join(app, 'load.mjs'),
    `import { createHost, silentLogger } from 'plughost';
const host = createHost({ buildId: process.argv[2], logger: silentLogger });
try {
  const { plugin, resolution } = host.loadPackage('${PKG}');
  console.log(JSON.stringify({ ok: true, file: plugin.file, name: plugin.name, result: plugin.methods.hello('npm'), resolution }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, tuple: err.tuple, candidates: err.candidates }));
  process.exitCode = 1;
}
`,
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('plughost prebuild', () => {
  it('builds the package with its own default build ID (a package is its own release) and prints JSON', () => {
    const r = run([cli, 'prebuild', '--dir', pkgDir, '--json'], tmp, cleanEnv({ PLUGHOST_BUILD_ID: '' }));
    expect(r.status, output(r)).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      ok: true,
      packageName: PKG,
      packageVersion: '1.0.0',
      path: `prebuilds/${tupleDir}/${prebuildName}`,
      builder: 'node-gyp',
      buildId: resolveBuildId({}, pkgDir),
      descriptor: { name: 'hello', version: '1.0.0', buildId: resolveBuildId({}, pkgDir), napiVersion: 8 },
      tuple: { platform: process.platform, arch: process.arch, libc: currentLibc(), napi: Number(process.versions.napi) },
    });
    expect(out.resolvesTo).toBe(out.file);
  }, 60_000);

  it('lays the binary out as prebuilds/<platform>-<arch>/<name>.napi.<libc>.node, verified, and says what it did', () => {
    const r = run([cli, 'prebuild', '--dir', pkgDir, '--build-id', BUILD_ID], tmp);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain(`prebuilding ${PKG} 1.0.0 for ${process.platform}-${process.arch} ${currentLibc()}, Node-API <= ${process.versions.napi}, build ${BUILD_ID}`);
    expect(r.stdout).toMatch(/node-gyp in \.: hello \.\.\./);
    expect(r.stdout).toMatch(/built hello 1\.0\.0 with node-gyp: build\/Release\/hello\.node \(Node-API 8, build prebuild-test\.1, verified\)/);
    expect(r.stdout).toContain(`wrote prebuilds/${tupleDir}/${prebuildName}`);
    expect(r.stdout).toContain(`resolves on this machine: prebuilds/${tupleDir}/${prebuildName}`);
    expect(r.stdout).toMatch(/prebuilt plughost-plugin-fixture-hello 1\.0\.0 in [\d.]+ (ms|s) \(build [\d.]+ (ms|s)\)/);

    // Re-running replaced the file (a new inode), it did not add one.
    const files = fs.readdirSync(path.join(pkgDir, 'prebuilds'), { recursive: true }).map(String).sort();
    expect(files).toEqual([tupleDir, `${tupleDir}/${prebuildName}`]);
    const file = path.join(pkgDir, 'prebuilds', tupleDir, prebuildName);
    const info = inspectNative(file);
    expect(info).toMatchObject({ format: 'elf', arch: process.arch, kind: 'shared', problem: null });
    expect(info.descriptor).toMatchObject({ name: 'hello', version: '1.0.0', buildId: BUILD_ID, napiVersion: 8 });
    expect(verifyNative(file, { buildId: BUILD_ID }).sha256).toBe(info.sha256);

    // node-gyp-build's own resolver picks the same file.
    const ngb = run(['-e', `process.stdout.write(require(${JSON.stringify(path.join(root, 'node_modules/node-gyp-build'))}).resolve(${JSON.stringify(pkgDir)}))`], tmp, cleanEnv({ PREBUILDS_ONLY: '1' }));
    expect(ngb.status, output(ngb)).toBe(0);
    expect(ngb.stdout).toBe(file);
  }, 60_000);

  it('refuses a package with nothing to build: exit 2 (a usage error) and the code', () => {
    const empty = path.join(tmp, 'empty-pkg');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'package.json'), JSON.stringify({ name: 'nothing-here', version: '1.0.0' }));
    const r = run([cli, 'prebuild', '--dir', empty], tmp);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PLUGHOST_INVALID_ARGUMENT');
    expect(r.stderr).toContain('no "plughost.plugins" in package.json and no binding.gyp');
  });
});

describe('resolution in a package directory', () => {
  it('prefers the most specific tags and single-arch directories, and explains every other file', () => {
    const good = path.join(pkgDir, 'prebuilds', tupleDir, prebuildName);
    const dir = path.join(tmp, 'layout');
    const put = (rel: string, from: string | null): string => {
      const to = path.join(dir, 'prebuilds', rel);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if (from === null) fs.writeFileSync(to, 'not a binary\n');
      else fs.copyFileSync(from, to);
      return to;
    };
    const generic = put(`${tupleDir}/${PKG}.napi.node`, good);
    const specific = put(`${tupleDir}/${PKG}.napi.${libc}.node`, good);
    const multi = put(`${process.platform}-${process.arch}+${otherArch}/${PKG}.napi.${libc}.node`, good);
    const notPlughost = put(`${tupleDir}/other.napi.${libc}.node`, fs.existsSync('/bin/true') ? '/bin/true' : process.execPath);
    put(`${tupleDir}/README.txt`, null);
    put(`${PKG}.node`, good);

    const r = resolvePrebuildDir(dir, PKG);
    expect(r.file).toBe(specific);
    const reason = (file: string): string => r.candidates.find((c) => c.file === file)!.reason;
    expect(r.candidates.filter((c) => c.accepted).map((c) => c.file).sort()).toEqual([generic, multi, specific].sort());
    expect(reason(specific)).toMatch(new RegExp(`^fits ${tupleDir} ${libc} \\(tags: napi, ${libc}\\); plugin "hello" 1\\.0\\.0, Node-API 8 <= \\d+$`));
    expect(reason(generic)).toContain('any libc');
    expect(reason(notPlughost)).toMatch(/^not a plughost plugin: PLUGHOST_(NO_DESCRIPTOR|NOT_SHARED_OBJECT)|^unreadable: PLUGHOST_/);
    expect(reason(path.join(dir, 'prebuilds', tupleDir, 'README.txt'))).toBe('not a .node file');
    expect(reason(path.join(dir, 'prebuilds', `${PKG}.node`))).toBe('not directly in a prebuilds/<platform>-<arch>/ directory');

    // Without the single-arch files, the multi-arch directory serves.
    fs.rmSync(path.join(dir, 'prebuilds', tupleDir), { recursive: true });
    expect(resolvePrebuildDir(dir, PKG).file).toBe(multi);
  });
});

describe('a plugin package from npm, installed with --ignore-scripts and no compiler', () => {
  let installMode = '';

  it('npm pack: plughost ships dist/ and native/, the plugin package ships prebuilds/', () => {
    const out = path.join(tmp, 'tgz');
    fs.mkdirSync(out);
    // --ignore-scripts: plughost's "prepare" would rebuild every example plugin.
    const host = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', out], root);
    expect(host.status, output(host)).toBe(0);
    const [hostPack] = JSON.parse(host.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const hostFiles = new Set(hostPack!.files.map((f) => f.path));
    const needed = [
      'package.json',
      'dist/src/index.js',
      'dist/src/cli/main.js',
      'dist/src/prebuild/index.js',
      'dist/src/prebuild/resolve.js',
      'native/plughost.gypi',
      'native/build-id.cjs',
      'native/include/plughost.h',
      // plughost's own native part, prebuilt: no compiler needed for it either.
      path.relative(root, execHelperPrebuild(root)),
    ];
    expect(needed.filter((f) => !hostFiles.has(f)), 'files missing from the plughost tarball').toEqual([]);
    expect([...hostFiles].filter((f) => f.startsWith('test/') || f.startsWith('build/')), 'no tests or build tree in the tarball').toEqual([]);

    const plugin = npm(['pack', '--json', '--pack-destination', out], pkgDir);
    expect(plugin.status, output(plugin)).toBe(0);
    const [pluginPack] = JSON.parse(plugin.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    expect(pluginPack!.files.map((f) => f.path).sort()).toEqual(
      ['README.md', 'binding.gyp', 'package.json', `prebuilds/${tupleDir}/${prebuildName}`, 'src/hello.c'].sort(),
    );
    tarballs = { plughost: path.join(out, hostPack!.filename), plugin: path.join(out, pluginPack!.filename) };
  }, 60_000);

  it('installs both tarballs with no compiler on PATH and loads the prebuild through host.loadPackage', () => {
    expect(fs.readdirSync(bin).sort()).toEqual(['node', 'npm']);
    const specs = [tarballs.plughost, tarballs.plugin];
    const { mode, r } = npmInstall(specs);
    installMode = mode;
    expect(r.status, output(r)).toBe(0);
    const installed = path.join(app, 'node_modules', PKG);
    expect(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled at install').toBe(false);
    // The installed plughost runs plugins through its prebuilt exec helper.
    const plughostDir = path.join(app, 'node_modules', 'plughost');
    const helper = run(
      ['--input-type=module', '-e', `import { findExecHelper } from ${JSON.stringify(path.join(plughostDir, 'dist/src/dynamic/exec-helper.js'))}; process.stdout.write(String(findExecHelper()))`],
      app,
      cleanEnv({}),
    );
    expect(helper.stdout).toBe(execHelperPrebuild(plughostDir));

    const { status, out, raw } = loadInApp();
    expect(status, raw).toBe(0);
    const file = path.join(installed, 'prebuilds', tupleDir, prebuildName);
    expect(out).toMatchObject({ ok: true, name: 'hello', result: 'hello, npm', file });
    expect(out.resolution).toMatchObject({
      file,
      source: 'prebuilds',
      packageDir: installed,
      overrideVariable: 'PLUGHOST_PREBUILD_PLUGHOST_PLUGIN_FIXTURE_HELLO',
      tuple: { platform: process.platform, arch: process.arch, libc: currentLibc(), napi: Number(process.versions.napi) },
      candidates: [{ file, accepted: true }],
    });
    console.log(`npm install ${installMode} --ignore-scripts: ok`);
  }, 120_000);

  it('a manifest can name a native plugin by its npm package: resolved by tuple, then every pin checked', () => {
    const installed = path.join(app, 'node_modules', PKG);
    const file = path.join(installed, 'prebuilds', tupleDir, prebuildName);
    const info = inspectNative(file);
    const entry = {
      name: info.descriptor!.name, kind: 'native', version: info.descriptor!.version, package: PKG, packageVersion: '1.0.0', sha256: info.sha256,
      methods: ['hello'], buildId: BUILD_ID, platform: process.platform, arch: process.arch, libc: currentLibc(),
      apiVersion: `${info.descriptor!.apiVersion.major}.${info.descriptor!.apiVersion.minor}`, napiVersion: info.descriptor!.napiVersion,
    };
    // The release is the app's; the package's prebuild keeps its own build ID, pinned in the entry.
    const writeManifest = (e: object): void =>
      fs.writeFileSync(path.join(app, 'manifest.json'), JSON.stringify({ schemaVersion: 1, buildId: APP_BUILD_ID, plugins: [e] }));
    const script = `import { createHost, silentLogger } from 'plughost';
      const host = createHost({ manifest: '.', logger: silentLogger });
      try {
        const plugin = await host.load(${JSON.stringify(entry.name)});
        console.log(JSON.stringify({ ok: true, file: plugin.native.file, result: plugin.native.methods.hello('manifest'), listed: host.list()[0].path }));
      } catch (err) { console.log(JSON.stringify({ ok: false, code: err.code, message: err.message })); }`;
    fs.writeFileSync(path.join(app, 'manifest-load.mjs'), script);
    writeManifest(entry);
    const ok = run([path.join(app, 'manifest-load.mjs')], app, cleanEnv({ PATH: bin }));
    expect(JSON.parse(ok.stdout), output(ok)).toEqual({ ok: true, file, result: 'hello, manifest', listed: `npm:${PKG}` });
    writeManifest({ ...entry, sha256: '0'.repeat(64) });
    const pinned = run([path.join(app, 'manifest-load.mjs')], app, cleanEnv({ PATH: bin }));
    expect(JSON.parse(pinned.stdout), output(pinned)).toMatchObject({ ok: false, code: 'PLUGHOST_CHECKSUM_MISMATCH' });
    // Every other pin of an independently published plugin holds too: its version and its build ID.
    writeManifest({ ...entry, packageVersion: '1.0.9' });
    const version = run([path.join(app, 'manifest-load.mjs')], app, cleanEnv({ PATH: bin }));
    expect(JSON.parse(version.stdout), output(version)).toMatchObject({ ok: false, code: 'PLUGHOST_MANIFEST_MISMATCH' });
    expect(JSON.parse(version.stdout).message).toContain(`expected ${PKG}@1.0.9 (manifest), found ${PKG}@1.0.0 (installed)`);
    writeManifest({ ...entry, buildId: 'another-prebuild' });
    const build = run([path.join(app, 'manifest-load.mjs')], app, cleanEnv({ PATH: bin }));
    expect(JSON.parse(build.stdout), output(build)).toMatchObject({ ok: false, code: 'PLUGHOST_BUILD_ID_MISMATCH' });
  });

  it('a package with prebuilds only for other machines: PLUGHOST_NO_PREBUILD names the tuple and every candidate', () => {
    // The same package, republished with its binary filed under another arch and another libc.
    const other = path.join(tmp, 'pkg-other');
    fs.cpSync(pkgDir, other, { recursive: true, filter: (src) => !/[/\\](node_modules|build)$/.test(src) });
    const good = path.join(other, 'prebuilds', tupleDir, prebuildName);
    const wrongArch = path.join(other, 'prebuilds', `${process.platform}-${otherArch}`, prebuildName);
    const wrongLibc = path.join(other, 'prebuilds', tupleDir, `${PKG}.napi.${otherLibc}.node`);
    fs.mkdirSync(path.dirname(wrongArch), { recursive: true });
    fs.copyFileSync(good, wrongArch);
    fs.renameSync(good, wrongLibc);
    const json = JSON.parse(fs.readFileSync(path.join(other, 'package.json'), 'utf8'));
    fs.writeFileSync(path.join(other, 'package.json'), JSON.stringify({ ...json, version: '1.0.1' }, null, 2));
    const packed = npm(['pack', '--json', '--pack-destination', path.join(tmp, 'tgz')], other);
    expect(packed.status, output(packed)).toBe(0);
    const { r } = npmInstall([path.join(tmp, 'tgz', JSON.parse(packed.stdout)[0].filename)]);
    expect(r.status, output(r)).toBe(0);

    const { status, out, raw } = loadInApp();
    expect(status, raw).toBe(1);
    expect(out.code).toBe('PLUGHOST_NO_PREBUILD');
    const installed = path.join(app, 'node_modules', PKG);
    const tuple = `${process.platform}-${process.arch} ${currentLibc()}, Node-API <= ${process.versions.napi}`;
    expect(out.message).toContain(`no prebuild of "${PKG}" fits this machine: ${tuple}`);
    expect(out.message).toContain(`prebuilds/${process.platform}-${otherArch}/${prebuildName}: arch ${otherArch}, this machine is ${process.arch}`);
    expect(out.message).toContain(`prebuilds/${tupleDir}/${PKG}.napi.${otherLibc}.node: libc ${otherLibc}, this machine has ${libc}`);
    expect(out.message).toContain(OVERRIDE);
    expect(out.tuple).toEqual({ platform: process.platform, arch: process.arch, libc: currentLibc(), napi: Number(process.versions.napi) });
    expect(out.candidates).toEqual([
      { file: path.join(installed, 'prebuilds', `${process.platform}-${otherArch}`, prebuildName), accepted: false, reason: `arch ${otherArch}, this machine is ${process.arch}` },
      { file: path.join(installed, 'prebuilds', tupleDir, `${PKG}.napi.${otherLibc}.node`), accepted: false, reason: `libc ${otherLibc}, this machine has ${libc}` },
    ].sort((a, b) => (a.file < b.file ? -1 : 1)));
  }, 120_000);

  it(`${OVERRIDE} points at an explicit binary, and a missing one is refused`, () => {
    const explicit = path.join(pkgDir, 'prebuilds', tupleDir, prebuildName);
    const { status, out, raw } = loadInApp({ [OVERRIDE]: explicit });
    expect(status, raw).toBe(0);
    expect(out).toMatchObject({ ok: true, file: explicit, result: 'hello, npm' });
    expect(out.resolution).toMatchObject({ source: 'override', packageDir: null, candidates: [{ file: explicit, accepted: true, reason: `set by ${OVERRIDE}` }] });

    const missing = loadInApp({ [OVERRIDE]: path.join(tmp, 'nope.node') });
    expect(missing.status, missing.raw).toBe(1);
    expect(missing.out.code).toBe('PLUGHOST_NO_PREBUILD');
    expect(missing.out.message).toContain(`${OVERRIDE} names ${path.join(tmp, 'nope.node')}, which is not a file`);
  });

  it('NoPrebuildError is a typed PlughostError', () => {
    try {
      resolvePrebuildDir(path.join(tmp, 'pkg-other'), PKG);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(NoPrebuildError);
      expect((err as NoPrebuildError).toJSON()).toMatchObject({ code: 'PLUGHOST_NO_PREBUILD', packageName: PKG });
    }
  });
});
