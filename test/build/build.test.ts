// `plughost build` on a throwaway project: both builders, one stamped build
// ID, the cmake-js fallback, and the plugins it builds load and run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildPlugins } from '../../src/build/build-plugins.js';
import { createHost, PlughostError } from '../../src/index.js';
import { inspectNative } from '../../src/tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');
let project: string;

const helloSource = (name: string): string => `#include "plughost.h"
static napi_value hello(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, "hello from ${name}", NAPI_AUTO_LENGTH, &out);
  return out;
}
static const plughost_method methods[] = {{"hello", hello}};
PLUGHOST_PLUGIN("${name}", "0.0.1", methods, NULL)
`;

function writeProject(dir: string, withFallback: boolean): void {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(root, path.join(dir, 'node_modules/plughost'));
  fs.symlinkSync(path.join(root, 'node_modules/node-addon-api'), path.join(dir, 'node_modules/node-addon-api'));
  fs.writeFileSync(path.join(dir, 'gyp_hello.c'), helloSource('gyp_hello'));
  fs.writeFileSync(
    path.join(dir, 'binding.gyp'),
    JSON.stringify({
      targets: [{ target_name: 'gyp_hello', includes: [path.join(root, 'native/plughost.gypi')], sources: ['gyp_hello.c'] }],
    }),
  );
  fs.mkdirSync(path.join(dir, 'cm'));
  fs.writeFileSync(path.join(dir, 'cm/cmake_hello.c'), helloSource('cmake_hello'));
  fs.writeFileSync(path.join(dir, 'cm/package.json'), JSON.stringify({ name: 'cm', binary: { napi_versions: [8] } }));
  fs.writeFileSync(
    path.join(dir, 'cm/CMakeLists.txt'),
    `cmake_minimum_required(VERSION 3.15)\nproject(cmake_hello LANGUAGES C)\n` +
      `include("${root}/native/plughost.cmake")\nplughost_add_plugin(cmake_hello SOURCES cmake_hello.c)\n`,
  );
  const gyp = { name: 'gyp_hello', builder: 'node-gyp', dir: '.', output: 'build/Release/gyp_hello.node' };
  const fallback = { builder: 'cmake-js', dir: 'cm', output: 'cm/build/Release/cmake_hello.node' };
  const plugins = withFallback
    ? [{ ...gyp, fallback }]
    : [gyp, { name: 'cmake_hello', builder: 'cmake-js', dir: 'cm', output: 'cm/build/Release/cmake_hello.node' }];
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'demo-project', plughost: { plugins } }));
}

beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-build-'));
  writeProject(project, false);
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

describe('plughost build', () => {
  it('builds node-gyp and cmake-js plugins with one build ID, shows progress and timing', () => {
    const r = spawnSync(process.execPath, [cli, 'build', '--dir', project, '--build-id', 'cli-build-7'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('[1/2] node-gyp in .: gyp_hello');
    expect(r.stdout).toContain('[2/2] cmake-js in cm: cmake_hello');
    expect(r.stdout).toMatch(/build cli-build-7: 2 plugin\(s\) in [\d.]+ (ms|s); wrote manifest.json/);

    const info = JSON.parse(fs.readFileSync(path.join(project, 'manifest.json'), 'utf8'));
    expect(info.buildId).toBe('cli-build-7');
    const host = createHost({ buildId: 'cli-build-7' });
    expect(info.plugins).toHaveLength(2);
    for (const plugin of info.plugins as Array<{ name: string; path: string }>) {
      const file = path.join(project, plugin.path);
      expect(inspectNative(file).descriptor?.buildId).toBe('cli-build-7');
      const loaded = host.loadNative<{ hello: () => string }>(file);
      expect(loaded.methods.hello()).toBe(`hello from ${plugin.name}`);
    }
  });

  it('refuses an invalid build ID', () => {
    const r = spawnSync(process.execPath, [cli, 'build', '--dir', project, '--build-id', 'bad id'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PLUGHOST_INVALID_ARGUMENT');
  });
});

describe('dynamic plugins', () => {
  it('runs their declared build step, then describes them into the manifest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-dynbuild-'));
    try {
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(root, path.join(dir, 'node_modules/plughost'));
      // The build step writes the plugin: proof it ran, with the build ID in its environment.
      const plugin = [
        "import { serve } from 'plughost/sdk';",
        "await serve({ name: 'made', version: process.env.BUILT_WITH ?? 'BUILD_ID', methods: { echo: (p) => p } });",
      ].join('\n');
      fs.writeFileSync(
        path.join(dir, 'make-plugin.mjs'),
        `import fs from 'node:fs';\nfs.writeFileSync('plugin.mjs', ${JSON.stringify(plugin)}.replace('BUILD_ID', process.env.PLUGHOST_BUILD_ID));\n`,
      );
      fs.writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify({
          name: 'dyn-project',
          type: 'module',
          plughost: { plugins: [{ name: 'made', kind: 'dynamic', path: 'plugin.mjs', command: ['node', '{path}'], build: ['node', 'make-plugin.mjs'] }] },
        }),
      );
      const r = spawnSync(process.execPath, [cli, 'build', '--dir', dir, '--build-id', 'dyn-1'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('[build] made: node make-plugin.mjs ...');
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      expect(manifest.plugins).toEqual([expect.objectContaining({ name: 'made', kind: 'dynamic', version: 'dyn-1', methods: ['echo'] })]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('without local Node headers', () => {
  it('builds a node-gyp plugin through its cmake-js fallback', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-fallback-'));
    try {
      writeProject(dir, true);
      const lines: string[] = [];
      const result = await buildPlugins({ projectDir: dir, buildId: 'fallback-1', headers: null, log: (l) => lines.push(l) });
      expect(lines[0]).toContain('cmake-js fallback');
      expect(result.plugins).toHaveLength(1);
      expect(result.plugins[0]).toMatchObject({ name: 'gyp_hello', builder: 'cmake-js' });
      expect(inspectNative(result.plugins[0]!.file).descriptor?.buildId).toBe('fallback-1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is missing when a node-gyp plugin has no fallback', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-noheaders-'));
    try {
      writeProject(dir, false);
      const err = await buildPlugins({ projectDir: dir, buildId: 'x', headers: null }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlughostError);
      expect((err as PlughostError).code).toBe('PLUGHOST_NO_NODE_HEADERS');
      expect((err as PlughostError).message).toContain('gyp_hello');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
