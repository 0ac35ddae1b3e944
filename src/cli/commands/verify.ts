import path from 'node:path';

import { isDeployLocation, verifyDeploy, verifyPluginFile } from '../../tools.js';
import { formatMs, printColumns, printJson, reportFailure } from '../output.js';

interface VerifyOptions {
  buildId?: string;
  anyBuild?: boolean;
  sha256?: string;
  json?: boolean;
}

export async function verifyCommand(target: string, opts: VerifyOptions): Promise<void> {
  if (isDeployLocation(target)) await verifyDeployCommand(target, opts);
  else verifyFile(target, opts);
}

/** One native plugin file: every pre-load check against the app's build ID (and an optional pin). */
function verifyFile(file: string, opts: VerifyOptions): void {
  const started = performance.now();
  try {
    const v = verifyPluginFile(file, opts);
    const buildId = v.expectedBuildId;
    const ms = performance.now() - started;
    if (opts.json) {
      printJson({ ok: true, file: v.file, buildId, sha256: v.sha256, descriptor: v.descriptor, ms });
      return;
    }
    const against = buildId === null ? `any build (its own: ${v.descriptor.buildId})` : `build ${buildId}`;
    process.stdout.write(
      `ok: ${v.descriptor.name} ${v.descriptor.version} passes every pre-load check for ${against} ` +
        `(${v.arch}, Node-API ${v.descriptor.napiVersion}${opts.sha256 ? ', sha256 pinned' : ''}) in ${formatMs(ms)}\n`,
    );
  } catch (err) {
    reportFailure(err, opts.json === true, { file, buildId: opts.anyBuild ? null : (opts.buildId ?? null) });
  }
}

/** A whole deploy: every plugin's pins and pre-load checks, on this machine, without loading anything. */
async function verifyDeployCommand(location: string, opts: VerifyOptions): Promise<void> {
  const started = performance.now();
  let result;
  try {
    result = await verifyDeploy(location, {
      buildId: opts.buildId,
      sha256: opts.sha256,
      // Progress on stderr: stdout stays the table (or the JSON).
      onProgress: opts.json ? undefined : (line) => process.stderr.write(`  ${line} (${formatMs(performance.now() - started)})\n`),
    });
  } catch (err) {
    reportFailure(err, opts.json === true, { location: path.resolve(location) });
    return;
  }
  try {
    const ms = performance.now() - started;
    const { rows, ok } = result;
    if (!ok) process.exitCode = 1;
    if (opts.json) {
      printJson({ ok, location: result.location, bundle: result.bundle, buildId: result.buildId, rows, ms });
      return;
    }
    printColumns(
      ['plugin', 'kind', 'ok', 'detail'],
      rows.map((r) => [r.plugin, r.kind, r.ok ? 'ok' : 'FAIL', r.ok ? r.detail : `${r.code}: ${r.detail}`]),
    );
    const failed = rows.filter((r) => !r.ok).length;
    const what = `${result.bundle ? 'bundle' : 'deploy'} ${path.relative(process.cwd(), result.location) || '.'} (build ${result.buildId}${opts.sha256 ? ', sha256 pinned' : ''})`;
    process.stdout.write(
      failed === 0
        ? `ok: ${what} passes every check: ${rows.length} row(s) in ${formatMs(ms)}\n`
        : `FAILED: ${what}: ${failed} of ${rows.length} row(s) failed in ${formatMs(ms)}\n`,
    );
  } finally {
    result.cleanup();
  }
}
