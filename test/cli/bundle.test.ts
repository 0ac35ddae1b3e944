// plughost bundle / verify DIR|BUNDLE / ls, run as the real built CLI on a
// deploy made of the real example plugins (built by `npm run build`).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentTarget } from '../../src/platform/target.js';
import { formatApiVersion } from '../../src/native/descriptor.js';
import { inspectNative } from '../../src/native/inspect.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const sources = {
  crc32: path.join(root, 'build/Release/crc32.node'),
  textstats: path.join(root, 'plugins-native/textstats/build/Release/textstats.node'),
  textstatsTs: path.join(root, 'dist/plugins-dynamic/textstats-ts'),
};

const LONG_DIR = `textstats-ts/${'d'.repeat(90)}`;
const LONG_FILE = `${LONG_DIR}/${'f'.repeat(120)}.txt`;

let tmp: string;
/** The deploy directory: manifest.json, plugins/*.node, textstats-ts/. */
let deploy: string;
let buildId: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function nativeEntry(name: string, methods: string[]): Record<string, unknown> {
  const file = path.join(deploy, 'plugins', `${name}.node`);
  const info = inspectNative(file);
  const d = info.descriptor!;
  const target = currentTarget();
  return {
    name,
    kind: 'native',
    version: d.version,
    path: `plugins/${name}.node`,
    sha256: info.sha256,
    methods,
    buildId: d.buildId,
    platform: target.platform,
    arch: target.arch,
    libc: target.libc,
    apiVersion: formatApiVersion(d.apiVersion),
    napiVersion: d.napiVersion,
  };
}

function writeManifest(dir: string, edit: (m: { buildId: string; plugins: Array<Record<string, unknown>> }) => void = () => {}): void {
  const manifest = JSON.parse(fs.readFileSync(path.join(deploy, 'manifest.json'), 'utf8'));
  edit(manifest);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** A copy of the deploy directory to spoil. */
function copyDeploy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(deploy, dir, { recursive: true });
  return dir;
}

