import path from 'node:path';

import { packBundle } from '../../tools.js';
import { formatBytes, formatMs, printJson, reportFailure } from '../output.js';

export async function bundleCommand(opts: { out: string; dir?: string; host?: boolean; json?: boolean }): Promise<void> {
  const json = opts.json === true;
  const say = (line: string): void => {
    if (!json) process.stdout.write(line + '\n');
  };
  const dir = path.resolve(opts.dir ?? '.');
  const shown = (p: string): string => path.relative(process.cwd(), p) || '.';
  say(`bundling the deploy in ${shown(dir)}${opts.host === false ? ' (manifest and plugins only)' : ''}`);
  try {
    const result = await packBundle({
      manifestDir: dir,
      out: opts.out,
      app: opts.host !== false,
      onGroup: (g) => say(`  ${g.name.padEnd(36)} ${String(g.files).padStart(4)} file(s)  ${formatBytes(g.bytes).padStart(10)}`),
    });
    if (json) {
      printJson({ ok: true, ...result });
      return;
    }
    say(`wrote ${shown(result.file)}: ${result.entries.length} files, ${formatBytes(result.contentBytes)} -> ${formatBytes(result.bytes)} (${result.bytes} bytes)`);
    say(`sha256 ${result.sha256}`);
    say(`build ${result.buildId}; bundled in ${formatMs(result.ms)}`);
    say(`next: plughost verify ${shown(result.file)} --sha256 ${result.sha256}`);
  } catch (err) {
    reportFailure(err, json, { dir });
  }
}
