// What an unexpected exit of a plugin process means to the calls it had in
// flight: a crash, or, when the process was started with kernel limits and
// its end matches one, the limit it ran into (so the user raises the limit
// rather than hunting a bug). A SIGKILL alone does not prove a CPU limit (an
// operator, the OOM killer or the host's own liveness kill send it too): where
// the kernel shows a process's CPU time (/proc), the host samples it while the
// plugin runs and calls a death the CPU limit only when that time reached it.

import { PluginCrashedError, PluginResourceLimitError } from '../errors.js';
import type { ResourceLimits } from './exec-helper.js';
import { procChildren, procCpuSeconds } from '../platform/proc.linux.js';
import { describeExit, type ExitStatus } from './process.js';

export interface ExitedInstance {
  readonly name: string;
  readonly pid: number;
  readonly limits?: ResourceLimits | undefined;
  /** Whether the plugin's CPU time had reached limits.cpuSeconds when it died; undefined where it cannot be measured. */
  readonly cpuLimitReached?: boolean | undefined;
  /** The host itself killed the process (liveness check, broken channel): never a limit. */
  readonly killedByHost?: boolean | undefined;
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
  if (instance.killedByHost === true) return null;
  // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one
  // (plughost-exec sets both to the limit, so Linux sends SIGKILL); where CPU
  // time was measured, it must have reached the limit too.
  const cpuSignal = status.signal === 'SIGXCPU' || status.signal === 'SIGKILL';
  if (limits?.cpuSeconds !== undefined && cpuSignal && instance.cpuLimitReached !== false) {
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

/** One reading of a process's CPU time. */
interface CpuSample {
  readonly wallMs: number;
  readonly cpuSeconds: number;
}

/** RLIMIT_CPU is checked on scheduler ticks: a death this close below the limit still counts. */
const CPU_TOLERANCE_SECONDS = 0.05;

/** The process's own CPU time, or, where it is a helper's child that runs under the limit, the largest of theirs (RLIMIT_CPU is per process). */
function limitedCpuSeconds(pid: number): number | undefined {
  const own = procCpuSeconds(pid);
  if (own === undefined) return undefined;
  return Math.max(own, ...procChildren(pid).map((c) => procCpuSeconds(c) ?? 0));
}

/**
 * Samples a plugin's CPU time while it runs with a CPU limit, more often as
 * it nears the limit, so that at its death the host can tell whether the
 * limit was reached: `reached()` assumes at most max(observed rate, 1) CPU
 * seconds per second since the last sample.
 */
export class CpuWatch {
  readonly #pid: number;
  readonly #limit: number;
  #last: CpuSample | undefined;
  #rate = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(pid: number, limitSeconds: number) {
    this.#pid = pid;
    this.#limit = Math.ceil(limitSeconds);
    this.#sample();
  }

  /** Stops sampling; call at the process's exit, then ask `reached`. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the CPU time had reached the limit at `atMs`; undefined if it was never measured. */
  reached(atMs: number = Date.now()): boolean | undefined {
    const last = this.#last;
    if (last === undefined) return undefined;
    const estimate = last.cpuSeconds + (Math.max(0, atMs - last.wallMs) / 1000) * Math.max(this.#rate, 1);
    return estimate >= this.#limit - CPU_TOLERANCE_SECONDS;
  }

  #sample(): void {
    const cpuSeconds = limitedCpuSeconds(this.#pid);
    if (cpuSeconds === undefined) return; // gone, or no /proc: keep the last reading
    const now = Date.now();
    const previous = this.#last;
    if (previous !== undefined && now > previous.wallMs) this.#rate = Math.max(0, (cpuSeconds - previous.cpuSeconds) / ((now - previous.wallMs) / 1000));
    this.#last = { wallMs: now, cpuSeconds };
    // A quarter of the time the headroom lasts at the current pace, within [20 ms, 1 s].
    const headroomMs = (Math.max(0, this.#limit - cpuSeconds) / Math.max(this.#rate, 1)) * 1000;
    this.#timer = setTimeout(() => this.#sample(), Math.min(1000, Math.max(20, headroomMs / 4)));
    this.#timer.unref();
  }
}
