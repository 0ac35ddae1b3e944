// Writing manifest.json after a build: every plugin with its pins, read from
// the files themselves (descriptor, SHA-256) and from the plugins (methods).
import fs from 'node:fs';
import path from 'node:path';

import { createHost } from '../host.js';
import { silentLogger } from '../logger.js';
import { launchCommand } from '../manifest/launch.js';
import { parseManifest } from '../manifest/load.js';
import { MANIFEST_FILE, type Manifest, type PluginEntry } from '../manifest/schema.js';
import { currentTarget } from '../manifest/target.js';
import { formatApiVersion } from '../native/descriptor.js';
import { inspectNative } from '../native/inspect.js';
import { readPluginSpecs, type BuildResult } from './build-plugins.js';
import { sha256File } from '../util/sha256.js';

const relative = (projectDir: string, file: string): string => path.relative(projectDir, file).split(path.sep).join('/');

/** Builds the manifest for a finished build; plugins are loaded once to learn their methods. */
export async function buildManifest(projectDir: string, result: BuildResult, log: (line: string) => void = () => {}): Promise<Manifest> {
  const target = currentTarget();
  const host = createHost({ buildId: result.buildId, logger: silentLogger });
  const plugins: PluginEntry[] = [];
  try {
    for (const spec of readPluginSpecs(projectDir)) {
      if (spec.kind === 'dynamic') {
        const file = path.resolve(projectDir, spec.path);
        const { command, env } = launchCommand(spec.command, file, projectDir, spec.options?.env);
        // Started once to ask it (Describe) what it serves. One that cannot start
        // here (e.g. no Python gRPC on this machine) is left out, loudly.
        let plugin;
        try {
          plugin = await host.loadDynamic({ name: spec.name, command, cookie: spec.cookie, cwd: projectDir, ...(env ? { env } : {}) });
        } catch (err) {
          log(`manifest: ${spec.name} (dynamic) LEFT OUT: it did not start here: ${(err as Error).message}`);
          continue;
        }
        plugins.push({
          name: spec.name,
          kind: 'dynamic',
          version: plugin.version || '0.0.0',
          path: relative(projectDir, file),
          sha256: sha256File(file),
          methods: plugin.methods.map((m) => m.name),
          command: [...spec.command],
          ...(spec.cookie ? { cookie: { ...spec.cookie } } : {}),
          ...(spec.options ? { options: spec.options } : {}),
        });
        await plugin.close();
        log(`manifest: ${spec.name} (dynamic) ${plugin.methods.length} method(s)`);
        continue;
      }
      const built = result.plugins.find((p) => p.name === spec.name);
      if (built === undefined) continue;
      const info = inspectNative(built.file);
      const d = info.descriptor!;
      const methods = host.loadNative(built.file).methodNames;
      plugins.push({
        name: spec.name,
        kind: 'native',
        version: d.version,
        path: relative(projectDir, built.file),
        sha256: info.sha256,
        methods: [...methods],
        buildId: d.buildId,
        platform: target.platform as 'linux' | 'darwin',
        arch: target.arch,
        libc: target.libc,
        apiVersion: formatApiVersion(d.apiVersion),
        napiVersion: d.napiVersion,
        ...(spec.isolate ? { isolate: true } : {}),
        ...(spec.options ? { options: spec.options } : {}),
      });
      log(`manifest: ${spec.name} (native) ${methods.length} method(s)`);
    }
  } finally {
    await host.close();
  }
  // Validated like any manifest the host will read.
  return parseManifest({ schemaVersion: 1, buildId: result.buildId, plugins });
}

export function writeManifest(projectDir: string, manifest: Manifest): string {
  const file = path.join(projectDir, MANIFEST_FILE);
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
  return file;
}
