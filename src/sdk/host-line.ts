// The host calls of one Channel stream (docs/protocol.md, "Host calls"):
// their ids, their timers and their answers. A host call is answered on the
// Channel it was sent on, so each Channel keeps its own; host_* ids are the
// plugin's own, a space apart from the host's call ids.
import { asBytes } from '../protocol/bytes.js';
import type { WireFrame, WireResult } from '../protocol/services.js';
import { CODES, PluginError } from './plugin-error.js';

/** What a HostLine needs of its Channel stream. */
export interface FrameSink {
  /** Writes a frame now; a closed Channel drops it. */
  write(frame: WireFrame): void;
  /** Undefined when the stream takes a frame now; else resolves once it has drained (or closed). */
  ready(): Promise<void> | undefined;
}

const MAX_ID = 0xffff_ffff;

interface OpenHostCall {
  answer(result: WireResult): void;
  end(why: string): void;
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}

export class HostLine {
  readonly #sink: FrameSink;
  readonly #open = new Map<number, OpenHostCall>();
  #nextId = 1;
  #closed = false;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `host_call` and settles on its `host_result`, or gives up (and
   * sends `host_cancel`) when `timeoutMs` passes or a signal aborts. The
   * caller has checked the arguments, the signals and the size.
   */
  call(service: string, payload: Uint8Array, timeoutMs: number, signals: readonly AbortSignal[]): Promise<Uint8Array> {
    const id = this.#allocate();
    return new Promise<Uint8Array>((resolve, reject) => {
      let sent = false;
      const settled = (): boolean => {
        if (this.#open.get(id) !== entry) return false;
        this.#open.delete(id);
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (code: string, err: PluginError): void => {
        if (!settled()) return;
        // A call still waiting for the stream to drain never reached the host: nothing to cancel.
        if (sent) this.#sink.write({ id, hostCancel: { reason: code } });
        reject(err);
      };
      const entry: OpenHostCall = {
        answer: (result) => {
          if (!settled()) return;
          const error = result.error;
          if (error != null) reject(new PluginError(error.code || CODES.hostServiceFailed, error.message ?? ''));
          else resolve(asBytes(result.payload));
        },
        end: (why) => {
          if (settled()) reject(new PluginError(CODES.hostCallsUnavailable, `host call to "${service}" lost its Channel: ${why}`));
        },
      };
      const onAbort = (event: Event): void => {
        const reason = (event.target as AbortSignal).reason as unknown;
        giveUp(CODES.cancelled, new PluginError(CODES.cancelled, `host call to "${service}" was cancelled: ${reasonText(reason)}`, { cause: reason }));
      };
      const timer = setTimeout(
        () => giveUp(CODES.deadlineExceeded, new PluginError(CODES.deadlineExceeded, `host call to "${service}" got no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#open.set(id, entry);
      for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
      const send = (): void => {
        if (this.#open.get(id) !== entry) return;
        sent = true;
        this.#sink.write({ id, hostCall: { service, payload, timeoutMs } });
      };
      // The Channel's backpressure: wait for a full stream to drain, as stream data does.
      const waiting = this.#sink.ready();
      if (waiting === undefined) send();
      else void waiting.then(send);
    });
  }

  /** A `host_result` frame; an id with no open host call is ignored. */
  answer(id: number, result: WireResult): void {
    this.#open.get(id)?.answer(result);
  }

  /** The Channel ended: every host call still open on it fails. */
  close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of [...this.#open.values()]) call.end(why);
    this.#open.clear();
  }

  /** From 1 up, wrapping, skipping 0 and ids still open. */
  #allocate(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === MAX_ID ? 1 : id + 1;
      if (!this.#open.has(id)) return id;
    }
  }
}
