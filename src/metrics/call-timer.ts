// Times calls from start to end and reports each to an ObserverReporter, with
// its status: 'ok' or the error's code. Nothing is timed when no one listens
// (performance.now() per call is measurable on the fast path).
import type { ObserverReporter } from './plugin-observer.js';
import { errorStatus } from './status.js';

export class CallTimer {
  readonly #reporter: ObserverReporter;

  constructor(reporter: ObserverReporter) {
    this.#reporter = reporter;
  }

  /** Runs one call and reports how it ended; its result or error passes through unchanged. */
  call<T>(method: string, run: () => Promise<T>): Promise<T> {
    if (!this.#reporter.wantsCalls) return run();
    const started = performance.now();
    return run().then(
      (result) => {
        this.#reporter.call(method, 'ok', secondsSince(started));
        return result;
      },
      (err: unknown) => {
        this.#reporter.call(method, errorStatus(err), secondsSince(started));
        throw err;
      },
    );
  }

  /**
   * Runs a batch of `count` items and reports each item, all with the whole
   * batch's duration (the items share one message). A rejected batch failed
   * every one of its items.
   */
  async batch<T>(method: string, count: number, run: () => Promise<T[]>, itemStatus: (item: T) => string): Promise<T[]> {
    if (!this.#reporter.wantsCalls) return run();
    const started = performance.now();
    let items: T[];
    try {
      items = await run();
    } catch (err) {
      const status = errorStatus(err);
      const seconds = secondsSince(started);
      for (let i = 0; i < count; i++) this.#reporter.call(method, status, seconds);
      throw err;
    }
    const seconds = secondsSince(started);
    for (const item of items) this.#reporter.call(method, itemStatus(item), seconds);
    return items;
  }
}

function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}
