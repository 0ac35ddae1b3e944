import { spawnSync } from 'node:child_process';

import { benchmarkScript } from '../../tools.js';

/** The benchmarks and the example plugins they measure exist in a plughost checkout, not in the npm package. */
export function benchAvailable(): boolean {
  return benchmarkScript() !== null;
}

/** `plughost bench [native|dynamic] [--json] [--quick]`: the measured trade-off, from this machine. */
export function benchCommand(names: string[], opts: { json?: boolean; quick?: boolean }): void {
  const script = benchmarkScript();
  if (script === null) {
    process.stderr.write(
      'plughost: PLUGHOST_INVALID_ARGUMENT: plughost bench measures plughost\'s own example plugins and runs in a plughost checkout ' +
        '(git clone; npm install; npm run bench); an installed plughost does not carry them. The measured numbers are in plughost\'s README.\n',
    );
    process.exitCode = 2;
    return;
  }
  const args = [script, ...(names.length > 0 ? names : ['native', 'dynamic'])];
  if (opts.json) args.push('--json');
  if (opts.quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
}
