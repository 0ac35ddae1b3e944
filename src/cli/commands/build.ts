import path from 'node:path';

import { buildProject } from '../../tools.js';
import { formatMs, reportFailure } from '../output.js';

export async function buildCommand(opts: { buildId?: string; dir?: string }): Promise<void> {
  const say = (line: string): void => void process.stdout.write(line + '\n');
  try {
    const r = await buildProject({ dir: opts.dir ?? '.', buildId: opts.buildId, log: say });
    const shown = (file: string): string => path.relative(r.dir, file);
    if (r.execHelper !== null) say(`staged ${shown(r.execHelper)}`);
    for (const p of r.plugins) say(`built ${p.name.padEnd(12)} ${shown(p.file)}`);
    const left = r.leftOut.length === 0 ? '' : `; LEFT OUT of the manifest: ${r.leftOut.map((l) => l.name).join(', ')}`;
    say(`build ${r.buildId}: ${r.plugins.length} plugin(s) in ${formatMs(r.ms)}; wrote ${shown(r.manifestFile)}${left}`);
  } catch (err) {
    reportFailure(err, false);
  }
}
