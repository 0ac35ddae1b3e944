// The per-call context. Its AbortController is made only when a method reads
// `signal`, and its HostServices only when it reads `host`: most calls never
// do, and the hot path should not pay for them.
import { setMaxListeners } from 'node:events';

import { CODES, PluginError } from './plugin-error.js';
import type { CallContext, HostServices } from './types.js';

/** Makes a call's `ctx.host` (bound to the Channel, or the RPC, the call came on). */
export type HostSource = (ctx: CallContext) => HostServices;

export class CallCtx implements CallContext {
  readonly method: string;
  readonly #hostSource: HostSource;
  #host: HostServices | undefined;
  #controller: AbortController | undefined;
  #reason: PluginError | undefined;

  constructor(method: string, hostSource: HostSource) {
    this.method = method;
    this.#hostSource = hostSource;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      // Each host call of the method listens on it: many at once are normal, not a leak to warn about.
      setMaxListeners(0, this.#controller.signal);
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get host(): HostServices {
    return (this.#host ??= this.#hostSource(this));
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
