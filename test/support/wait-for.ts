// Waiting on a condition instead of sleeping: polls `condition` every few
// milliseconds until it holds, and fails with what was awaited at the
// deadline. A test that asserts that something did *not* happen waits for a
// later event that proves it could have (a reply, an exit, a log line), not
// for time to pass.

export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  readonly timeoutMs?: number;
  /** What is awaited, for the error at the deadline: "the restart", "pid 123 to exit". */
  readonly what?: string;
  /** Between checks (default 10 ms). */
  readonly intervalMs?: number;
}

export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value `condition` returns (it may be async);
 * rejects at the deadline, naming `what` and the last error `condition` threw.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 5_000, what = 'a condition', intervalMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : `; the last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

