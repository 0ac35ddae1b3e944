// A throwaway npm registry for journey tests: verdaccio in a child process on
// 127.0.0.1 and an OS-chosen port, storage in a fresh temp dir. Packages we
// publish are served from that storage; everything else is proxied to the
// machine's configured registry, so a published package's dependencies
// resolve the way they do for a real user (and ~/.npm's content cache keeps
// tarball downloads off the network).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export interface LocalRegistryOptions {
  /** Registry to proxy non-local packages to; default: `npm config get registry`. */
  upstream?: string;
  /**
   * Verdaccio package patterns that are never proxied: served (and published)
   * only locally, so an upstream package of the same name can neither shadow
   * nor block them.
   */
  localPackages?: string[];
  /** How long verdaccio may take to answer HTTP; default 20 s. */
  startTimeoutMs?: number;
}

export interface NpmRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default 120 s: an install with a cold cache fetches many packuments. */
  timeoutMs?: number;
}

export interface NpmResult {
  stdout: string;
  stderr: string;
}

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/`, trailing slash as npm prints registries. */
  readonly url: string;
  readonly port: number;
  /** verdaccio's pid (also its process group id). */
  readonly pid: number;
  /** Temp root holding config, storage, npmrc; removed by stop(). */
  readonly dir: string;
  /** userconfig .npmrc: `registry=<url>` plus the auth token for it. */
  readonly npmrc: string;
  /**
   * Environment for child npm processes that targets this registry only:
   * process.env minus npm_* (npm exports its own config there, even under npx),
   * plus userconfig/registry, plus extra (an `undefined` value removes a variable).
   */
  npmEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Runs npm with npmEnv(); rejects with NpmError (holding npm's output) on failure. */
  npm(args: string[], options?: NpmRunOptions): Promise<NpmResult>;
  /** `npm publish` of a package directory or .tgz; resolves to `name@version`. */
  publish(dirOrTarball: string, options?: { tag?: string }): Promise<string>;
  /** verdaccio's log so far (bounded), for failure messages. */
  output(): string;
  /** Kills verdaccio and removes dir. Idempotent. */
  stop(): Promise<void>;
}

export class NpmError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    reason: string,
  ) {
    super(`npm ${args.join(' ')} ${reason}\n--- stdout ---\n${stdout.trim()}\n--- stderr ---\n${stderr.trim()}`);
    this.name = 'NpmError';
  }
}

/** Startup failed; verdaccio was already killed and dir removed. */
export class LocalRegistryStartError extends Error {
  constructor(
    message: string,
    readonly pid: number | undefined,
    readonly dir: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'LocalRegistryStartError';
  }
}

const DEFAULT_LOCAL = ['plughost', 'plughost-*', '@plughost/*'];
const OUTPUT_LIMIT = 64 * 1024;

const verdaccioBin = (() => {
  const pkgJson = createRequire(import.meta.url).resolve('verdaccio/package.json');
  const bin = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { bin: string }).bin;
  return path.resolve(path.dirname(pkgJson), bin);
})();

// Runs inside verdaccio (node --require). Verdaccio logs the port it was asked
// for, not the one the OS picked for :0, so the preload reports the real one
// over IPC. It also exits when the IPC channel closes: that happens however
// the parent dies (even SIGKILL), so a crashed test cannot orphan verdaccio
// or its temp dir.
const PRELOAD = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const listen = net.Server.prototype.listen;
let reported = false;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    const address = this.address();
    if (reported || !address || typeof address !== 'object' || !process.send) return;
    reported = true;
    process.send({ localRegistryPort: address.port });
  });
  return listen.apply(this, args);
};
process.on('disconnect', () => {
  try {
    fs.rmSync(process.env.LOCAL_REGISTRY_DIR, { recursive: true, force: true });
  } finally {
    process.exit(0);
  }
});
`;

// Every process we start (and its temp dir), killed and removed synchronously
// if the test process exits without stop(): an 'exit' listener cannot await.
const live = new Map<ChildProcess, string | undefined>();
let exitHookInstalled = false;
function track(child: ChildProcess, dir?: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const [c, d] of live) {
        killGroup(c, 'SIGKILL');
        if (d) fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
      }
    });
  }
  live.set(child, dir);
  child.once('exit', () => live.delete(child));
}

