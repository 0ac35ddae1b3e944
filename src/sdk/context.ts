// The per-call context. Its AbortController is made only when a method reads
// `signal`: most calls never do, and the hot path should not pay for one.
import { CODES, PluginError } from './plugin-error.js';
import type { CallContext } from './types.js';

export class CallCtx implements CallContext {
  readonly method: string;
  #controller: AbortController | undefined;
  #reason: PluginError | undefined;

  constructor(method: string) {
    this.method = method;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get cancelled(): boolean {
    return this.#reason !== undefined;
  }

  /** Aborts the signal with a PLUGHOST_CANCELLED PluginError (once). */
  cancel(why: string): void {
    if (this.#reason !== undefined) return;
    this.#reason = new PluginError(CODES.cancelled, `"${this.method}" was cancelled: ${why}`);
    this.#controller?.abort(this.#reason);
  }
}
