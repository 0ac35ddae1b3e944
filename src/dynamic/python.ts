// Finding a Python interpreter that can run Python dynamic plugins (the
// plughost_plugin SDK in plugins-dynamic/python needs the `grpc` package).
import { execFileSync } from 'node:child_process';

let cached: string | undefined;

/** What the interpreter must import. The SDK itself needs only grpc (its protobuf codec is built in). */
const PROBE = 'import sys, grpc, google.protobuf; sys.stdout.write(sys.executable)';

/**
 * An interpreter that can import grpc and google.protobuf: $PLUGHOST_PYTHON,
 * /usr/bin/python3, then python3 on PATH. Returns its absolute path
 * (sys.executable, so a pyenv-style shim is resolved once here instead of on
 * every plugin start). Throws an Error naming what was tried (and the Debian
 * packages to install) if none. Cached.
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
  throw new Error(
    `no Python interpreter with grpc and protobuf found; tried ${tried.join(', ')}. ` +
      'Install the Debian packages python3-grpcio and python3-protobuf ' +
      '(apt-get install python3-grpcio python3-protobuf), or set PLUGHOST_PYTHON to an interpreter that has them.',
  );
}

function reason(err: unknown): string {
  const e = err as { code?: string; stderr?: string | Buffer; signal?: string };
  if (e.code === 'ENOENT') return 'not found';
  if (e.code === 'ETIMEDOUT' || e.signal === 'SIGTERM') return 'timed out';
  const lines = String(e.stderr ?? '').trim().split('\n');
  const last = lines[lines.length - 1]?.trim();
  return last ? last : e instanceof Error ? e.message.split('\n')[0]! : String(err);
}