/** Flips one byte in the middle of the file (code, not headers or the descriptor). */
function flipByte(file: string): void {
  const bytes = fs.readFileSync(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0xff;
  fs.writeFileSync(file, bytes);
}

beforeAll(() => {
  for (const [name, file] of Object.entries(sources)) {
    if (!fs.existsSync(file)) throw new Error(`${name}: ${file} is missing; run npm run build first`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-bundle-'));
  deploy = path.join(tmp, 'deploy');
  fs.mkdirSync(path.join(deploy, 'plugins'), { recursive: true });
  fs.copyFileSync(sources.crc32, path.join(deploy, 'plugins/crc32.node'));
  fs.copyFileSync(sources.textstats, path.join(deploy, 'plugins/textstats.node'));
  fs.cpSync(sources.textstatsTs, path.join(deploy, 'textstats-ts'), { recursive: true });
  // A path longer than a plain tar header holds (100 bytes): it needs a PAX header.
  fs.mkdirSync(path.join(deploy, LONG_DIR), { recursive: true });
  fs.writeFileSync(path.join(deploy, LONG_FILE), 'long path\n');

  const crc32 = nativeEntry('crc32', ['crc32', 'crc32Batch']);
  const textstats = nativeEntry('textstats', ['stats', 'statsBytes', 'fail']);
  buildId = String(crc32.buildId);
  expect(textstats.buildId, 'the example plugins come from one build').toBe(buildId);
  const manifest = {
    schemaVersion: 1,
    buildId,
    plugins: [
      crc32,
      textstats,
      {
        name: 'textstats-ts',
        kind: 'dynamic',
        version: '1.0.0',
        path: 'textstats-ts/textstats.js',
        sha256: sha256(path.join(deploy, 'textstats-ts/textstats.js')),
        methods: ['echo', 'statsBytes', 'upper'],
        command: ['node', '{path}'],
        // The module it imports, pinned and bundled with it.
        files: [
          { path: 'textstats-ts/stats.js', sha256: sha256(path.join(deploy, 'textstats-ts/stats.js')) },
          { path: LONG_FILE, sha256: sha256(path.join(deploy, LONG_FILE)) },
        ],
      },
    ],
  };
  fs.writeFileSync(path.join(deploy, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('plughost bundle', () => {
  it('packs the manifest and every pinned plugin file reproducibly (no package.json: no app)', () => {
    const first = run('bundle', '--out', 'one.tar.gz', '--dir', 'deploy');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/native crc32\s+1 file/);
    expect(first.stdout).toMatch(/dynamic textstats-ts\s+3 file/);
    expect(first.stdout).not.toMatch(/^\s+app /m);
    expect(first.stdout).toMatch(/^sha256 [0-9a-f]{64}$/m);
    expect(first.stdout).toMatch(/bundled in [\d.]+ (µs|ms|s)/);

    // Newer mtimes on every input change nothing.
    const later = new Date(Date.now() + 60_000);
    for (const f of ['manifest.json', 'plugins/crc32.node', 'textstats-ts/textstats.js']) fs.utimesSync(path.join(deploy, f), later, later);
    const second = run('bundle', '--out', 'two.tar.gz', '--dir', 'deploy', '--json');
    expect(second.status, second.stderr).toBe(0);
    const one = fs.readFileSync(path.join(tmp, 'one.tar.gz'));
    const two = fs.readFileSync(path.join(tmp, 'two.tar.gz'));
    expect(two.equals(one)).toBe(true);
    const json = JSON.parse(second.stdout);
    expect(json).toMatchObject({ ok: true, bytes: one.length, sha256: createHash('sha256').update(one).digest('hex'), buildId });
    expect(first.stdout).toContain(json.sha256);

    // gzip: no timestamp, OS "unknown".
    expect(one.readUInt32LE(4)).toBe(0);
    expect(one[9]).toBe(0xff);
  });

  it('writes sorted entries with fixed metadata', async () => {
    const entries: Array<{ path: string; type: string; mode: number; uid: number; gid: number; uname: string; mtime: Date }> = [];
    await tar.t({
      file: path.join(tmp, 'one.tar.gz'),
      onReadEntry: (e) => entries.push({ path: e.path, type: e.type, mode: e.mode!, uid: e.uid!, gid: e.gid!, uname: e.uname ?? '', mtime: e.mtime! }),
    });
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    // What the manifest pins, nothing else: not the plugin's other files (.d.ts, maps) nor stray ones.
    expect(paths).toEqual(['manifest.json', 'plugins/crc32.node', 'plugins/textstats.node', LONG_FILE, 'textstats-ts/stats.js', 'textstats-ts/textstats.js']);
    for (const e of entries) {
      expect(e.type).toBe('File');
      expect([0o644, 0o755]).toContain(e.mode);
      expect([e.uid, e.gid, e.uname]).toEqual([0, 0, '']);
      expect(e.mtime.toISOString()).toBe('2000-01-01T00:00:00.000Z');
    }
    expect(entries.find((e) => e.path === 'plugins/crc32.node')?.mode).toBe(0o755);
    expect(entries.find((e) => e.path === 'manifest.json')?.mode).toBe(0o644);
  });

  it('refuses a manifest naming a missing file', () => {
    const dir = copyDeploy('missing');
    fs.rmSync(path.join(dir, 'plugins/textstats.node'));
    const r = run('bundle', '--out', 'missing.tar.gz', '--dir', 'missing');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PLUGHOST_FILE_NOT_FOUND');
    expect(r.stderr).toContain('plugin "textstats"');
    expect(fs.existsSync(path.join(tmp, 'missing.tar.gz'))).toBe(false);
  });

  it('refuses a file that does not match its pin', () => {
    const dir = copyDeploy('changed');
    flipByte(path.join(dir, 'plugins/crc32.node'));
    const r = run('bundle', '--out', 'changed.tar.gz', '--dir', 'changed', '--json');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'PLUGHOST_CHECKSUM_MISMATCH' } });
  });
});

describe('plughost verify DIR|BUNDLE', () => {
  it('passes the bundle: every plugin and every file it pins', () => {
    const r = run('verify', 'one.tar.gz');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^textstats\s+native\s+ok/m);
    expect(r.stdout).toMatch(/^plugin\s+kind\s+ok\s+detail$/m);
    expect(r.stdout).toMatch(/^crc32\s+native\s+ok\s+crc32 1\.0\.0, build/m);
    expect(r.stdout).toMatch(/^textstats-ts\s+dynamic\s+ok\s+entry textstats-ts\/textstats\.js \(\+2 file\(s\)\), sha256 ok$/m);
    expect(r.stdout).toMatch(/^ok: bundle one\.tar\.gz .* passes every check: 3 row\(s\) in/m);
    // Long work says what it does, on stderr (stdout stays the table).
    expect(r.stderr).toMatch(/reading one\.tar\.gz \([\d.]+ MiB\)/);
    expect(r.stderr).toMatch(/extracted 6 file\(s\) in [\d.]+ s/);
    expect(r.stderr).toMatch(/verifying textstats-ts/);

    const json = run('verify', 'one.tar.gz', '--json', '--build-id', buildId);
    expect(json.status).toBe(0);
    expect(json.stderr).toBe('');
    const out = JSON.parse(json.stdout);
    expect(out).toMatchObject({ ok: true, bundle: true, buildId });
    expect(out.rows.map((row: { plugin: string; ok: boolean }) => [row.plugin, row.ok])).toEqual([
      ['crc32', true],
      ['textstats', true],
      ['textstats-ts', true],
    ]);
  });

  it('fails a deploy whose pinned neighbour file changed', () => {
    const dir = copyDeploy('neighbour');
    fs.appendFileSync(path.join(dir, 'textstats-ts/stats.js'), '\n// changed\n');
    const r = run('verify', 'neighbour');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^textstats-ts\s+dynamic\s+FAIL\s+PLUGHOST_MANIFEST_MISMATCH: .*files: textstats-ts\/stats\.js does not match/m);
    expect(run('bundle', '--out', 'neighbour.tar.gz', '--dir', 'neighbour').status).toBe(1);
  });

  it('passes the deploy directory and pins the bundle by SHA-256', () => {
    expect(run('verify', 'deploy').status).toBe(0);
    expect(run('verify', 'deploy/manifest.json').status).toBe(0);
    const sha = sha256(path.join(tmp, 'one.tar.gz'));
    expect(run('verify', 'one.tar.gz', '--sha256', sha).status).toBe(0);
    const wrong = run('verify', 'one.tar.gz', '--sha256', 'ab'.repeat(32));
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('PLUGHOST_CHECKSUM_MISMATCH');
  });

  it('fails a tampered bundle, naming the plugin and the code', async () => {
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    await tar.x({ file: path.join(tmp, 'one.tar.gz'), cwd: unpacked });
    expect(fs.readFileSync(path.join(unpacked, LONG_FILE), 'utf8')).toBe('long path\n');
    flipByte(path.join(unpacked, 'plugins/textstats.node'));
    const list = fs.readdirSync(unpacked);
    await tar.c({ file: path.join(tmp, 'tampered.tar.gz'), gzip: true, cwd: unpacked, portable: true }, list);

    const r = run('verify', 'tampered.tar.gz');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^crc32\s+native\s+ok/m);
    expect(r.stdout).toMatch(/^textstats\s+native\s+FAIL\s+PLUGHOST_CHECKSUM_MISMATCH: plugins\/textstats\.node: /m);
    expect(r.stdout).toMatch(/^FAILED: bundle tampered\.tar\.gz .*: 1 of 3 row\(s\) failed/m);

    const json = JSON.parse(run('verify', 'tampered.tar.gz', '--json').stdout);
    expect(json.ok).toBe(false);
    expect(json.rows.find((row: { plugin: string }) => row.plugin === 'textstats')).toMatchObject({ ok: false, code: 'PLUGHOST_CHECKSUM_MISMATCH' });
  });

  it('fails a tampered deploy directory', () => {
    const dir = copyDeploy('tampered-dir');
    fs.appendFileSync(path.join(dir, 'textstats-ts/textstats.js'), '\n// changed\n');
    const r = run('verify', 'tampered-dir');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^textstats-ts\s+dynamic\s+FAIL\s+PLUGHOST_MANIFEST_MISMATCH: .*sha256/m);
  });

  it('refuses a plugin built for another arch, in a directory and in a bundle', () => {
    const other = process.arch === 'arm64' ? 'x64' : 'arm64';
    const dir = copyDeploy('other-arch');
    writeManifest(dir, (m) => {
      m.plugins[0]!.arch = other;
    });
    const r = run('verify', 'other-arch');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^crc32\s+native\s+FAIL\s+PLUGHOST_WRONG_TARGET: .*built for another machine/m);
    expect(r.stdout).toContain(`linux-${other}`);
    expect(r.stdout).toMatch(/^textstats\s+native\s+ok/m);

    // A bundle for another machine packs (it is built here for there) but does not verify here.
    expect(run('bundle', '--out', 'other-arch.tar.gz', '--dir', 'other-arch').status).toBe(0);
    const b = run('verify', 'other-arch.tar.gz', '--json');
    expect(b.status).toBe(1);
    expect(JSON.parse(b.stdout).rows[0]).toMatchObject({ plugin: 'crc32', ok: false, code: 'PLUGHOST_WRONG_TARGET' });
  });

  it('fails a deploy of another release', () => {
    const r = run('verify', 'deploy', '--build-id', 'release-9');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^\(release\)\s+manifest\s+FAIL\s+PLUGHOST_BUILD_ID_MISMATCH/m);
  });

  it('refuses bundles with entries that escape: "..", absolute paths, links outside', async () => {
    const src = path.join(tmp, 'evil-src');
    fs.mkdirSync(path.join(src, 'inner'), { recursive: true });
    fs.copyFileSync(path.join(deploy, 'manifest.json'), path.join(src, 'inner/manifest.json'));
    fs.writeFileSync(path.join(src, 'escape.txt'), 'gotcha');
    fs.symlinkSync('/etc', path.join(src, 'inner/etc-link'));
    fs.symlinkSync('../../outside', path.join(src, 'inner/up-link'));

    const cases: Array<[string, string[], string]> = [
      ['dotdot.tar.gz', ['inner/manifest.json', '../evil-src/escape.txt'], 'a path with ".."'],
      ['absolute.tar.gz', ['inner/manifest.json', path.join(src, 'escape.txt')], 'an absolute path'],
      ['abslink.tar.gz', ['inner/manifest.json', 'inner/etc-link'], 'a symbolic link'],
      ['uplink.tar.gz', ['inner/manifest.json', 'inner/up-link'], 'a symbolic link'],
    ];
    for (const [name, list, reason] of cases) {
      await tar.c({ file: path.join(tmp, name), gzip: true, cwd: src, preservePaths: true }, list);
      const r = run('verify', name, '--json');
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.error.code, `${name}: ${r.stdout}`).toBe('PLUGHOST_BUNDLE_UNSAFE');
      expect(out.error.message, name).toContain(reason);
    }
    // Nothing was written beside the temporary directory.
    expect(fs.existsSync(path.join(os.tmpdir(), 'evil-src'))).toBe(false);
    expect(fs.existsSync(path.join(os.tmpdir(), 'escape.txt'))).toBe(false);
  });

  it('refuses what is not a deploy', () => {
    fs.writeFileSync(path.join(tmp, 'garbage.tar.gz'), 'not a tarball at all, just text');
    const g = run('verify', 'garbage.tar.gz');
    expect(g.status).toBe(1);
    expect(g.stderr).toContain('PLUGHOST_BAD_FORMAT');
    const none = run('verify', 'nowhere.tar.gz');
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('PLUGHOST_FILE_NOT_FOUND');
    fs.mkdirSync(path.join(tmp, 'empty-dir'));
    const empty = run('verify', 'empty-dir');
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('PLUGHOST_MANIFEST_INVALID');
  });
});

