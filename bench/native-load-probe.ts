// Child process for the load benchmark: one first load, timed, as JSON.
import { performance } from 'node:perf_hooks';

import { createHost } from '../src/index.js';

const [mode, file, buildId] = process.argv.slice(2) as [string, string, string];
if (mode === 'raw') {
  const t0 = performance.now();
  process.dlopen({ exports: {} }, file);
  process.stdout.write(JSON.stringify({ totalMs: performance.now() - t0 }));
} else {
  const host = createHost({ buildId });
  host.loadNative(file);
  const event = host.stats().events[0]!;
  process.stdout.write(JSON.stringify({ totalMs: event.totalMs, verifyMs: event.verifyMs, dlopenMs: event.dlopenMs }));
}
