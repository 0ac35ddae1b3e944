// The isolation switch: a native plugin run in a subprocess, called over the
// dynamic protocol; same plugin file, same results, crash contained.
export { isolatedNativeOptions, isolateRunnerPath } from './options.js';
export type { IsolatedNativeOptions } from './options.js';
export { ISOLATE_REFUSED_EXIT_STATUS, ISOLATE_USAGE_EXIT_STATUS, portableDefinition, portableMethods, runIsolatedNative } from './run.js';
