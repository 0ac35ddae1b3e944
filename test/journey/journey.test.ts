// The user's journey, end to end, as docs/getting-started.md and
// docs/deploying.md tell it: plughost is packed and published to a local
// registry, then an app outside the repository installs it by name,
// scaffolds a plugin in every language, builds, bundles, deploys into a
// clean directory with no compiler on PATH, verifies and runs, and leaves no
// plugin process behind when it is killed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startLocalRegistry, type LocalRegistry } from './local-registry.js';

const root = path.resolve(import.meta.dirname, '../..');
const PLUGIN_PACKAGE = 'plughost-plugin-fixture-hello';
const SCAFFOLDS = [
  ['native', 'c', 'hello-c'],
  ['native', 'cpp', 'hello-cpp'],
  ['dynamic', 'ts', 'hello-ts'],
  ['dynamic', 'python', 'hello-py'],
] as const;
const MINUTES = 60_000;

let registry: LocalRegistry;
let tmp: string;
/** The app, outside the repository. */
let app: string;
/** Where the bundle is deployed: a clean directory. */
let deploy: string;
/** PATH with node and npm only: no cc, gcc, g++, make or cmake. */
let noCompilerPath: string;
const timings: Record<string, number> = {};
/** The user's PATH: without this repository's node_modules/.bin (npm test puts it there), so nothing of ours leaks in. */
const userPath = (process.env.PATH ?? '')
  .split(path.delimiter)
  .filter((dir) => dir !== '' && !path.resolve(dir).startsWith(root + path.sep))
  .join(path.delimiter);
