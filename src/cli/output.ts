// How CLI commands report: aligned text for people, one JSON document for
// tools, one line (never a stack) for anything that goes wrong.
import { PlughostError, PlughostUsageError } from '../index.js';
import { currentTarget, describeTarget, plughostVersion } from '../tools.js';

/** Left-aligned columns under a header row; the last column is not padded. */
export function printColumns(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd() + '\n';
  process.stdout.write(line(header));
  for (const row of rows) process.stdout.write(line(row));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

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

/** Exit 2 for a command line that is wrong (a malformed value, a path that is not what it must be); 1 for a refusal. */
export function exitCodeOf(err: PlughostError): number {
  // A plugin's own error may carry the same code: that is the plugin refusing, not a bad command line.
  return err instanceof PlughostUsageError && err.code === 'PLUGHOST_INVALID_ARGUMENT' ? 2 : 1;
}

/** Prints a refusal on one line (or as JSON) and sets the exit code; anything else goes to reportUnexpected. */
export function reportFailure(err: unknown, json: boolean, extra: Record<string, unknown> = {}): void {
  if (!(err instanceof PlughostError)) {
    reportUnexpected(err, json);
    return;
  }
  if (json) printJson({ ok: false, ...extra, error: errorJson(err) });
  else process.stderr.write(`plughost: ${err.code}: ${oneLine(err.message)}\n`);
  process.exitCode = exitCodeOf(err);
}

/**
 * An error plughost did not type: a system error (one line, its errno code)
 * or a bug (one line; PLUGHOST_DEBUG=1 prints the stack).
 */
export function reportUnexpected(err: unknown, json = false): void {
  if (err instanceof PlughostError) {
    reportFailure(err, json);
    return;
  }
  const e = err as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === 'string' ? e.code : 'PLUGHOST_INTERNAL_ERROR';
  const message = oneLine(e?.message ?? String(err));
  if (json) printJson({ ok: false, error: { name: e?.name ?? 'Error', code, message } });
  else process.stderr.write(`plughost: ${code}: ${message}${code === 'PLUGHOST_INTERNAL_ERROR' ? ' (a bug in plughost: PLUGHOST_DEBUG=1 shows where)' : ''}\n`);
  if (process.env.PLUGHOST_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
}

/** Keeps a message on one line: a multi-line one (a build's output, a candidate list) is indented under it. */
function oneLine(message: string): string {
  return message.replace(/\n/g, '\n    ');
}

export function formatMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `plughost 0.1.0 (node v20.20.2, Node-API 9, linux-x64-glibc)`. */
export function versionLine(): string {
  return `plughost ${plughostVersion()} (node ${process.version}, Node-API ${process.versions.napi}, ${describeTarget(currentTarget())})`;
}
