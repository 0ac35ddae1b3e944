#!/usr/bin/env node
// The isolation runner (dist/src/isolate/runner.js): a dynamic plugin that
// serves one native plugin in its own process, so a crash in it kills only
// this process. Usage: runner.js <file> <buildId> [sha256]. The host starts it
// through isolatedNativeOptions(); see src/isolate/run.ts.
import { runIsolatedNative } from './run.js';

await runIsolatedNative(process.argv.slice(2));