/** Children are spawned detached (own process group): this reaches their children too. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * The parent's environment minus npm's own variables: under `npm test`, npm
 * exports npm_config_* (userconfig, registry, local prefix...) and lifecycle
 * variables that would otherwise leak into the child npm and override ours.
 * The cache location is kept so installs stay warm.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase();
    if (k === 'npm_config_cache' || !(k.startsWith('npm_') || k === 'init_cwd')) env[key] = value;
  }
  return env;
}

let upstreamDefault: Promise<string> | undefined;
function configuredRegistry(): Promise<string> {
  // Asked from the home dir so a project .npmrc cannot answer; memoised because
  // spawning npm costs ~0.3 s and the answer does not change within a run.
  upstreamDefault ??= new Promise((resolve, reject) => {
    execFile('npm', ['config', 'get', 'registry'], { cwd: os.homedir(), env: cleanEnv(), timeout: 30_000 }, (err, stdout) => {
      if (err) reject(new Error(`npm config get registry failed: ${err.message}`));
      else resolve(stdout.trim());
    });
  });
  return upstreamDefault;
}

/**
 * The user's own ~/.npmrc settings (nodedir, omit-lockfile-registry-resolved,
 * cafile, ...) still matter to the child npm, but its registry and every
 * credential must not: those lines are dropped, never copied.
 */
function inheritedNpmrc(): string {
  const file = process.env.npm_config_userconfig ?? process.env.NPM_CONFIG_USERCONFIG ?? path.join(os.homedir(), '.npmrc');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const dropped = /^(registry|@[^:]+:registry|_auth|_authtoken|_password|username|email|always-auth|userconfig|certfile|keyfile)$/i;
  return text
    .split(/\r?\n/)
    .filter((line) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return false;
      if (trimmed.startsWith('//')) return false; // per-registry settings, i.e. auth
      const key = trimmed.split('=')[0]!.trim();
      return !dropped.test(key);
    })
    .join('\n');
}

function verdaccioConfig(dir: string, upstream: string, local: string[]): object {
  const rule = { access: '$all', publish: '$authenticated', unpublish: '$authenticated' };
  const packages: Record<string, object> = {};
  for (const pattern of local) packages[pattern] = rule;
  packages['**'] = { ...rule, proxy: 'upstream' };
  return {
    storage: path.join(dir, 'storage'),
    auth: { htpasswd: { file: path.join(dir, 'htpasswd') } },
    // JWT API tokens: the default legacy AES token makes verdaccio re-check the
    // password (bcrypt) on every request, which more than doubles install time.
    security: { api: { jwt: { sign: { expiresIn: '7d' } } } },
    uplinks: {
      upstream: {
        url: upstream,
        timeout: '60s',
        // verdaccio marks an uplink offline for fail_timeout after max_fails
        // network errors (default 2 / 5 min): one blip would fail a whole run.
        max_fails: 20,
        fail_timeout: '10s',
      },
    },
    packages,
    // Default 10mb: a tarball with prebuilds can exceed it (npm shows E413).
    max_body_size: '500mb',
    web: { enable: false },
    log: { type: 'stdout', format: 'pretty', level: 'http' },
  };
}

