// When a crashed instance is restarted, and when it is given up on: an
// exponential backoff, and a crash window that turns a crash loop into a
// clear failure instead of a plugin that restarts forever.

export interface RestartPolicy {
  /** Restarts allowed within `windowMs` before the plugin is given up on. */
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export const DEFAULT_RESTART: Required<RestartPolicy> = Object.freeze({ maxRestarts: 5, windowMs: 60_000, initialBackoffMs: 100, maxBackoffMs: 5_000 });

export function restartPolicy(given: RestartPolicy | undefined): Required<RestartPolicy> {
  return { ...DEFAULT_RESTART, ...given };
}

/** The crashes of one instance slot within the policy's window. */
export class CrashWindow {
  readonly policy: Required<RestartPolicy>;
  #times: number[] = [];

  constructor(policy: Required<RestartPolicy>) {
    this.policy = policy;
  }

  /** Crashes counted at the last crashed() (older ones have left the window). */
  get crashes(): number {
    return this.#times.length;
  }

  /**
   * Counts a crash at `now` (ms). Returns how long to wait before the next
   * start, or null when the slot crashed more than maxRestarts times within
   * the window and must not be restarted. The wait doubles with each crash in
   * the window, from initialBackoffMs up to maxBackoffMs.
   */
  crashed(now: number): number | null {
    const { windowMs, maxRestarts, initialBackoffMs, maxBackoffMs } = this.policy;
    this.#times = this.#times.filter((t) => now - t < windowMs);
    this.#times.push(now);
    if (this.#times.length > maxRestarts) return null;
    return Math.min(initialBackoffMs * 2 ** (this.#times.length - 1), maxBackoffMs);
  }

  /** A fresh start (a reload): earlier crashes no longer count. */
  reset(): void {
    this.#times = [];
  }
}
