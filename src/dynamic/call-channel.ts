// Many concurrent calls on one long-lived Channel stream, matched by frame id
// (docs/protocol.md §3). Cheaper than a unary RPC per call, and the place
// where deadlines, cancellation, the in-flight window and streams' flow
// control (credit each way, src/protocol/flow.ts) are enforced.
import type * as grpc from '@grpc/grpc-js';

import { PluginCallCancelledError, PlughostError, PlughostUsageError } from '../errors.js';
import { asBytes } from '../protocol/bytes.js';
import { FLOW_PROBE_METHOD, messageCost, ReceiveWindow, SendCredit, STREAM_WINDOW_BYTES } from '../protocol/flow.js';
import { BATCH_ITEM_OVERHEAD, FRAME_OVERHEAD } from '../protocol/limits.js';
import type { WireFrame, WireResult } from '../protocol/services.js';
import { callAborted, deadlineExceeded, pluginCallError, transportError } from './call-errors.js';
import type { Connection } from './connection.js';
import type { CallOptions, DynamicStream } from './call-types.js';
import { StreamInbox } from './stream-inbox.js';

// What a stream from a plugin without flow control may buffer unread before
// the host gives the call up (such a plugin has only gRPC's backpressure).
const UNFLOWED_INBOX_BYTES = 64 * 1024 * 1024;
// Frames the host may have written that the plugin has not read before the host gives its Channel up.
const UNREAD_FRAMES = 16_384;

