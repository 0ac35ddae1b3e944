// Which instance gets a call: the least busy ready one, or, when none is
// ready, the first to become ready, waited for within the call's deadline and
// signal. The pool only reads the slots; the supervisor fills them.
import { PluginCallCancelledError, PluginUnavailableError } from '../errors.js';
import type { CallOptions } from './call-channel.js';
import { callAborted, pluginClosed } from './call-errors.js';
import type { PoolMember, Slot } from './slot.js';

/** The ready, live instance with the fewest calls in flight (the first of equals), or null if none is. */
export function pickLeastBusy<I extends PoolMember>(slots: readonly Slot<I>[]): I | null {
  let best: I | null = null;
  for (const slot of slots) {
    const instance = slot.instance;
    if (slot.state !== 'ready' || instance === null || !instance.alive) continue;
    if (best === null || instance.inFlight < best.inFlight) best = instance;
  }
  return best;
}

export interface PoolContext {
  /** The plugin's name, for errors (it may change once the plugin has described itself). */
  name(): string;
  isClosed(): boolean;
}

export class Pool<I extends PoolMember> {
  readonly #slots: readonly Slot<I>[];
  readonly #context: PoolContext;

  constructor(slots: readonly Slot<I>[], context: PoolContext) {
    this.#slots = slots;
    this.#context = context;
  }

  pick(): I | null {
    return pickLeastBusy(this.#slots);
  }

  /** The instances of ready slots (for configure, which must reach every one). */
  ready(): I[] {
    return this.#slots.flatMap((s) => (s.state === 'ready' && s.instance !== null ? [s.instance] : []));
  }

  /**
   * A ready instance, waiting for a (re)starting one if need be, within the
   * call's deadline and signal; returns the options with the time left.
   */
  async acquire(options: CallOptions): Promise<[I, CallOptions]> {
    const ready = this.pick();
    if (ready !== null) return [ready, options];
    const started = Date.now();
    const { signal, timeoutMs } = options;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(callAborted(signal));
      onAbort = () => reject(callAborted(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            reject(
              new PluginCallCancelledError('PLUGHOST_DEADLINE_EXCEEDED', `no instance of "${this.#context.name()}" was ready within the ${timeoutMs} ms deadline`),
            ),
          timeoutMs,
        );
      }
    });
    try {
      const instance = await Promise.race([this.#waitForInstance(), giveUp]);
      const rest = timeoutMs === undefined ? options : { ...options, timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) };
      return [instance, rest];
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  async #waitForInstance(): Promise<I> {
    for (;;) {
      if (this.#context.isClosed()) throw pluginClosed(this.#context.name(), 'is closed');
      const instance = this.pick();
      if (instance !== null) return instance;
      const waiting = this.#slots.filter((s) => s.state === 'starting' || s.state === 'restarting');
      if (waiting.length === 0) {
        throw (
          this.#slots.find((s) => s.failure !== undefined)?.failure ??
          new PluginUnavailableError('PLUGHOST_PLUGIN_UNAVAILABLE', `plugin "${this.#context.name()}" has no running instance`)
        );
      }
      await new Promise<void>((resolve) => {
        for (const slot of waiting) slot.waiters.push({ resolve });
      });
    }
  }
}
