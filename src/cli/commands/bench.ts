import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { packageRoot } from '../../package-root.js';

/** `plughost bench [native|dynamic] [--json] [--quick]`: the measured trade-off, from this machine. */
export function benchCommand(names: string[], opts: { json?: boolean; quick?: boolean }): void {
  const script = path.join(packageRoot(), 'dist/bench/main.js');
  const args = [script, ...(names.length > 0 ? names : ['native', 'dynamic'])];
  if (opts.json) args.push('--json');
  if (opts.quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
}
