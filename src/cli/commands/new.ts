import path from 'node:path';

import { scaffold, type ScaffoldKind, type ScaffoldLang } from '../../tools.js';
import { formatMs, reportFailure } from '../output.js';

export function newCommand(kind: ScaffoldKind, name: string, opts: { lang?: ScaffoldLang; dir?: string; plughost?: string }): void {
  const started = performance.now();
  try {
    const result = scaffold({ kind, name, lang: opts.lang, dir: opts.dir ?? name, plughost: opts.plughost });
    const where = path.relative(process.cwd(), result.dir) || '.';
    process.stdout.write(`created a ${kind} plugin "${result.name}" in ${result.lang} in ${where}/:\n`);
    for (const file of result.files) process.stdout.write(`  ${file}\n`);
    process.stdout.write(`plughost dependency: "${result.plughost.spec}", from ${result.plughost.source}\n`);
    process.stdout.write(`done in ${formatMs(performance.now() - started)}. Next:\n`);
    for (const step of result.next) process.stdout.write(`  ${step}\n`);
    process.stdout.write(`To build it with your app, add to the app's package.json "plughost": { "plugins": [...] }: ${JSON.stringify(result.appEntry)}\n`);
  } catch (err) {
    // A bad name or language is a usage error (exit 2), like commander's own.
    reportFailure(err, false);
  }
}
