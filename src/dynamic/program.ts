// Which program a dynamic plugin's argv runs: one rule for manifest entries,
// `plughost build` and host.loadDynamic().
import path from 'node:path';

import { packageRoot } from '../package-root.js';
import { pythonWithGrpc } from './python.js';

export interface Launch {
  readonly command: string[];
  readonly env: Record<string, string> | undefined;
}

/**
 * A first element "node" is the host's own Node binary; "python3" or
 * "python" is a Python that can import grpc (PLUGHOST_PYTHON,
 * /usr/bin/python3, then PATH), which also finds plughost's Python SDK.
 * Anything else runs as given. Throws PLUGHOST_SPAWN_FAILED when no Python fits.
 */
export function resolveProgram(command: readonly string[], env: Readonly<Record<string, string>> | undefined): Launch {
  const [program, ...args] = command;
  const copy = env === undefined ? undefined : { ...env };
  if (program === 'node') return { command: [process.execPath, ...args], env: copy };
  if (program !== 'python3' && program !== 'python') return { command: [...command], env: copy };
  return { command: [pythonWithGrpc(), ...args], env: { ...env, PYTHONPATH: pythonPath(env?.PYTHONPATH) } };
}

function pythonPath(extra: string | undefined): string {
  const sdk = path.join(packageRoot(), 'plugins-dynamic', 'python');
  return [sdk, extra, process.env.PYTHONPATH].filter((p) => p !== undefined && p !== '').join(path.delimiter);
}
