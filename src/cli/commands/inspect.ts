import { currentPlatform, inspectNative } from '../../tools.js';
import { errorJson, formatMs, printJson, printTable, reportFailure } from '../output.js';

export function inspectCommand(file: string, opts: { json?: boolean }): void {
  const started = performance.now();
  let info;
  try {
    info = inspectNative(file);
  } catch (err) {
    reportFailure(err, opts.json === true, { file });
    return;
  }
  const ok = info.descriptor !== null;
  if (!ok) process.exitCode = 1;
  if (opts.json) {
    printJson({ ok, ...info, problem: info.problem === null ? null : errorJson(info.problem) });
    return;
  }
  const d = info.descriptor;
  const rows: Array<[string, string]> = [
    ['file', info.file],
    ['size', `${info.size} bytes`],
    ['sha256', info.sha256],
    ['format', `${info.format === 'elf' ? 'ELF' : 'Mach-O'} ${info.bits}-bit ${info.arch ?? `machine ${info.machine}`} ${info.kind}`],
    ['gnu build-id', info.gnuBuildId ?? '(none)'],
  ];
  if (d !== null) {
    rows.push(
      ['plugin', `${d.name} ${d.version}`],
      ['plugin api', `${d.apiVersion.major}.${d.apiVersion.minor}`],
      ['build id', d.buildId],
      ['node-api', `${d.napiVersion} (this Node supports up to ${currentPlatform().napiVersion})`],
    );
  } else {
    rows.push(['descriptor', `none: ${info.problem?.code}: ${info.problem?.message}`]);
  }
  printTable(rows);
  process.stdout.write(`inspected without loading in ${formatMs(performance.now() - started)}\n`);
}
