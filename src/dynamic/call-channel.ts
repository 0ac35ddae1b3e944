// Many concurrent calls on one long-lived Channel stream, matched by frame id
// (docs/protocol.md §3). Cheaper than a unary RPC per call, and the place
// where deadlines, cancellation and the in-flight window are enforced.
import type * as grpc from '@grpc/grpc-js';

import { PluginCallCancelledError, PluginCallError, PlughostError, PlughostUsageError } from '../errors.js';
import type { WireFrame, WireResult } from '../protocol/services.js';
import type { Connection } from './connection.js';

export interface CallOptions {
  /** Abandons the call when aborted: it rejects with PLUGHOST_CALL_ABORTED and the plugin is told to cancel. */
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds from now; past it the call rejects with PLUGHOST_DEADLINE_EXCEEDED. */
  readonly timeoutMs?: number | undefined;
}

/** A STREAM method call: write messages, read the plugin's messages, end. */
export interface DynamicStream extends AsyncIterable<Uint8Array> {
  write(message: Uint8Array): void;
  /** Ends the host's side; the plugin's side ends when it is done. */
  end(): void;
  cancel(reason?: string): void;
}

interface Pending {
  readonly method: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout | undefined;
  detach?: (() => void) | undefined;
  stream?: StreamInbox | undefined;
}

/** Frames a message needs beyond its payload (field tags, lengths, method name), generously. */
const FRAME_OVERHEAD = 256;

export class CallChannel {
  readonly #plugin: string;
  readonly #stream: grpc.ClientDuplexStream<WireFrame, WireFrame>;
  readonly #pending = new Map<number, Pending>();
  readonly #window: number;
  readonly #maxMessageBytes: number;
  readonly #queued: Array<() => void> = [];
  #nextId = 0;
  #broken: Error | undefined;

