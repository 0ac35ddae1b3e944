// plughost.v1.Plugin.Channel, the plugin side: many concurrent calls on one
// stream, matched by frame id (docs/protocol.md §3). Synchronous methods are
// answered inside the frame's own event (no promise, nothing registered);
// only calls still running after it are tracked, so `cancel` can reach them.
// The plugin's own host calls travel on the same stream (host-line.ts).
import type { ServerDuplexStream } from '@grpc/grpc-js';

import { asBytes } from '../protocol/bytes.js';
import { ReceiveWindow, SendCredit, STREAM_WINDOW_BYTES } from '../protocol/flow.js';
import type { WireBatchRequest, WireCallRequest, WireFrame, WireResult } from '../protocol/services.js';
import { CallCtx, type HostSource } from './context.js';
import type { Dispatcher } from './dispatcher.js';
import { HostLine } from './host-line.js';
import type { HostRegistry, Route } from './host-services.js';
import { MessageQueue } from './message-queue.js';
import type { StreamHandler } from './types.js';

type Frame = WireFrame;

/** A missing (empty) bytes field decodes as the prototype default, which is not a Uint8Array. */
const bytesOf = asBytes;

/**
 * A STREAM call in progress. With flow control (the host's `open` carried a
 * window) the plugin sends only what the host granted (`credit`) and grants
 * the host's messages back as the method takes them from `input`.
 */
class StreamCall {
  readonly ctx: CallCtx;
  readonly input: MessageQueue;
  readonly credit: SendCredit | undefined;

  constructor(method: string, hostSource: HostSource, window: number, grant: (bytes: number) => void) {
    this.ctx = new CallCtx(method, hostSource);
    this.credit = window > 0 ? new SendCredit(window) : undefined;
    const receive = window > 0 ? new ReceiveWindow(STREAM_WINDOW_BYTES, grant) : undefined;
    this.input = new MessageQueue(receive === undefined ? undefined : (length) => receive.consumed(length));
  }

  cancel(why: string): void {
    this.ctx.cancel(why);
    this.input.abandon();
    this.credit?.close();
  }
}

type OpenCall = CallCtx | StreamCall;

export class ChannelSession {
  readonly #stream: ServerDuplexStream<WireFrame, WireFrame>;
  readonly #dispatcher: Dispatcher;
  readonly #open = new Map<number, OpenCall>();
  readonly #onClosed: (session: ChannelSession) => void;
  readonly #registry: HostRegistry;
  /** The plugin's host calls on this Channel. */
  readonly #line: HostLine;
  /** `ctx.host` of the calls on this Channel: their host calls go over it too. */
  readonly #hostSource: HostSource;
  #closed = false;
  /** The last write found the stream's buffer full, and it has not drained since. */
  #congested = false;
  /** Whether this plugin speaks flow control (it sent the hello); if not, a window in `open` is ignored, as older SDKs did. */
  readonly #flow: boolean;
  /** Stream outputs waiting for the Channel stream to drain (gRPC transport backpressure). */
  #drainWaiters: Array<() => void> = [];