const started = new Set<number>();

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command as the user would, against the local registry; never throws. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 3 * MINUTES): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: registry.npmEnv({ PATH: userPath, NODE_ENV: undefined, VITEST: undefined, TEST: undefined, VITEST_POOL_ID: undefined, VITEST_WORKER_ID: undefined, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const show = (r: Run): string => `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Runs, expects exit 0, records how long it took. */
async function step(label: string, command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = performance.now();
  const r = await run(command, args, cwd, env);
  timings[label] = Math.round(performance.now() - t0);
  expect(r.status, `${label}: ${command} ${args.join(' ')} in ${cwd}\n${show(r)}`).toBe(0);
  return r;
}

/** The app every stage runs: createHost() with no options, every plugin loaded by name and called. */
const APP_JS = `import { createHost } from 'plughost';

// A console-style logger (info/warn/error/debug), as an app has one.
const warnings = [];
const logger = { debug() {}, info() {}, warn: (message) => warnings.push(String(message)), error: (message) => warnings.push(String(message)) };
const host = createHost({ logger });
const results = {};
for (const { name } of host.list()) {
  const plugin = await host.load(name);
  results[name] = plugin.runs === 'in-process'
    ? plugin.native.methods.hello(name)
    : Buffer.from(await plugin.call('hello', Buffer.from(name))).toString();
}
const pids = host.dynamicPlugins().flatMap((p) => p.stats().instances.map((i) => i.pid));
console.log(JSON.stringify({ buildId: host.buildId, results, pids, warnings }));
if (process.argv.includes('--stay')) setInterval(() => {}, 1 << 30);
else await host.close();
`;

// The same plugin program as a server elsewhere (here: loopback), reached with host.connect().
const REMOTE_JS = `
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { createHost } from 'plughost';

const server = spawn(process.execPath, ['hello-ts/dist/hello-ts.js'], {
  env: { PATH: process.env.PATH, PLUGHOST_LISTEN: '127.0.0.1:0', PLUGHOST_INSECURE: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const address = await new Promise((resolve) =>
  readline.createInterface({ input: server.stdout }).on('line', (line) => line.startsWith('PLUGHOST_LISTENING ') && resolve(line.split(' ')[1])),
);
const host = createHost({ manifest: false, logger: { info() {}, warn() {}, error() {}, debug() {} } });
try {
  const plugin = await host.connect({ name: 'hello-ts', endpoints: [address], tls: false });
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => plugin.call('hello', Buffer.from('remote ' + i))));
  console.log(JSON.stringify({ kind: plugin.kind, first: Buffer.from(answers[0]).toString(), count: answers.length }));
} finally {
  await host.close();
  server.kill();
}
`;

const EXPECTED = {
  'hello-c': 'hello, hello-c',
  'hello-cpp': 'hello, hello-cpp',
  'hello-ts': 'hello, hello-ts',
  'hello-py': 'hello, hello-py',
  hello: 'hello, hello',
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie nobody reaps is not a running plugin.
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-journey-'));
  app = path.join(tmp, 'my-app');
  deploy = path.join(tmp, 'srv', 'my-app');
  // node, npm and a shell (npx runs bins through sh), and nothing that compiles.
  noCompilerPath = path.join(tmp, 'bin');
  fs.mkdirSync(noCompilerPath);
  fs.symlinkSync('/bin/sh', path.join(noCompilerPath, 'sh'));
  const npmBin = path.dirname(fs.realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim()));
  fs.symlinkSync(process.execPath, path.join(noCompilerPath, 'node'));
  for (const tool of ['npm', 'npx']) fs.symlinkSync(path.join(npmBin, `${tool}-cli.js`), path.join(noCompilerPath, tool));

  registry = await startLocalRegistry();
  // plughost as its npm tarball: what `npm publish` would upload (dist/ is built by pretest, prebuilds/ by npm install).
  const pack = await step('pack plughost', 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root);
  const tarball = path.join(tmp, JSON.parse(pack.stdout)[0].filename as string);
  await registry.publish(tarball);

  // A native plugin package published on its own, with its prebuild: made the way docs/prebuilds.md says.
  const pkg = path.join(tmp, 'plugin-package');
  fs.cpSync(path.join(root, 'test/fixtures/plugin-package'), pkg, { recursive: true });
  await step('plugin package: npm install', 'npm', ['install'], pkg);
  await step('plugin package: plughost prebuild', 'npx', ['plughost', 'prebuild'], pkg);
  await registry.publish(pkg);
}, 10 * MINUTES);

afterAll(async () => {
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await registry?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`journey timings (ms): ${JSON.stringify(timings)}`);
});

describe('the user journey, from a registry', () => {
  it('an app installs plughost by name; plughost new in all four languages; each scaffold installs, builds and passes its test', async () => {
    fs.mkdirSync(app);
    await step('app: npm init', 'npm', ['init', '-y'], app);
    await step('app: npm pkg set', 'npm', ['pkg', 'set', 'type=module', 'version=2.0.0'], app);
    await step('app: npm install plughost', 'npm', ['install', 'plughost'], app);
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/plughost/package.json'), 'utf8'));
    expect(installed.name).toBe('plughost');
    // Build tools only where building happens: an app that loads plugins has none.
    expect(fs.existsSync(path.join(app, 'node_modules/node-gyp'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules/cmake-js'))).toBe(false);
    const version = await step('app: plughost --version', 'npx', ['plughost', '--version'], app);
    expect(version.stdout).toMatch(new RegExp(`^plughost ${installed.version.replace(/\./g, '\\.')} \\(node v`));
    // The package is ESM; require() of it works on the Node versions "engines" names.
    const cjs = await step('app: require(plughost)', 'node', ['-e', "process.stdout.write(typeof require('plughost').createHost)"], app);
    expect(cjs.stdout).toBe('function');

    for (const [kind, lang, name] of SCAFFOLDS) {
      const created = await step(`new ${lang}`, 'npx', ['plughost', 'new', kind, name, '--lang', lang], app);
      expect(created.stdout).toContain(`plughost dependency: "^${installed.version}", from the npm registry`);
      const dir = path.join(app, name);
      await step(`${name}: npm install`, 'npm', ['install'], dir);
      if (lang !== 'python') await step(`${name}: npm run build`, 'npm', ['run', 'build'], dir);
      const test = await step(`${name}: npm test`, 'npm', ['test'], dir);
      expect(test.stdout).toMatch(/^# pass 1$/m);
    }
  }, 10 * MINUTES);

  it("the README's quick start works in a fresh app, as written", async () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'));
    const commands = /```sh\n([\s\S]*?)```/.exec(quick)![1]!.trim().split('\n');
    const snippet = /```js\n([\s\S]*?)```/.exec(quick)![1]!;
    expect(commands).toEqual([
      'npm install plughost',
      'npx plughost new native hello --lang c     # or cpp; dynamic --lang ts | python',
      'cd hello && npm install && npm run build && npm test',
    ]);
    const fresh = path.join(tmp, 'quick-app');
    fs.mkdirSync(fresh);
    await step('quick start: npm init', 'npm', ['init', '-y'], fresh);
    await step('quick start: npm install plughost', 'npm', ['install', 'plughost'], fresh);
    await step('quick start: plughost new', 'npx', ['plughost', 'new', 'native', 'hello', '--lang', 'c'], fresh);
    const hello = path.join(fresh, 'hello');
    for (const args of [['install'], ['run', 'build'], ['test']]) await step(`quick start: npm ${args.join(' ')}`, 'npm', args, hello);
    fs.writeFileSync(path.join(hello, 'quick.mjs'), snippet);
    const r = await step('quick start: node quick.mjs', 'node', ['quick.mjs'], hello);
    expect(r.stdout).toBe('hello, you\n');
  }, 5 * MINUTES);

  it('the app lists its plugins, builds them with its own build ID, and loads and calls each with the defaults', async () => {
    // The independently published package, installed by name: no compiler, no install script.
    await step('app: npm install the plugin package', 'npm', ['install', '--ignore-scripts', PLUGIN_PACKAGE], app, { PATH: noCompilerPath });
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    pkg.plughost = {
      plugins: [...SCAFFOLDS.map(([, , name]) => ({ project: name })), { name: 'hello', package: PLUGIN_PACKAGE }],
    };
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    fs.writeFileSync(path.join(app, 'app.js'), APP_JS);

    const build = await step('app: plughost build', 'npx', ['plughost', 'build'], app);
    const ls = await step('app: plughost ls', 'npx', ['plughost', 'ls'], app);
    expect(ls.stdout).toContain('5 plugin(s) in manifest.json, build 2.0.0+local');
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'manifest.json'), 'utf8'));
    expect(manifest.buildId).toBe('2.0.0+local');
    expect(build.stdout).toContain('build 2.0.0+local: 2 plugin(s)');
    expect(manifest.plugins.map((p: { name: string }) => p.name).sort()).toEqual(Object.keys(EXPECTED).sort());
    // The package keeps its own build ID, pinned with its version and SHA-256.
    const fromPackage = manifest.plugins.find((p: { name: string }) => p.name === 'hello');
    expect(fromPackage).toMatchObject({ package: PLUGIN_PACKAGE, packageVersion: '1.0.0' });
    expect(fromPackage.buildId).not.toBe(manifest.buildId);

    const r = await step('app: node app.js', 'node', ['app.js'], app);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ buildId: '2.0.0+local', results: EXPECTED, warnings: [] });
    // The same build ID for `plughost verify FILE` in the app, with no option and no environment variable.
    const verifyFile = await step('app: plughost verify FILE', 'npx', ['plughost', 'verify', 'hello-c/build/Release/hello-c.node'], app);
    // The bench measures plughost's own example plugins: not in an installed package, and it says so in one line.
    const bench = await run('npx', ['plughost', 'bench'], app);
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/^plughost: PLUGHOST_INVALID_ARGUMENT: plughost bench .* runs in a plughost checkout/);
    expect(bench.stderr.trim().split('\n')).toHaveLength(1);
    expect(verifyFile.stdout).toContain('for build 2.0.0+local');
  }, 5 * MINUTES);

  it('runs its TypeScript plugin as a remote server (PLUGHOST_LISTEN) and calls it with host.connect()', async () => {
    fs.writeFileSync(path.join(app, 'remote.js'), REMOTE_JS);
    const r = await step('app: node remote.js', 'node', ['remote.js'], app);
    expect(JSON.parse(r.stdout)).toEqual({ kind: 'remote', first: 'hello, remote 0', count: 50 });
    fs.rmSync(path.join(app, 'remote.js'));
  }, 2 * MINUTES);

  it('bundles the app, deploys it into a clean directory with no compiler, verifies and runs it there', async () => {
    const bundle = await step('plughost bundle', 'npx', ['plughost', 'bundle', '--out', '../my-app.tar.gz'], app);
    expect(bundle.stdout).toMatch(/^sha256 [0-9a-f]{64}$/m);
    const sha = /^sha256 ([0-9a-f]{64})$/m.exec(bundle.stdout)![1]!;
    console.log(`$ plughost bundle --out ../my-app.tar.gz\n${bundle.stdout}`);
    const listed = spawnSync('tar', ['-tzf', path.join(tmp, 'my-app.tar.gz')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    // What runs, and nothing else: no node_modules, no sources' build trees, no scaffold tests.
    expect(listed.filter((f) => f.includes('node_modules/'))).toEqual([]);
    expect(listed).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'package.json',
        'package-lock.json',
        'app.js',
        'hello-c/build/Release/hello-c.node',
        'hello-cpp/build/Release/hello-cpp.node',
        'hello-py/hello-py.py',
        'hello-ts/dist/hello-ts.js',
      ]),
    );
    expect(listed.filter((f) => f.includes('/build/') && !f.endsWith('.node'))).toEqual([]);
    expect(listed.length).toBeLessThan(50);
    await step('plughost verify BUNDLE', 'npx', ['plughost', 'verify', '../my-app.tar.gz', '--sha256', sha], app);

    // docs/deploying.md, run literally in a clean directory.
    fs.mkdirSync(deploy, { recursive: true });
    await step('deploy: tar -xzf', 'tar', ['-xzf', path.join(tmp, 'my-app.tar.gz'), '-C', deploy], tmp);
    const noCompiler = { PATH: noCompilerPath };
    expect((await run('cc', ['--version'], deploy, noCompiler)).status).toBe(-1);
    await step('deploy: npm ci --omit=dev --ignore-scripts', 'npm', ['ci', '--omit=dev', '--ignore-scripts'], deploy, noCompiler);
    expect(fs.existsSync(path.join(deploy, 'node_modules/node-gyp'))).toBe(false);
    expect(fs.existsSync(path.join(deploy, 'node_modules', PLUGIN_PACKAGE, 'prebuilds'))).toBe(true);
    const verified = await step('deploy: plughost verify .', 'npx', ['plughost', 'verify', '.'], deploy, noCompiler);
    expect(verified.stdout).toMatch(/^\(host\)\s+host\s+ok\s+app my-app 2\.0\.0: plughost [\d.]+ installed, plughost-exec prebuilds\//m);
    expect(verified.stdout).toMatch(/^ok: deploy \. .* passes every check: 6 row\(s\)/m);
    console.log(`$ plughost verify .\n${verified.stdout}`);

    const r = await step('deploy: node app.js', 'node', ['app.js'], deploy, noCompiler);
    const out = JSON.parse(r.stdout);
    // Subprocess plugins start through plughost-exec: the host would warn if it could not find it.
    expect(out).toEqual({ buildId: '2.0.0+local', results: EXPECTED, pids: expect.any(Array), warnings: [] });
  }, 5 * MINUTES);

  it('a SIGKILLed app leaves no plugin process behind', async () => {
    const child = spawn(process.execPath, ['app.js', '--stay'], { cwd: deploy, env: registry.npmEnv({ PATH: noCompilerPath }), stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(child.pid!);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`the app exited (${code}) before it was ready`)));
    });
    const pids = (JSON.parse(line) as { pids: number[] }).pids;
    expect(pids.length).toBe(2);
    for (const pid of pids) {
      started.add(pid);
      expect(alive(pid), `plugin ${pid} runs while the app does`).toBe(true);
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // The plugins die with the host: within 2 s, checked as they go rather than after a fixed sleep.
    const deadline = Date.now() + 2000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(pids.filter(alive), 'plugin processes still running 2 s after the app was killed').toEqual([]);
  }, MINUTES);
});
