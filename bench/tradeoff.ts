// The two paths side by side, from one run's measurements.
import type { DynamicBenchResult } from './dynamic.js';
import { formatNs, printTable } from './measure.js';
import type { NativeBenchResult } from './native.js';

export function printTradeoff(native: NativeBenchResult, dynamic: DynamicBenchResult): void {
  const hostCall = native.results.find((r) => r.name === 'host crc32, 16 B')!;
  const batch = native.results.find((r) => r.name === 'crc32Batch packed+offsets, 64 B')!;
  printTable('Trade-off: compiled vs dynamic (this machine, this run)', ['', 'compiled (in-process)', 'dynamic (subprocess)', 'ratio'], [
    ['one small call', formatNs(hostCall.nsPerOp), `${dynamic.streamCallP50Us.toFixed(1)} µs (p50)`, `${((dynamic.streamCallP50Us * 1000) / hostCall.nsPerOp).toFixed(0)}x`],
    ['per item, batched', formatNs(batch.nsPerItem), `${(dynamic.batchPerItemUs * 1000).toFixed(0)} ns`, `${((dynamic.batchPerItemUs * 1000) / batch.nsPerItem).toFixed(0)}x`],
    ['calls/s, concurrent callers', `${(1e9 / hostCall.nsPerOp / 1e6).toFixed(1)} M (one core)`, `${(dynamic.autoBatchCallsPerSec / 1e6).toFixed(2)} M (auto-batched)`, ''],
    ['start-up', `${native.load.hostFirstLoadMs.toFixed(1)} ms (verify + dlopen)`, `${dynamic.tsReadyMs.toFixed(0)} ms TS, ${dynamic.pythonReadyMs?.toFixed(0) ?? 'n/a'} ms Python`, ''],
    ['memory', 'shared with the host', `${dynamic.tsIdleRssMiB.toFixed(0)} MiB TS, ${dynamic.pythonIdleRssMiB?.toFixed(0) ?? 'n/a'} MiB Python (RSS)`, ''],
    ['a crash', 'takes the host down', 'contained, restarted', ''],
  ]);
}