  constructor(
    stream: ServerDuplexStream<WireFrame, WireFrame>,
    dispatcher: Dispatcher,
    registry: HostRegistry,
    onClosed: (session: ChannelSession) => void,
    flow = true,
  ) {
    this.#stream = stream;
    this.#dispatcher = dispatcher;
    this.#registry = registry;
    this.#onClosed = onClosed;
    this.#flow = flow;
    this.#line = new HostLine({
      write: (frame) => this.#write(frame),
      ready: () => (this.#congested && !this.#closed ? new Promise<void>((resolve) => this.#drainWaiters.push(resolve)) : undefined),
    });
    const route: Route = () => (this.#closed ? 'the Channel this call came on has ended' : this.#line);
    this.#hostSource = (ctx) => registry.forCall(route, ctx);
    registry.attach(this.#line);
    // The hello: the first frame says this plugin speaks flow control (src/protocol/flow.ts).
    if (flow) this.#write({ id: 0, credit: { bytes: STREAM_WINDOW_BYTES } });
    stream.on('data', (frame: Frame) => this.#receive(frame));
    stream.on('drain', () => this.#drained());
    // The host ended or dropped the stream: every call on it is over.
    stream.on('end', () => this.close('the host ended the channel'));
    stream.on('cancelled', () => this.close('the channel was cancelled'));
    stream.on('error', () => this.close('the channel failed'));
  }

  /** Cancels every call still running and ends the plugin's side. */
  close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    // Before the calls are cancelled: their host calls fail as the Channel's loss, not as a cancellation.
    this.#registry.detach(this.#line);
    this.#line.close(why);
    for (const call of this.#open.values()) call.cancel(why);
    this.#open.clear();
    this.#drained();
    try {
      this.#stream.end();
    } catch {
      // already gone
    }
    this.#onClosed(this);
  }

  #receive(frame: Frame): void {
    if (this.#closed) return;
    const id = frame.id ?? 0;
    // Oneof members: message fields default to null on the prototype; `data` is checked last.
    if (frame.call != null) this.#call(id, frame.call);
    else if (frame.hostResult != null) this.#line.answer(id, frame.hostResult);
    else if (frame.batch != null) this.#batch(id, frame.batch);
    else if (frame.cancel != null) this.#cancel(id, frame.cancel.reason);
    else if (frame.open != null) this.#openStream(id, frame.open.method ?? '', this.#flow ? (frame.open.window ?? 0) : 0);
    else if (frame.credit != null) this.#credit(id, frame.credit.bytes ?? 0);
    else if (frame.end != null) this.#endInput(id);
    else if (Object.hasOwn(frame, 'data')) this.#data(id, bytesOf(frame.data));
  }

  #call(id: number, req: WireCallRequest): void {
    if (this.#open.has(id)) return; // the id is in use: not a valid new call
    const ctx = new CallCtx(req.method ?? '', this.#hostSource);
    const result = this.#dispatcher.call(ctx.method, bytesOf(req.payload), ctx);
    if (!(result instanceof Promise)) {
      this.#write({ id, result });
      return;
    }
    this.#open.set(id, ctx);
    result.then((r) => {
      if (this.#open.get(id) !== ctx) return; // cancelled (or the channel closed): send nothing
      this.#open.delete(id);
      this.#write({ id, result: r });
    });
  }

  #batch(id: number, req: WireBatchRequest): void {
    if (this.#open.has(id)) return;
    const ctx = new CallCtx(req.method ?? '', this.#hostSource);
    const payloads = (req.payloads ?? []).map(bytesOf);
    const results = this.#dispatcher.batch(ctx.method, payloads, ctx);
    if (!(results instanceof Promise)) {
      this.#write({ id, batchResult: { results } });
      return;
    }
    this.#open.set(id, ctx);
    results.then((r: WireResult[]) => {
      if (this.#open.get(id) !== ctx) return;
      this.#open.delete(id);
      this.#write({ id, batchResult: { results: r } });
    });
  }

  #cancel(id: number, reason: string | undefined): void {
    const call = this.#open.get(id);
    if (call === undefined) return;
    this.#open.delete(id);
    call.cancel(reason ? `cancelled by the host (${reason})` : 'cancelled by the host');
  }

  #openStream(id: number, method: string, window: number): void {
    if (this.#open.has(id)) return;
    const handler = this.#dispatcher.streams.get(method);
    if (handler === undefined) {
      const kind = this.#dispatcher.methods.has(method) ? 'STREAM method (it is a UNARY method)' : 'STREAM method';
      this.#write({ id, end: { error: this.#dispatcher.unknownMethod(method, kind).error } });
      return;
    }
    const call = new StreamCall(method, this.#hostSource, window, (bytes) => {
      if (this.#open.get(id) === call) this.#write({ id, credit: { bytes } });
    });
    this.#open.set(id, call);
    // The host spoke flow control: tell it how much it may send.
    if (call.credit !== undefined) this.#write({ id, credit: { bytes: STREAM_WINDOW_BYTES } });
    void this.#runStream(id, call, handler);
  }

  #credit(id: number, bytes: number): void {
    const call = this.#open.get(id);
    if (call instanceof StreamCall) call.credit?.grant(bytes);
  }

  #data(id: number, message: Uint8Array): void {
    const call = this.#open.get(id);
    if (call instanceof StreamCall) call.input.push(message);
  }

  #endInput(id: number): void {
    const call = this.#open.get(id);
    if (call instanceof StreamCall) call.input.end();
  }

  async #runStream(id: number, call: StreamCall, handler: StreamHandler): Promise<void> {
    const d = this.#dispatcher;
    let error: WireResult['error'];
    try {
      for await (const message of handler(call.input, call.ctx)) {
        if (this.#open.get(id) !== call) break; // cancelled: stop the generator, send nothing more
        const out = d.outcome(call.ctx.method, message);
        if (out.error) {
          error = out.error;
          break;
        }
        if (!(await this.#send(id, call, out.payload!))) break;
      }
    } catch (err) {
      error = d.failure(err).error;
    }
    if (this.#open.get(id) !== call) return;
    this.#open.delete(id);
    call.input.abandon();
    this.#write({ id, end: error ? { error } : {} });
  }

  /** Sends one message of a stream once the host has granted credit and the stream can take it; false if the call is over. */
  async #send(id: number, call: StreamCall, payload: Uint8Array): Promise<boolean> {
    const credit = call.credit;
    if (credit !== undefined) {
      const waiting = credit.ready();
      if (waiting !== undefined) await waiting;
      if (this.#open.get(id) !== call) return false;
      credit.take(payload.length);
    }
    if (this.#closed) return false;
    let ok: boolean;
    try {
      ok = this.#stream.write({ id, data: payload });
    } catch {
      this.close('writing to the channel failed');
      return false;
    }
    if (!ok) {
      this.#congested = true;
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    return this.#open.get(id) === call;
  }

  #drained(): void {
    this.#congested = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  #write(frame: WireFrame): void {
    if (this.#closed) return;
    try {
      if (!this.#stream.write(frame)) this.#congested = true;
    } catch {
      this.close('writing to the channel failed');
    }
  }
}
