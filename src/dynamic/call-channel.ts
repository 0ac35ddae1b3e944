// Many concurrent calls on one long-lived Channel stream, matched by frame id
// (docs/protocol.md §3). Cheaper than a unary RPC per call, and the place
// where deadlines, cancellation and the in-flight window are enforced.
import type * as grpc from '@grpc/grpc-js';

import { PluginCallCancelledError, PlughostError, PlughostUsageError } from '../errors.js';
import { BATCH_ITEM_OVERHEAD, FRAME_OVERHEAD } from '../protocol/limits.js';
import type { WireFrame, WireResult } from '../protocol/services.js';
import { callAborted, deadlineExceeded, pluginCallError } from './call-errors.js';
import type { Connection } from './connection.js';
import { StreamInbox } from './stream-inbox.js';

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
  /** 0 while the call waits in the host for a window slot. */
  id: number;
  begin(): void;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout | undefined;
  detach?: (() => void) | undefined;
  stream?: StreamInbox | undefined;
}

export class CallChannel {
  readonly #plugin: string;
  readonly #stream: grpc.ClientDuplexStream<WireFrame, WireFrame>;
  readonly #pending = new Map<number, Pending>();
  readonly #window: number;
  readonly #maxMessageBytes: number;
  readonly #queued: Pending[] = [];
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
    return this.#start(method, options, (id) => this.#stream.write({ id, call: { method, payload } })).promise as Promise<Uint8Array>;
  }

  batch(method: string, payloads: readonly Uint8Array[], options: CallOptions = {}): Promise<WireResult[]> {
    let size = 0;
    for (const p of payloads) size += p.length + BATCH_ITEM_OVERHEAD;
    const tooLarge = this.#sizeError(method, size);
    if (tooLarge !== undefined) return Promise.reject(tooLarge);
    return this.#start(method, options, (id) => this.#stream.write({ id, batch: { method, payloads: payloads as Uint8Array[] } })).promise as Promise<WireResult[]>;
  }

  openStream(method: string, options: CallOptions = {}): DynamicStream {
    const inbox = new StreamInbox();
    // Writes made while the call waits for a window slot go out once it has an id.
    let early: Array<(id: number) => void> | null = [];
    const { promise, pending } = this.#start(
      method,
      options,
      (id) => {
        this.#stream.write({ id, open: { method } });
        for (const op of early ?? []) op(id);
        early = null;
      },
      inbox,
    );
    promise.then(
      () => inbox.finish(),
      (err: Error) => inbox.finish(err),
    );
    const whenOpen = (op: (id: number) => void): void => {
      if (early !== null) early.push(op);
      else if (pending !== undefined && this.#pending.get(pending.id) === pending) op(pending.id);
    };
    return {
      write: (message) => {
        const tooLarge = this.#sizeError(method, message.length);
        if (tooLarge !== undefined) throw tooLarge;
        whenOpen((id) => this.#stream.write({ id, data: message }));
      },
      end: () => whenOpen((id) => this.#stream.write({ id, end: {} })),
      cancel: (reason = 'cancelled by the host') => {
        if (pending !== undefined) this.#abandon(pending, new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', reason));
      },
      [Symbol.asyncIterator]: () => inbox.iterator(),
    };
  }

  /** Rejects every call in flight (the plugin died or the connection broke). */
  failAll(err: Error): void {
    this.#broken ??= err;
    const all = [...this.#pending.values(), ...this.#queued.splice(0)];
    this.#pending.clear();
    for (const pending of all) {
      this.#disarm(pending);
      pending.reject(err);
    }
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

  #start(
    method: string,
    options: CallOptions,
    send: (id: number) => void,
    stream?: StreamInbox,
  ): { promise: Promise<unknown>; pending: Pending | undefined } {
    if (this.#broken !== undefined) return { promise: Promise.reject(this.#broken), pending: undefined };
    if (options.signal?.aborted) return { promise: Promise.reject(callAborted(options.signal)), pending: undefined };
    let pending: Pending | undefined;
    const promise = new Promise((resolve, reject) => {
      const entry: Pending = {
        method,
        id: 0,
        resolve,
        reject,
        stream,
        begin: () => {
          if (this.#broken !== undefined) {
            this.#disarm(entry);
            reject(this.#broken);
            return;
          }
          entry.id = this.#allocateId();
          this.#pending.set(entry.id, entry);
          send(entry.id);
        },
      };
      pending = entry;
      // Armed now, so a call waiting for a window slot still honours its deadline and signal.
      this.#arm(entry, options);
      // The window bounds what the plugin must hold at once; the rest waits here.
      if (this.#pending.size < this.#window) entry.begin();
      else this.#queued.push(entry);
    });
    return { promise, pending };
  }

  #arm(pending: Pending, options: CallOptions): void {
    if (options.timeoutMs !== undefined) {
      pending.timer = setTimeout(() => this.#abandon(pending, deadlineExceeded(this.#plugin, pending.method, options.timeoutMs)), options.timeoutMs);
    }
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.#abandon(pending, callAborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.detach = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** Gives up on a call: a queued one just leaves the queue; a started one is also cancelled in the plugin. */
  #abandon(pending: Pending, err: PlughostError): void {
    if (pending.id === 0) {
      const at = this.#queued.indexOf(pending);
      if (at < 0) return; // already settled
      this.#queued.splice(at, 1);
      this.#disarm(pending);
      pending.reject(err);
      return;
    }
    if (this.#pending.get(pending.id) !== pending) return;
    this.#pending.delete(pending.id);
    this.#settle(pending);
    pending.reject(err);
    if (this.#broken === undefined) this.#stream.write({ id: pending.id, cancel: { reason: err.code } });
  }

  #allocateId(): number {
    do this.#nextId = (this.#nextId + 1) >>> 0;
    while (this.#nextId === 0 || this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  #disarm(pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.detach?.();
  }

  /** A started call is over: its slot in the window goes to the next queued call. */
  #settle(pending: Pending): void {
    this.#disarm(pending);
    const next = this.#queued.shift();
    if (next !== undefined) queueMicrotask(next.begin);
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
        if (result.error) pending.reject(pluginCallError(this.#plugin, pending.method, result.error));
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
        if (error) pending.reject(pluginCallError(this.#plugin, pending.method, error));
        else pending.resolve(undefined);
        return;
      }
      default:
        return;
    }
  }
}
