// How CLI commands report: aligned text for people, one JSON document for tools.
import { PlughostError } from '../errors.js';

export function printTable(rows: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) process.stdout.write(`${key.padEnd(width)}  ${value}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function errorJson(err: unknown): Record<string, unknown> {
  return err instanceof PlughostError ? err.toJSON() : { name: 'Error', message: String((err as Error)?.message ?? err) };
}

/** Prints a refusal and sets a failing exit code; non-plughost errors are bugs and are rethrown. */
export function reportFailure(err: unknown, json: boolean, extra: Record<string, unknown> = {}): void {
  if (!(err instanceof PlughostError)) throw err;
  if (json) printJson({ ok: false, ...extra, error: errorJson(err) });
  else process.stderr.write(`plughost: ${err.code}: ${err.message}\n`);
  process.exitCode = 1;
}

export function formatMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