export async function startLocalRegistry(options: LocalRegistryOptions = {}): Promise<LocalRegistry> {
  const upstream = options.upstream ?? (await configuredRegistry());
  const budgetMs = options.startTimeoutMs ?? 20_000;
  const deadline = Date.now() + budgetMs;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-local-registry-'));
  const configFile = path.join(dir, 'config.yaml');
  const preload = path.join(dir, 'preload.cjs');
  const npmrc = path.join(dir, 'npmrc');
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  // JSON is valid YAML: no hand-quoting of temp paths.
  fs.writeFileSync(configFile, JSON.stringify(verdaccioConfig(dir, upstream, options.localPackages ?? DEFAULT_LOCAL), null, 2));
  fs.writeFileSync(preload, PRELOAD);

  const child = spawn(process.execPath, ['--require', preload, verdaccioBin, '--config', configFile, '--listen', '127.0.0.1:0'], {
    cwd: dir,
    env: { ...cleanEnv(), LOCAL_REGISTRY_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  track(child, dir);
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  // A forgotten stop() must not keep the test process alive; the exit hook kills it.
  child.unref();
  for (const s of [child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      killGroup(child, 'SIGKILL'); // stragglers in the group, if any
      fs.rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  let port: number;
  try {
    port = await waitForPort(child, deadline, budgetMs);
    child.channel?.unref();
    await waitForPing(`http://127.0.0.1:${port}/`, child, deadline, budgetMs);
  } catch (err) {
    const output = log;
    await stop();
    throw new LocalRegistryStartError(`${(err as Error).message}\n--- verdaccio output ---\n${output.trim()}`, child.pid, dir, output);
  }

  const url = `http://127.0.0.1:${port}/`;
  try {
    const token = await createUser(url);
    fs.writeFileSync(
      npmrc,
      [
        '# generated by test/journey/local-registry.ts; inherited settings first, ours win',
        inheritedNpmrc(),
        `registry=${url}`,
        `//127.0.0.1:${port}/:_authToken=${token}`,
        // Audit and funding requests would go to verdaccio (and on upstream): slow, irrelevant here.
        'audit=false',
        'fund=false',
        'update-notifier=false',
        // Lockfiles written against this registry would otherwise pin
        // http://127.0.0.1:<port>/ tarball URLs that die with it.
        'omit-lockfile-registry-resolved=true',
        '',
      ].join('\n'),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const npmEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...cleanEnv(),
    npm_config_userconfig: npmrc,
    npm_config_registry: url,
    ...extra,
  });
  const npm = (args: string[], runOptions: NpmRunOptions = {}): Promise<NpmResult> =>
    runNpm(args, runOptions.cwd ?? work, npmEnv(runOptions.env), runOptions.timeoutMs ?? 120_000);

  return {
    url,
    port,
    pid: child.pid!,
    dir,
    npmrc,
    npmEnv,
    npm,
    async publish(dirOrTarball, publishOptions = {}) {
      // --registry and --tag on the command line beat a package's publishConfig,
      // so nothing can be published past this registry. The tag is explicit
      // because npm 11 refuses prereleases without one, and `latest` is what
      // `npm install <name>` resolves.
      const args = ['publish', path.resolve(dirOrTarball), '--ignore-scripts', '--json', '--registry', url, '--tag', publishOptions.tag ?? 'latest'];
      const { stdout } = await npm(args);
      return publishedId(stdout, args);
    },
    output: () => log,
    stop,
  };
}

function waitForPort(child: ChildProcess, deadline: number, budgetMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      fn();
    };
    const onMessage = (msg: unknown): void => {
      const port = (msg as { localRegistryPort?: unknown } | null)?.localRegistryPort;
      if (typeof port === 'number') done(() => resolve(port));
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(() => reject(new Error(`verdaccio exited before listening (code ${code}, signal ${signal})`)));
    const onError = (err: Error): void => done(() => reject(new Error(`cannot start verdaccio: ${err.message}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`verdaccio did not listen within ${budgetMs} ms`))), Math.max(0, deadline - Date.now()));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Bounded poll: 'listening' fires before the app is guaranteed to answer. */
async function waitForPing(url: string, child: ChildProcess, deadline: number, budgetMs: number): Promise<void> {
  let last = '';
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`verdaccio exited during startup (code ${child.exitCode}, signal ${child.signalCode})`);
    try {
      const res = await fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() + delay > deadline) throw new Error(`verdaccio at ${url} did not answer /-/ping within ${budgetMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** What `npm adduser` does: a PUT that registers the user and returns a token. */
async function createUser(url: string): Promise<string> {
  const name = `journey-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  const res = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password, type: 'user', roles: [], date: new Date().toISOString() }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string };
  if (res.status !== 201 || !body.token) throw new Error(`verdaccio refused to create user ${name}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

function publishedId(stdout: string, args: string[]): string {
  // npm 11 --json keys the result by package name: { "<name>": { id: "name@version", ... } }
  // (older npm printed the inner object alone).
  try {
    const parsed = JSON.parse(stdout) as Record<string, unknown>;
    for (const candidate of [parsed, ...Object.values(parsed)]) {
      const id = (candidate as { id?: unknown } | null)?.id;
      if (typeof id === 'string') return id;
    }
  } catch {
    // fall through
  }
  throw new NpmError(args, 0, stdout, '', 'succeeded but printed no {"id": "name@version"}');
}

function runNpm(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<NpmResult> {
  return new Promise((resolve, reject) => {
    // Detached so a timeout can kill npm's own children (lifecycle scripts, node-gyp).
    const child = spawn('npm', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new NpmError(args, null, stdout, stderr, `could not start: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new NpmError(args, code, stdout, stderr, timedOut ? `timed out after ${timeoutMs} ms` : `failed (exit ${code ?? signal}) in ${cwd}`));
    });
  });
}
