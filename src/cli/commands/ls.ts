import path from 'node:path';

import { listManifest } from '../../tools.js';
import { printColumns, printJson, reportFailure } from '../output.js';

export function lsCommand(opts: { dir?: string; json?: boolean }): void {
  let listing;
  try {
    listing = listManifest(opts.dir ?? '.');
  } catch (err) {
    reportFailure(err, opts.json === true);
    return;
  }
  const { file, buildId, plugins } = listing;
  if (opts.json) {
    printJson({ ok: true, file, buildId, plugins });
    return;
  }
  printColumns(
    ['name', 'kind', 'version', 'path', 'isolate', 'methods'],
    plugins.map((p) => [p.name, p.kind, p.version, p.path, p.isolate ? 'yes' : 'no', p.methods.join(', ')]),
  );
  process.stdout.write(`${plugins.length} plugin(s) in ${path.relative(process.cwd(), file) || file}, build ${buildId}\n`);
}
