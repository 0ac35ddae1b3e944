// The local-registry harness itself: publish by directory and by tarball,
// install by name in a fresh app outside the repo (with a dependency that
// must come through the upstream proxy), refuse a republish, and leave
// nothing running or on disk after stop().
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalRegistryStartError, NpmError, startLocalRegistry, type LocalRegistry } from './local-registry.js';

const name = `plughost-journey-smoke-${randomBytes(4).toString('hex')}`;
let registry: LocalRegistry;
let tmp: string;
const timings: Record<string, number> = {};

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[label] = Math.round(performance.now() - start);
  }
}

function writePackage(dir: string, version: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name,
      version,
      type: 'module',
      main: 'index.js',
      // Not local: must resolve through verdaccio's uplink. commander is in
      // plughost's own lockfile, so ~/.npm normally has its tarball.
      dependencies: { commander: '^14.0.0' },
    }),
  );
  fs.writeFileSync(path.join(dir, 'index.js'), `export const version = ${JSON.stringify(version)};\n`);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-journey-smoke-'));
  registry = await timed('start', () => startLocalRegistry());
});

afterAll(async () => {
  await registry?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`local registry timings (ms): ${JSON.stringify(timings)}`);
});

describe('local registry', () => {
  it('listens on 127.0.0.1 and writes an npmrc for itself', async () => {
    expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const ping = await fetch(new URL('-/ping', registry.url));
    expect(ping.status).toBe(200);
    const npmrc = fs.readFileSync(registry.npmrc, 'utf8');
    expect(npmrc).toContain(`registry=${registry.url}`);
    expect(npmrc).toMatch(new RegExp(`^//127\\.0\\.0\\.1:${registry.port}/:_authToken=.+$`, 'm'));
    const env = registry.npmEnv({ EXTRA: '1' });
    expect(env).toMatchObject({ npm_config_userconfig: registry.npmrc, npm_config_registry: registry.url, EXTRA: '1', PATH: process.env.PATH });
  });

  it('publishes a directory and a tarball, installs by name in a fresh app', async () => {
    const v1 = path.join(tmp, 'pkg-1.0.0');
    writePackage(v1, '1.0.0');
    expect(await timed('publish dir', () => registry.publish(v1))).toBe(`${name}@1.0.0`);

    const v2 = path.join(tmp, 'pkg-1.0.1');
    writePackage(v2, '1.0.1');
    const { stdout } = await registry.npm(['pack', v2, '--ignore-scripts', '--json', '--pack-destination', tmp]);
    const tarball = path.join(tmp, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    expect(await timed('publish tgz', () => registry.publish(tarball))).toBe(`${name}@1.0.1`);

    const view = await registry.npm(['view', name, 'version'], { cwd: tmp });
    expect(view.stdout.trim()).toBe('1.0.1');

    // A real app has a package.json; without one npm walks up and may install into an ancestor project.
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'journey-app', version: '1.0.0', private: true }));
    await timed('install', () => registry.npm(['install', name], { cwd: app }));
    const installed = path.join(app, 'node_modules', name);
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'))).toMatchObject({ name, version: '1.0.1' });
    expect(fs.readFileSync(path.join(installed, 'index.js'), 'utf8')).toContain('"1.0.1"');
    expect(fs.existsSync(path.join(app, 'node_modules/commander/package.json'))).toBe(true);
    const appPkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(appPkg.dependencies[name]).toBe('^1.0.1');
  });

  it('refuses to publish the same version twice, with npm output in the error', async () => {
    const again = path.join(tmp, 'pkg-1.0.0');
    const err = await registry.publish(again).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NpmError);
    expect((err as NpmError).exitCode).not.toBe(0);
    expect((err as NpmError).message).toMatch(/cannot publish over the previously published versions: 1\.0\.0/);
  });

  it('stop() kills verdaccio, frees the port, removes its dir, and is idempotent', async () => {
    const { pid, url, dir } = registry;
    await registry.stop();
    await registry.stop();
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a registry that does not come up in time is reported with its output, killed and removed', async () => {
    const err = await startLocalRegistry({ startTimeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalRegistryStartError);
    const { message, pid, dir } = err as LocalRegistryStartError;
    expect(message).toMatch(/did not listen within 1 ms[\s\S]*--- verdaccio output ---/);
    expect(pid).toBeTypeOf('number');
    expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(fs.existsSync(dir)).toBe(false);
  });
});
