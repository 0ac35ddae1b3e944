import path from 'node:path';

import { readManifest } from '../../manifest/load.js';
import { printJson, reportFailure } from '../output.js';

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

export function lsCommand(opts: { dir?: string; json?: boolean }): void {
  let loaded;
  try {
    loaded = readManifest(opts.dir ?? '.');
  } catch (err) {
    reportFailure(err, opts.json === true);
    return;
  }
  const { manifest, file } = loaded;
  const plugins = manifest.plugins.map((p) => ({
    name: p.name,
    kind: p.kind,
    version: p.version,
    path: p.path ?? `npm:${p.kind === 'native' ? p.package : ''}`,
    // Dynamic plugins always run in their own process; native ones when the manifest says so.
    isolate: p.kind === 'dynamic' || p.isolate === true,
    methods: p.methods,
    ...(p.kind === 'native' ? { target: `${p.platform}-${p.arch}${p.libc ? `-${p.libc}` : ''}` } : { command: p.command }),
  }));
  if (opts.json) {
    printJson({ ok: true, file, buildId: manifest.buildId, plugins });
    return;
  }
  printColumns(
    ['name', 'kind', 'version', 'path', 'isolate', 'methods'],
    plugins.map((p) => [p.name, p.kind, p.version, p.path, p.isolate ? 'yes' : 'no', p.methods.join(', ')]),
  );
  process.stdout.write(`${plugins.length} plugin(s) in ${path.relative(process.cwd(), file) || file}, build ${manifest.buildId}\n`);
}
