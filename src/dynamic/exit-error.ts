// What an unexpected exit of a plugin process means to the calls it had in
// flight: a crash, or, when the process was started with kernel limits and
// its end matches one, the limit it ran into (so the user raises the limit
// rather than hunting a bug).
import { PluginCrashedError, PluginResourceLimitError } from '../errors.js';
import type { ResourceLimits } from './exec-helper.js';
import { describeExit, type ExitStatus } from './process.js';

export interface ExitedInstance {
  readonly name: string;
  readonly pid: number;
  readonly limits?: ResourceLimits | undefined;
}

const OUT_OF_MEMORY = /out of memory|cannot allocate memory|MemoryError|bad_alloc|failed to reserve virtual memory|allocation failed/i;

/** The error calls in flight fail with when the process died on its own; `stderr` is its last lines. */
export function crashError(instance: ExitedInstance, status: ExitStatus, stderr: readonly string[]): PluginCrashedError {
  const tail = stderr.slice(-5).join(' | ');
  const found = tail === '' ? describeExit(status) : `${describeExit(status)}; stderr: ${tail}`;
  return (
    resourceLimitError(instance, status, stderr, found) ??
    new PluginCrashedError('PLUGHOST_PLUGIN_CRASHED', `plugin "${instance.name}" (pid ${instance.pid}) ${describeExit(status)} while calls were in flight`, {
      found,
    })
  );
}

/** A death caused by a limit the plugin was started with, as a typed error naming the limit. */
function resourceLimitError(instance: ExitedInstance, status: ExitStatus, stderr: readonly string[], found: string): PluginResourceLimitError | null {
  const { name, pid, limits } = instance;
  // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one.
  if (limits?.cpuSeconds !== undefined && (status.signal === 'SIGXCPU' || status.signal === 'SIGKILL')) {
    return new PluginResourceLimitError('cpu', limits.cpuSeconds, `plugin "${name}" (pid ${pid}) used up its CPU time limit`, {
      expected: `at most ${limits.cpuSeconds} CPU seconds (RLIMIT_CPU)`,
      found,
    });
  }
  // RLIMIT_AS has no signal of its own: the runtime's allocation failure on stderr is the evidence.
  if (limits?.memoryBytes !== undefined && stderr.some((line) => OUT_OF_MEMORY.test(line))) {
    return new PluginResourceLimitError('memory', limits.memoryBytes, `plugin "${name}" (pid ${pid}) ran out of its memory limit`, {
      expected: `at most ${limits.memoryBytes} bytes of address space (RLIMIT_AS)`,
      found,
      hint: 'Raise limits.memoryBytes (a Node.js plugin needs about 1 GiB of address space to start) or fix the leak',
    });
  }
  return null;
}
