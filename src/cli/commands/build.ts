import path from 'node:path';

import { buildPlugins, writeBuildInfo } from '../../build/build-plugins.js';
import { buildManifest, writeManifest } from '../../build/write-manifest.js';
import { stageExecHelperPrebuild } from '../../dynamic/exec-helper.js';
import { formatMs, reportFailure } from '../output.js';

export async function buildCommand(opts: { buildId?: string; dir?: string }): Promise<void> {
  const projectDir = path.resolve(opts.dir ?? '.');
  try {
    const result = await buildPlugins({
      projectDir,
      buildId: opts.buildId,
      log: (line) => process.stdout.write(line + '\n'),
    });
    const info = writeBuildInfo(projectDir, result);
    // Building plughost itself: its exec helper ships as a prebuild in the npm tarball.
    const helper = stageExecHelperPrebuild(projectDir);
    if (helper !== null) process.stdout.write(`staged ${path.relative(projectDir, helper)}\n`);
    for (const p of result.plugins) process.stdout.write(`built ${p.name.padEnd(12)} ${path.relative(projectDir, p.file)}\n`);
    const manifest = writeManifest(projectDir, await buildManifest(projectDir, result, (line) => process.stdout.write(line + '\n')));
    process.stdout.write(
      `build ${result.buildId}: ${result.plugins.length} plugin(s) in ${formatMs(result.ms)}; wrote ${path.relative(projectDir, info)} and ${path.relative(projectDir, manifest)}\n`,
    );
  } catch (err) {
    reportFailure(err, false);
  }
}
