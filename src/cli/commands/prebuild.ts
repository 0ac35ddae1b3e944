import path from 'node:path';

import { prebuildPackage } from '../../tools.js';
import { formatMs, printJson, reportFailure } from '../output.js';

export async function prebuildCommand(opts: { dir?: string; buildId?: string; json?: boolean }): Promise<void> {
  const packageDir = path.resolve(opts.dir ?? '.');
  const json = opts.json === true;
  try {
    const r = await prebuildPackage({
      packageDir,
      buildId: opts.buildId,
      log: json ? undefined : (line) => process.stdout.write(line + '\n'),
    });
    if (json) {
      printJson({ ok: true, ...r });
      return;
    }
    const d = r.descriptor;
    const kib = (r.size / 1024).toFixed(1);
    process.stdout.write(
      `built ${d.name} ${d.version} with ${r.builder}: ${path.relative(packageDir, r.builtFile)} (Node-API ${d.napiVersion}, build ${d.buildId}, verified)\n` +
        `wrote ${r.path} (${kib} KiB, sha256 ${r.sha256})\n`,
    );
    if (r.resolvesTo === r.file) {
      process.stdout.write(`resolves on this machine: ${r.path}\n`);
    } else {
      process.stdout.write(`note: on this machine resolution picks ${path.relative(packageDir, r.resolvesTo)} over it (more specific tags)\n`);
    }
    process.stdout.write(`prebuilt ${r.packageName} ${r.packageVersion} in ${formatMs(r.ms)} (build ${formatMs(r.buildMs)}); ship prebuilds/ in the package's "files"\n`);
  } catch (err) {
    reportFailure(err, json, { packageDir });
  }
}
