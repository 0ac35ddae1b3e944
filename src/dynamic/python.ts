// Finding a Python interpreter that can run Python dynamic plugins (the
// plughost_plugin SDK in plugins-dynamic/python needs the `grpc` package).
import { execFileSync } from 'node:child_process';

import { PluginStartError } from '../errors.js';

let cached: string | undefined;

/** What the interpreter must import: the SDK needs only grpc (its protobuf codec is built in). */
const PROBE = 'import sys, grpc; sys.stdout.write(sys.executable)';

/**
 * An interpreter that can import grpc: $PLUGHOST_PYTHON,
 * /usr/bin/python3, then python3 on PATH. Returns its absolute path
 * (sys.executable, so a pyenv-style shim is resolved once here instead of on
 * every plugin start). Throws an Error naming what was tried (and the Debian
 * packages to install) if none: PLUGHOST_SPAWN_FAILED. Cached.
 */
export function pythonWithGrpc(): string {
  if (cached !== undefined) return cached;
  const candidates = [process.env.PLUGHOST_PYTHON, '/usr/bin/python3', 'python3'].filter(
    (c, i, all): c is string => c !== undefined && c !== '' && all.indexOf(c) === i,
  );
  const tried: string[] = [];
  for (const candidate of candidates) {
    try {
      const executable = execFileSync(candidate, ['-c', PROBE], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 15_000,
      }).trim();
      cached = executable !== '' ? executable : candidate;
      return cached;
    } catch (err) {
      tried.push(`${candidate} (${reason(err)})`);
    }
  }
  throw new PluginStartError('PLUGHOST_SPAWN_FAILED', 'no Python interpreter with grpc found for a Python plugin', {
    expected: 'a Python 3 that can import grpc',
    found: `tried ${tried.join(', ')}`,
    hint:
      'Install the Debian package python3-grpcio (apt-get install python3-grpcio), ' +
      'or set PLUGHOST_PYTHON to an interpreter that has grpc',
  });
}

function reason(err: unknown): string {
  const e = err as { code?: string; stderr?: string | Buffer; signal?: string };
  if (e.code === 'ENOENT') return 'not found';
  if (e.code === 'ETIMEDOUT' || e.signal === 'SIGTERM') return 'timed out';
  const lines = String(e.stderr ?? '').trim().split('\n');
  const last = lines[lines.length - 1]?.trim();
  return last ? last : e instanceof Error ? e.message.split('\n')[0]! : String(err);
}
