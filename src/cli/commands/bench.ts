import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../../package-root.js';

const script = (): string => path.join(packageRoot(), 'dist/bench/main.js');

/** The benchmarks and the example plugins they measure exist in a plughost checkout, not in the npm package. */
export function benchAvailable(): boolean {
  return fs.existsSync(script());
}

/** `plughost bench [native|dynamic] [--json] [--quick]`: the measured trade-off, from this machine. */
export function benchCommand(names: string[], opts: { json?: boolean; quick?: boolean }): void {
  if (!benchAvailable()) {
    process.stderr.write(
      'plughost: PLUGHOST_INVALID_ARGUMENT: plughost bench measures plughost\'s own example plugins and runs in a plughost checkout ' +
        '(git clone; npm install; npm run bench); an installed plughost does not carry them. The measured numbers are in plughost\'s README.\n',
    );
    process.exitCode = 2;
    return;
  }
  const args = [script(), ...(names.length > 0 ? names : ['native', 'dynamic'])];
  if (opts.json) args.push('--json');
  if (opts.quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
}
