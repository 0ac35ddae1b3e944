import path from 'node:path';

import { PlughostError } from '../../errors.js';
import { scaffold, type ScaffoldKind, type ScaffoldLang } from '../../scaffold/index.js';
import { formatMs, reportFailure } from '../output.js';

export function newCommand(kind: ScaffoldKind, name: string, opts: { lang?: ScaffoldLang; dir?: string }): void {
  const started = performance.now();
  try {
    const result = scaffold({ kind, name, lang: opts.lang, dir: opts.dir ?? name });
    const where = path.relative(process.cwd(), result.dir) || '.';
    process.stdout.write(`created a ${kind} plugin "${result.name}" in ${result.lang} in ${where}/:\n`);
    for (const file of result.files) process.stdout.write(`  ${file}\n`);
    process.stdout.write(`done in ${formatMs(performance.now() - started)}. Next:\n`);
    for (const step of result.next) process.stdout.write(`  ${step}\n`);
  } catch (err) {
    reportFailure(err, false);
    // A bad name or language is a usage error, like commander's own.
    if (err instanceof PlughostError && err.code === 'PLUGHOST_INVALID_ARGUMENT') process.exitCode = 2;
  }
}
