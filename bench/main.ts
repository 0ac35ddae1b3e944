// `npm run bench -- <native> [--json] [--quick]`: prints a table (or JSON) and
// always writes bench/results/<name>.json for tooling.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { printDynamicBench, runDynamicBench, type DynamicBenchResult } from './dynamic.js';
import { printNativeBench, runNativeBench, type NativeBenchResult } from './native.js';
import { printRemoteBench, runRemoteBench, type RemoteBenchResult } from './remote.js';
import { printTradeoff } from './tradeoff.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
const known = ['native', 'dynamic', 'remote'];
const selected = names.length === 0 ? known : names;
const unknown = selected.filter((n) => !known.includes(n));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${known.join(', ')}\n`);
  process.exit(2);
}

const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
const all: Record<string, unknown> = {};
const started = Date.now();
for (const name of selected) {
  const result = name === 'native' ? runNativeBench({ quick, log }) : name === 'dynamic' ? await runDynamicBench({ quick, log }) : await runRemoteBench({ quick, log });
  all[name] = result;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
  if (!json) {
    if (name === 'native') printNativeBench(result as NativeBenchResult);
    else if (name === 'dynamic') printDynamicBench(result as DynamicBenchResult);
    else printRemoteBench(result as RemoteBenchResult);
  }
}
if (!json && all.native !== undefined && all.dynamic !== undefined) {
  printTradeoff(all.native as NativeBenchResult, all.dynamic as DynamicBenchResult);
}
if (json) process.stdout.write(JSON.stringify(selected.length === 1 ? all[selected[0]!] : all, null, 2) + '\n');
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; JSON in ${path.relative(process.cwd(), outDir)}/`);
