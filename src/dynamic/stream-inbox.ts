// The plugin's side of one STREAM call as the caller reads it: messages are
// pushed as frames arrive and pulled by `for await`, which ends (or throws)
// once the call is over. With flow control the plugin sends only what the
// host granted, and the host grants a message back (`consumed`) once the
// caller has taken it, so what waits here is at most one window plus one
// message. A caller that leaves `for await` early (`abandoned`) cancels the call.

import { messageCost } from '../protocol/flow.js';

export interface InboxHooks {
  /** The caller took a message of `length` bytes (flow control grants it back). */
  readonly consumed?: ((length: number) => void) | undefined;
  /** The caller stopped reading before the call was over. */
  readonly abandoned?: (() => void) | undefined;
  /**
   * What may wait here, in flow-control cost (length + overhead), and what
   * to do past it: a plugin that sends beyond its credit, or one without
   * flow control writing faster than the caller reads, must not grow the
   * host's memory without bound. Returns the limit for the current peer.
   */
  readonly limitBytes?: (() => number) | undefined;
  readonly overflowed?: ((bytes: number) => void) | undefined;
}

/** The plugin's messages for one stream call, as an async iterator. */
export class StreamInbox {
  readonly #messages: Uint8Array[] = [];
  readonly #hooks: InboxHooks;
  #head = 0;
  #bytes = 0;
  #waiter: (() => void) | undefined;
  #done = false;
  #error: Error | undefined;

  constructor(hooks: InboxHooks = {}) {
    this.#hooks = hooks;
  }

  push(message: Uint8Array): void {
    if (this.#done) return; // after the call is over: ignored
    this.#bytes += messageCost(message.length);
    const limit = this.#hooks.limitBytes?.();
    if (limit !== undefined && this.#bytes > limit) {
      this.#hooks.overflowed?.(this.#bytes);
      return;
    }
    this.#messages.push(message);
    this.#wake();
  }

  finish(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  #shift(): Uint8Array | undefined {
    if (this.#head >= this.#messages.length) return undefined;
    const next = this.#messages[this.#head]!;
    this.#messages[this.#head++] = undefined as unknown as Uint8Array;
    this.#bytes -= messageCost(next.length);
    // Compact now and then, so a long stream does not keep a long array.
    if (this.#head >= 1024 && this.#head * 2 >= this.#messages.length) {
      this.#messages.splice(0, this.#head);
      this.#head = 0;
    }
    return next;
  }

  async *iterator(): AsyncGenerator<Uint8Array> {
    let finished = false;
    try {
      for (;;) {
        const next = this.#shift();
        if (next !== undefined) {
          this.#hooks.consumed?.(next.length);
          yield next;
          continue;
        }
        if (this.#done) {
          finished = true;
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        await new Promise<void>((resolve) => (this.#waiter = resolve));
      }
    } finally {
      if (!finished) {
        // break, return or throw in the caller's loop: nobody reads this call any more.
        this.#messages.length = 0;
        this.#head = 0;
        this.#hooks.abandoned?.();
      }
    }
  }
}
