import fs from 'node:fs';
import path from 'node:path';

import { expectedBy, resolveRelease } from '../../manifest/release.js';
import { verifyDeploy } from '../../bundle/verify.js';
import { MANIFEST_FILE } from '../../manifest/schema.js';
import { verifyNative } from '../../native/inspect.js';
import { formatMs, printJson, reportFailure } from '../output.js';
import { printColumns } from './ls.js';

interface VerifyOptions {
  buildId?: string;
  anyBuild?: boolean;
  sha256?: string;
  json?: boolean;
}

const BUNDLE_NAME = /\.(tar\.gz|tgz)$/i;

/** A deploy (directory, manifest.json or bundle) rather than one plugin file. */
function isDeploy(target: string): boolean {
  if (BUNDLE_NAME.test(target) || path.basename(target) === MANIFEST_FILE) return true;
  try {
    return fs.statSync(target).isDirectory();
  } catch {
    return false;
  }
}

export async function verifyCommand(target: string, opts: VerifyOptions): Promise<void> {
  if (isDeploy(target)) await verifyDeployCommand(target, opts);
  else verifyFile(target, opts);
}

/** One native plugin file: every pre-load check against a build ID (and an optional pin). */
function verifyFile(file: string, opts: VerifyOptions): void {
  const started = performance.now();
  let buildId: string | null = null;
  try {
    // The app's release, as createHost() in this directory would expect it; none for a plugin package.
    const release = opts.anyBuild ? null : resolveRelease({ buildId: opts.buildId });
    buildId = release?.buildId ?? null;
    const v = verifyNative(file, { buildId, buildIdOrigin: release === null ? undefined : expectedBy(release), sha256: opts.sha256 });
    const ms = performance.now() - started;
    if (opts.json) {
      printJson({ ok: true, file: v.file, buildId, sha256: v.sha256, descriptor: v.descriptor, ms });
    } else {
      process.stdout.write(
        `ok: ${v.descriptor.name} ${v.descriptor.version} passes every pre-load check for ${buildId === null ? `any build (its own: ${v.descriptor.buildId})` : `build ${buildId}`} ` +
          `(${v.arch}, Node-API ${v.descriptor.napiVersion}${opts.sha256 ? ', sha256 pinned' : ''}) in ${formatMs(ms)}\n`,
      );
    }
  } catch (err) {
    reportFailure(err, opts.json === true, { file, buildId });
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
