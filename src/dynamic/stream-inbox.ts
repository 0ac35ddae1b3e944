// The plugin's side of one STREAM call as the caller reads it: messages are
// pushed as frames arrive and pulled by `for await`, which ends (or throws)
// once the call is over.

/** The plugin's messages for one stream call, as an async iterator. */
export class StreamInbox {
  readonly #messages: Uint8Array[] = [];
  #waiter: (() => void) | undefined;
  #done = false;
  #error: Error | undefined;

  push(message: Uint8Array): void {
    this.#messages.push(message);
    this.#wake();
  }

  finish(error?: Error): void {
    this.#done = true;
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  async *iterator(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = this.#messages.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }
}