export type { CallOptions, DynamicStream } from './call-types.js';

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
  /** What the plugin lets the host send on a flow-controlled stream. */
  credit?: SendCredit | undefined;
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
  /** Writers waiting for the Channel stream to drain (gRPC transport backpressure). */
  #drainWaiters: Array<() => void> = [];
  /** Whether the plugin speaks flow control: undefined until its first frame with id 0 (src/protocol/flow.ts). */
  #flow: boolean | undefined;
  #learnFlow!: (flow: boolean) => void;
  readonly #flowKnown = new Promise<boolean>((resolve) => (this.#learnFlow = resolve));
  readonly #onHostFrame: ((frame: WireFrame & { kind?: string }) => void) | undefined;
  /** Whether any frame came from the plugin: then what was sent on this stream may have reached it. */
  #heard = false;

  constructor(
    conn: Connection,
    // onHostFrame: host_call and host_cancel frames (host-call-server.ts), in a space of ids apart from the calls'.
    options: { plugin: string; window: number; maxMessageBytes: number; onBroken: (err: Error) => void; onHostFrame?: (frame: WireFrame & { kind?: string }) => void },
  ) {
    this.#onHostFrame = options.onHostFrame;
    this.#plugin = options.plugin;
    this.#window = options.window;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#stream = conn.plugin.Channel() as grpc.ClientDuplexStream<WireFrame, WireFrame>;
    this.#stream.on('data', (frame: WireFrame & { kind?: string }) => this.#receive(frame));
    this.#stream.on('drain', () => this.#drained());
    // The probe: every plugin answers it; one that speaks flow control sends its hello first.
    this.#stream.write({ id: 0, call: { method: FLOW_PROBE_METHOD } });
    const broken = (err?: Error): void => {
      if (this.#broken !== undefined) return;
      this.#broken = err ?? new Error('channel ended');
      this.#drained();
      this.#peerFlow(false);
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
    const results = this.#start(method, options, (id) => this.#stream.write({ id, batch: { method, payloads: payloads as Uint8Array[] } }))
      .promise as Promise<WireResult[]>;
    return results.then((items) => {
      for (const item of items) if (!item.error) item.payload = asBytes(item.payload);
      return items;
    });
  }

  openStream(method: string, options: CallOptions = {}): DynamicStream {
    // Flow control (docs/protocol.md): with a plugin that speaks it, the host
    // sends once the plugin's first credit frame for the stream arrives.
    const credit = new SendCredit(0);
    let pending: Pending | undefined;
    const live = (): boolean => pending !== undefined && pending.id !== 0 && this.#pending.get(pending.id) === pending;
    const window = new ReceiveWindow(STREAM_WINDOW_BYTES, (bytes) => {
      if (live() && this.#broken === undefined) this.#stream.write({ id: pending!.id, credit: { bytes } });
    });
    const cancel = (reason: string): void => {
      if (pending !== undefined) this.#abandon(pending, new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', reason));
    };
    const inbox = new StreamInbox({
      consumed: (length) => {
        if (this.#flow === true) window.consumed(length);
      },
      abandoned: () => cancel('the caller stopped reading the stream'),
      // With flow control: one window and a message of slack, past which the
      // plugin broke the protocol; without it: a generous fixed bound.
      limitBytes: () => (this.#flow === true ? STREAM_WINDOW_BYTES + 2 * messageCost(this.#maxMessageBytes) : UNFLOWED_INBOX_BYTES),
      overflowed: (bytes) => {
        if (pending === undefined) return;
        const flow = this.#flow === true;
        this.#abandon(
          pending,
          new PluginCallCancelledError(
            'PLUGHOST_STREAM_OVERFLOW',
            flow
              ? `plugin "${this.#plugin}" stream "${method}": ${bytes} bytes buffered, beyond the ${STREAM_WINDOW_BYTES}-byte window it was granted`
              : `plugin "${this.#plugin}" stream "${method}": ${bytes} bytes the caller has not read, from a plugin without flow control`,
            { hint: flow ? 'The plugin breaks the flow-control protocol (docs/protocol.md)' : 'Read the stream as fast as the plugin writes, or use an SDK with flow control' },
          ),
        );
      },
    });
    // Writes wait for the call to leave the window queue (it then has an id), and go out in order.
    let started!: (ok: boolean) => void;
    const opened = new Promise<boolean>((resolve) => (started = resolve));
    let tail: Promise<boolean> = Promise.resolve(true);
    const call = this.#start(
      method,
      options,
      (id) => {
        this.#stream.write({ id, open: { method, window: STREAM_WINDOW_BYTES } });
        started(true);
      },
      inbox,
      credit,
    );
    pending = call.pending;
    const over = (err?: Error): void => {
      started(false);
      credit.close();
      inbox.finish(err);
    };
    call.promise.then(
      () => over(),
      (err: Error) => over(err),
    );
    const enqueue = (send: () => Promise<boolean>): Promise<boolean> => {
      const next = tail.then(async () => ((await opened) && live() ? send() : false));
      tail = next;
      return next;
    };
    return {
      write: (message) => {
        const tooLarge = this.#sizeError(method, message.length);
        if (tooLarge !== undefined) throw tooLarge;
        return enqueue(async () => {
          const flow = this.#flow ?? (await this.#flowKnown);
          if (flow) {
            const waiting = credit.ready();
            if (waiting !== undefined) await waiting;
            if (credit.closed) return false;
            credit.take(message.length);
          }
          if (!live()) return false;
          return this.#send({ id: pending!.id, data: message });
        });
      },
      end: () => enqueue(() => this.#send({ id: pending!.id, end: {} })),
      cancel: (reason = 'cancelled by the host') => cancel(reason),
      [Symbol.asyncIterator]: () => inbox.iterator(),
    };
  }

  /** Writes a frame; resolves true once the Channel stream can take more (false if it broke meanwhile). */
  #send(frame: WireFrame): Promise<boolean> {
    if (this.#broken !== undefined) return Promise.resolve(false);
    if (this.#stream.write(frame)) return Promise.resolve(true);
    return new Promise((resolve) => this.#drainWaiters.push(() => resolve(this.#broken === undefined)));
  }

  #peerFlow(flow: boolean): void {
    if (this.#flow === undefined) this.#learnFlow((this.#flow = flow));
  }

  #drained(): void {
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  /** Rejects every call in flight (the plugin died or the connection broke). */
  failAll(err: Error): void {
    this.#broken ??= err;
    this.#drained();
    this.#peerFlow(false);
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
    credit?: SendCredit,
  ): { promise: Promise<unknown>; pending: Pending | undefined } {
    // A call after the stream broke never reached the plugin: typed, whatever gRPC said (the exit that follows may say why).
    if (this.#broken !== undefined) return { promise: Promise.reject(transportError(this.#plugin, method, `the call channel broke: ${this.#broken.message}`)), pending: undefined };
    if (options.signal?.aborted) return { promise: Promise.reject(callAborted(options.signal)), pending: undefined };
    let pending: Pending | undefined;
    const promise = new Promise((resolve, reject) => {
      const entry: Pending = {
        method,
        id: 0,
        resolve,
        reject,
        stream,
        credit,
        begin: () => {
          if (this.#broken !== undefined) {
            this.#disarm(entry);
            reject(transportError(this.#plugin, method, `the call channel broke: ${this.#broken.message}`));
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

  /** Where round_robin put this stream ('unknown' before it reached a server), and its first answer (or its breaking). */
  get peer(): string { return this.#stream.getPeer(); } // prettier-ignore
  get answered(): Promise<boolean> { return this.#flowKnown; } // prettier-ignore

  /** A frame that is not part of a host-made call (host_result); dropped once the channel is broken, which it breaks if unread. */
  sendFrame(frame: WireFrame): void {
    if (this.#broken !== undefined) return;
    this.#stream.write(frame);
    // Answers a plugin does not read must not pile up in the host: past a bound of frames (the stream is in
    // object mode) the Channel is given up (calls fail, a local plugin is restarted). A plugin that reads has at
    // most its call window and its 256 host calls in flight.
    if (this.#stream.writableLength > Math.max(UNREAD_FRAMES, 2 * this.#window + 1024)) {
      this.#stream.emit('error', new Error(`plugin "${this.#plugin}" does not read the host's answers on its Channel`));
      this.#stream.cancel();
    }
  }

  get heard(): boolean {
    return this.#heard;
  }

  #receive(frame: WireFrame & { kind?: string }): void {
    this.#heard = true;
    if (frame.kind === 'hostCall' || frame.kind === 'hostCancel') {
      this.#onHostFrame?.(frame);
      return;
    }
    const id = frame.id ?? 0;
    if (id === 0) {
      // The plugin's hello (credit) or its answer to the probe (result), whichever comes first.
      this.#peerFlow(frame.kind === 'credit');
      return;
    }
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // cancelled or unknown: ignore (protocol rule)
    switch (frame.kind) {
      case 'result': {
        this.#pending.delete(id);
        this.#settle(pending);
        const result = frame.result!;
        if (result.error) pending.reject(pluginCallError(this.#plugin, pending.method, result.error));
        else pending.resolve(asBytes(result.payload));
        return;
      }
      case 'batchResult':
        this.#pending.delete(id);
        this.#settle(pending);
        pending.resolve(frame.batchResult!.results ?? []);
        return;
      case 'data':
        pending.stream?.push(asBytes(frame.data));
        return;
      case 'credit':
        pending.credit?.grant(frame.credit!.bytes ?? 0);
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
