// How a dynamic manifest entry is started: its argv and environment. One
// place, so `plughost build` describes a plugin exactly as the host runs it.
import path from 'node:path';

import { pythonWithGrpc } from '../dynamic/python.js';
import { packageRoot } from '../package-root.js';

export interface Launch {
  readonly command: string[];
  readonly env: Record<string, string> | undefined;
}

/**
 * "{path}" becomes the entry file and "{dir}" the manifest's directory; a
 * first element "node" is the host's Node and "python3"/"python" a Python
 * that can import grpc, which also finds plughost's Python SDK.
 */
export function launchCommand(
  command: readonly string[],
  file: string,
  dir: string,
  env: Readonly<Record<string, string>> | undefined,
): Launch {
  const python = command[0] === 'python3' || command[0] === 'python';
  const argv = command.map((arg, i) => {
    if (i === 0 && arg === 'node') return process.execPath;
    if (i === 0 && python) return pythonWithGrpc();
    return arg.replaceAll('{path}', file).replaceAll('{dir}', dir);
  });
  if (!python) return { command: argv, env: env === undefined ? undefined : { ...env } };
  return { command: argv, env: { ...env, PYTHONPATH: pythonPath(env?.PYTHONPATH) } };
}

function pythonPath(extra: string | undefined): string {
  const sdk = path.join(packageRoot(), 'plugins-dynamic', 'python');
  return [sdk, extra, process.env.PYTHONPATH].filter((p) => p !== undefined && p !== '').join(path.delimiter);
}
