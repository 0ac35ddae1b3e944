// Flow control of STREAM calls (docs/protocol.md, "Flow control"), shared by
// the host and the TypeScript SDK. Each side of a stream call holds credit:
// the bytes of `data` its peer has let it send. A sender sends while its
// credit is above zero and subtracts each message's cost; the receiver grants
// the cost back (a `credit` frame) once its consumer has taken the message.
// What one side buffers for a stream is therefore at most its window plus one
// message. Kept free of imports: `plughost/sdk` loads this file too.

/**
 * How the two sides learn that the other speaks flow control, on the Channel
 * itself: a plugin that does sends `credit` with frame id 0 (the hello) as
 * its first frame; the host sends this unary call with frame id 0 as its
 * first frame, which every plugin answers (with an unknown-method result), so
 * a peer whose first id-0 frame is that result does not speak it.
 */
export const FLOW_PROBE_METHOD = '';

/** The window each side grants its peer for one stream (bytes of message cost). */
export const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** Added to a message's length to give its cost, so empty messages are counted too. */
export const STREAM_MESSAGE_OVERHEAD = 64;

/** The largest grant one credit frame carries (a uint32 on the wire). */
const MAX_GRANT = 0xffff_ffff;

export function messageCost(length: number): number {
  return length + STREAM_MESSAGE_OVERHEAD;
}

/** The sender's side: credit it may spend, and callers waiting for some. */
export class SendCredit {
  #available: number;
  #waiters: Array<() => void> = [];
  #closed = false;

  constructor(initial: number) {
    this.#available = initial;
  }

  /** The peer granted `bytes` more. */
  grant(bytes: number): void {
    if (!(bytes > 0)) return;
    this.#available += bytes;
    this.#wake();
  }

  /**
   * Resolves when a message may be sent (credit above zero) or the stream is
   * over (then `closed` is true). Undefined, without a promise, when it may be sent now.
   */
  ready(): Promise<void> | undefined {
    if (this.#available > 0 || this.#closed) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  take(length: number): void {
    this.#available -= messageCost(length);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The stream is over: wakes every waiter. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    while (this.#waiters.length > 0 && (this.#available > 0 || this.#closed)) this.#waiters.shift()!();
  }
}

/**
 * The receiver's side: counts what its consumer has taken and grants it back
 * in batches of a quarter window, so credit frames stay few.
 */
export class ReceiveWindow {
  readonly #threshold: number;
  readonly #send: (bytes: number) => void;
  #owed = 0;

  constructor(window: number, send: (bytes: number) => void) {
    this.#threshold = Math.max(1, Math.floor(window / 4));
    this.#send = send;
  }

  /** The consumer took a message of `length` bytes. */
  consumed(length: number): void {
    this.#owed += messageCost(length);
    if (this.#owed < this.#threshold) return;
    while (this.#owed > 0) {
      const grant = Math.min(this.#owed, MAX_GRANT);
      this.#owed -= grant;
      this.#send(grant);
    }
  }
}