describe('an app deploy: package.json, lockfile and the app\'s files travel with its plugins', () => {
  let appDir: string;
  let release: string;
  const plughostVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;

  function writeApp(dir: string, pkg: Record<string, unknown>, locked: Record<string, unknown> | null): void {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    fs.rmSync(path.join(dir, 'package-lock.json'), { force: true });
    if (locked === null) return;
    const lock = {
      name: pkg.name,
      version: pkg.version,
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies }, ...locked },
    };
    fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  }
  const appPackage = { name: 'bundle-app', version: '1.2.3', type: 'module', files: ['app.mjs'], dependencies: { plughost: `^${plughostVersion}` } };
  const locked = { 'node_modules/plughost': { version: plughostVersion } };

  beforeAll(() => {
    appDir = path.join(tmp, 'app');
    fs.mkdirSync(path.join(appDir, 'plugins'), { recursive: true });
    fs.copyFileSync(sources.crc32, path.join(appDir, 'plugins/crc32.node'));
    // A script plugin importing the SDK by name, as docs/deploying.md says it should.
    fs.mkdirSync(path.join(appDir, 'greeter'));
    fs.writeFileSync(
      path.join(appDir, 'greeter/greeter.mjs'),
      "import { serve } from 'plughost/sdk';\nawait serve({ name: 'greeter', version: '1.0.0', methods: { greet: (p) => Buffer.concat([Buffer.from('hello '), p]) } });\n",
    );
    // The app: createHost() with no options finds its manifest.json and its build ID.
    fs.writeFileSync(
      path.join(appDir, 'app.mjs'),
      `import { createHost, silentLogger } from 'plughost';
const host = createHost({ logger: silentLogger });
const crc = await host.load('crc32');
const greeter = await host.load('greeter');
const greeting = Buffer.from(await greeter.call('greet', Buffer.from('deploy'))).toString();
console.log(JSON.stringify({ buildId: host.buildId, crc: crc.native.methods.crc32(Buffer.from('hello')), greeting }));
await host.close();
`,
    );
    fs.writeFileSync(path.join(appDir, 'notes.txt'), 'not in "files": stays home\n');
    writeApp(appDir, appPackage, locked);
    const greeterFile = path.join(appDir, 'greeter/greeter.mjs');
    const manifest = {
      schemaVersion: 1,
      buildId,
      plugins: [
        { ...nativeEntry('crc32', ['crc32', 'crc32Batch']), sha256: sha256(sources.crc32) },
        { name: 'greeter', kind: 'dynamic', version: '1.0.0', path: 'greeter/greeter.mjs', sha256: sha256(greeterFile), methods: ['greet'], command: ['node', '{path}'] },
      ],
    };
    fs.writeFileSync(path.join(appDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  });

  it('bundles package.json, the lockfile and what npm would pack of the app, beside the plugins', async () => {
    const r = run('bundle', '--out', 'app.tar.gz', '--dir', 'app');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/app bundle-app\s+3 file/);
    const paths: string[] = [];
    await tar.t({ file: path.join(tmp, 'app.tar.gz'), onReadEntry: (e) => paths.push(e.path) });
    expect(paths).toEqual(['app.mjs', 'greeter/greeter.mjs', 'manifest.json', 'package-lock.json', 'package.json', 'plugins/crc32.node']);
  });

  it('verifies before npm ci, then installed: plughost at the locked version with its exec helper, and the app runs', async () => {
    const before = run('verify', 'app.tar.gz');
    expect(before.status, before.stdout + before.stderr).toBe(0);
    expect(before.stdout).toMatch(/^\(host\)\s+host\s+ok\s+app bundle-app 1\.2\.3: plughost .* from package-lock\.json; not installed yet/m);

    release = path.join(tmp, 'app-release');
    fs.mkdirSync(release);
    await tar.x({ file: path.join(tmp, 'app.tar.gz'), cwd: release });
    // Stands in for `npm ci --omit=dev --ignore-scripts` (the journey test runs the real one against a registry).
    fs.mkdirSync(path.join(release, 'node_modules'));
    fs.symlinkSync(root, path.join(release, 'node_modules/plughost'), 'dir');
    const after = run('verify', 'app-release');
    expect(after.status, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toMatch(new RegExp(`^\\(host\\)\\s+host\\s+ok\\s+app bundle-app 1\\.2\\.3: plughost ${plughostVersion} installed, plughost-exec prebuilds/`, 'm'));

    const app = spawnSync(process.execPath, ['app.mjs'], { cwd: release, encoding: 'utf8', timeout: 60_000 });
    expect(app.status, app.stderr).toBe(0);
    expect(JSON.parse(app.stdout)).toEqual({ buildId, crc: 0x3610a686, greeting: 'hello deploy' });
  });

  it('fails an installed plughost that is not the one the lockfile pins', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(release, 'package-lock.json'), 'utf8'));
    lock.packages['node_modules/plughost'].version = '9.9.9';
    fs.writeFileSync(path.join(release, 'package-lock.json'), JSON.stringify(lock));
    const r = run('verify', 'app-release');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^\\(host\\)\\s+host\\s+FAIL\\s+PLUGHOST_DEPLOY_INCOMPLETE: .*expected 9\\.9\\.9 \\(package-lock\\.json\\), found ${plughostVersion} \\(installed\\)`, 'm'));
  });

  it('refuses to bundle an app that could not install: no lockfile, plughost only for development, a dependency outside the app', () => {
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown> | null, RegExp]> = [
      ['no-lock', appPackage, null, /has no package-lock\.json: a deploy installs its dependencies with npm ci/],
      ['dev-only', { ...appPackage, dependencies: {}, devDependencies: { plughost: '^0.1.0' } }, locked, /"plughost" is not among its dependencies/],
      ['outside', { ...appPackage, dependencies: { plughost: 'file:../plughost-0.1.0.tgz' } }, locked, /comes from file:\.\.\/plughost-0\.1\.0\.tgz, outside the app/],
    ];
    for (const [name, pkg, lock, message] of cases) {
      const dir = path.join(tmp, `app-${name}`);
      fs.cpSync(appDir, dir, { recursive: true });
      writeApp(dir, pkg, lock);
      const r = run('bundle', '--out', `${name}.tar.gz`, '--dir', `app-${name}`, '--json');
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.error.code, name).toBe('PLUGHOST_DEPLOY_INCOMPLETE');
      expect(out.error.message, name).toMatch(message);
      expect(fs.existsSync(path.join(tmp, `${name}.tar.gz`)), name).toBe(false);
    }
  });

  it('refuses --out naming a directory, leaving nothing behind', () => {
    fs.mkdirSync(path.join(tmp, 'out-dir'));
    const r = run('bundle', '--out', 'out-dir', '--dir', 'app');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^plughost: PLUGHOST_INVALID_ARGUMENT: .*out-dir: the bundle to write is a directory/);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('out-dir.partial'))).toEqual([]);
  });
});

describe('plughost ls', () => {
  it('lists the manifest\'s plugins', () => {
    const r = run('ls', '--dir', 'deploy');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^name\s+kind\s+version\s+path\s+isolate\s+methods$/m);
    expect(r.stdout).toMatch(/^crc32\s+native\s+1\.0\.0\s+plugins\/crc32\.node\s+no\s+crc32, crc32Batch$/m);
    expect(r.stdout).toMatch(/^textstats-ts\s+dynamic\s+1\.0\.0\s+textstats-ts\/textstats\.js\s+yes\s+echo, statsBytes, upper$/m);
    expect(r.stdout).toContain(`3 plugin(s) in deploy/manifest.json, build ${buildId}`);

    const json = JSON.parse(run('ls', '--dir', 'deploy', '--json').stdout);
    expect(json.plugins.map((p: { name: string; kind: string; isolate: boolean }) => [p.name, p.kind, p.isolate])).toEqual([
      ['crc32', 'native', false],
      ['textstats', 'native', false],
      ['textstats-ts', 'dynamic', true],
    ]);
  });

  it('exits 1 without a manifest', () => {
    const r = run('ls', '--dir', 'nowhere');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PLUGHOST_MANIFEST_INVALID');
  });
});
