// The input of a STREAM method: the host's `data` frames as an async iterable.
// One consumer. With flow control the host sends only what the plugin granted,
// and `consumed` grants a message back once the method has taken it, so the
// queue holds at most one window plus one message.

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

export class MessageQueue implements AsyncIterableIterator<Uint8Array> {
  readonly #items: Uint8Array[] = [];
  readonly #consumed: ((length: number) => void) | undefined;
  #ended = false;
  #waiter: ((result: IteratorResult<Uint8Array, undefined>) => void) | undefined;

  constructor(consumed?: (length: number) => void) {
    this.#consumed = consumed;
  }

  push(message: Uint8Array): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#consumed?.(message.length);
      waiter({ value: message, done: false });
    } else {
      this.#items.push(message);
    }
  }

  /** No more messages: the consumer sees the end after the queued ones. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(DONE);
  }

  /** Ends now, dropping what is queued (the call was cancelled). */
  abandon(): void {
    this.#items.length = 0;
    this.end();
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#consumed?.(item.length);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.abandon();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
