import { hostBuildId } from '../../build/build-id.js';
import { verifyNative } from '../../native/inspect.js';
import { formatMs, printJson, reportFailure } from '../output.js';

export function verifyCommand(file: string, opts: { buildId?: string; sha256?: string; json?: boolean }): void {
  const started = performance.now();
  const buildId = opts.buildId ?? hostBuildId();
  try {
    const v = verifyNative(file, { buildId, sha256: opts.sha256 });
    const ms = performance.now() - started;
    if (opts.json) {
      printJson({ ok: true, file: v.file, buildId, sha256: v.sha256, descriptor: v.descriptor, ms });
    } else {
      process.stdout.write(
        `ok: ${v.descriptor.name} ${v.descriptor.version} passes every pre-load check for build ${buildId} ` +
          `(${v.arch}, Node-API ${v.descriptor.napiVersion}${opts.sha256 ? ', sha256 pinned' : ''}) in ${formatMs(ms)}\n`,
      );
    }
  } catch (err) {
    reportFailure(err, opts.json === true, { file, buildId });
  }
}