  constructor(
    conn: Connection,
    options: { plugin: string; window: number; maxMessageBytes: number; onBroken: (err: Error) => void },
  ) {
    this.#plugin = options.plugin;
    this.#window = options.window;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#stream = conn.plugin.Channel() as grpc.ClientDuplexStream<WireFrame, WireFrame>;
    this.#stream.on('data', (frame: WireFrame & { kind?: string }) => this.#receive(frame));
    const broken = (err?: Error): void => {
      if (this.#broken !== undefined) return;
      this.#broken = err ?? new Error('channel ended');
      options.onBroken(this.#broken);
    };
    this.#stream.on('error', broken);
    this.#stream.on('end', () => broken());
  }

  get inFlight(): number {
    return this.#pending.size + this.#queued.length;
  }

  call(method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const tooLarge = this.#sizeError(method, payload.length);
    if (tooLarge !== undefined) return Promise.reject(tooLarge);
    return this.#start(method, options, (id) => this.#stream.write({ id, call: { method, payload } })) as Promise<Uint8Array>;
  }

  batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<WireResult[]> {
    let size = 0;
    for (const p of payloads) size += p.length + 8;
    const tooLarge = this.#sizeError(method, size);
    if (tooLarge !== undefined) return Promise.reject(tooLarge);
    return this.#start(method, options, (id) => this.#stream.write({ id, batch: { method, payloads: payloads as Uint8Array[] } })) as Promise<WireResult[]>;
  }

  openStream(method: string, options: CallOptions = {}): DynamicStream {
    const inbox = new StreamInbox();
    let id = 0;
    const done = this.#start(
      method,
      options,
      (assigned) => {
        id = assigned;
        this.#stream.write({ id, open: { method } });
      },
      inbox,
    );
    done.then(
      () => inbox.finish(),
      (err: Error) => inbox.finish(err),
    );
    return {
      write: (message) => {
        const tooLarge = this.#sizeError(method, message.length);
        if (tooLarge !== undefined) throw tooLarge;
        if (this.#pending.has(id)) this.#stream.write({ id, data: message });
      },
      end: () => {
        if (this.#pending.has(id)) this.#stream.write({ id, end: {} });
      },
      cancel: (reason = 'cancelled by the host') => this.#cancel(id, new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', reason)),
      [Symbol.asyncIterator]: () => inbox.iterator(),
    };
  }

  /** Rejects every call in flight (the plugin died or the connection broke). */
  failAll(err: Error): void {
    this.#broken ??= err;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      this.#settle(pending);
      pending.reject(err);
    }
    for (const run of this.#queued.splice(0)) run();
  }

  close(): void {
    this.#stream.end();
    this.#stream.cancel();
  }

  /** The largest payload one frame can carry. */
  get maxPayloadBytes(): number {
    return this.#maxMessageBytes - FRAME_OVERHEAD;
  }

  // Checked before sending: one oversized frame would fail the whole stream.
  #sizeError(method: string, bytes: number): PlughostUsageError | undefined {
    if (bytes + method.length + FRAME_OVERHEAD > this.#maxMessageBytes) {
      return new PlughostUsageError('PLUGHOST_MESSAGE_TOO_LARGE', `payload for "${this.#plugin}.${method}" is too large`, {
        expected: `at most ${this.#maxMessageBytes - FRAME_OVERHEAD - method.length} bytes (maxMessageBytes ${this.#maxMessageBytes})`,
        found: `${bytes} bytes`,
        hint: 'Split the payload, stream it, or raise maxMessageBytes for this plugin',
      });
    }
  }

  #start(method: string, options: CallOptions, send: (id: number) => void, stream?: StreamInbox): Promise<unknown> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (options.signal?.aborted) return Promise.reject(aborted(options.signal));
    return new Promise((resolve, reject) => {
      const pending: Pending = { method, resolve, reject, stream };
      const begin = (): void => {
        if (this.#broken !== undefined) {
          reject(this.#broken);
          return;
        }
        const id = this.#allocateId();
        this.#pending.set(id, pending);
        this.#arm(id, pending, options);
        send(id);
      };
      // The window bounds what the plugin must hold at once; the rest waits here.
      if (this.#pending.size < this.#window) begin();
      else this.#queued.push(begin);
    });
  }

  #arm(id: number, pending: Pending, options: CallOptions): void {
    if (options.timeoutMs !== undefined) {
      pending.timer = setTimeout(
        () =>
          this.#cancel(
            id,
            new PluginCallCancelledError('PLUGHOST_DEADLINE_EXCEEDED', `"${this.#plugin}.${pending.method}" exceeded its ${options.timeoutMs} ms deadline`),
          ),
        options.timeoutMs,
      );
    }
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.#cancel(id, aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.detach = () => signal.removeEventListener('abort', onAbort);
    }
  }

  #cancel(id: number, err: PlughostError): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.#settle(pending);
    pending.reject(err);
    if (this.#broken === undefined) this.#stream.write({ id, cancel: { reason: err.code } });
  }

  #allocateId(): number {
    do this.#nextId = (this.#nextId + 1) >>> 0;
    while (this.#nextId === 0 || this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  #settle(pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.detach?.();
    const next = this.#queued.shift();
    if (next !== undefined) queueMicrotask(next);
  }

  #receive(frame: WireFrame & { kind?: string }): void {
    const id = frame.id ?? 0;
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // cancelled or unknown: ignore (protocol rule)
    switch (frame.kind) {
      case 'result': {
        this.#pending.delete(id);
        this.#settle(pending);
        const result = frame.result!;
        if (result.error) pending.reject(this.#callError(pending.method, result.error));
        else pending.resolve(result.payload);
        return;
      }
      case 'batchResult':
        this.#pending.delete(id);
        this.#settle(pending);
        pending.resolve(frame.batchResult!.results ?? []);
        return;
      case 'data':
        pending.stream?.push(frame.data!);
        return;
      case 'end': {
        this.#pending.delete(id);
        this.#settle(pending);
        const error = frame.end!.error;
        if (error) pending.reject(this.#callError(pending.method, error));
        else pending.resolve(undefined);
        return;
      }
      default:
        return;
    }
  }

  #callError(method: string, error: { code?: string; message?: string }): PluginCallError {
    return new PluginCallError(this.#plugin, method, error.code ?? '', error.message ?? '');
  }
}

function aborted(signal: AbortSignal): PluginCallCancelledError {
  return new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', 'call aborted by its signal', { cause: signal.reason });
}

/** The plugin's messages for one stream call, as an async iterator. */
class StreamInbox {
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
