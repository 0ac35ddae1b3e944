// Runs methods and turns their outcome into wire Results: the one place that
// knows the error codes and the message-size limit. Shared by Call, Batch and
// the Channel. Synchronous methods answer synchronously (no promise, no
// microtask); a Result is only a promise when the method returned one.
import { BATCH_ITEM_OVERHEAD, FRAME_OVERHEAD } from '../protocol/limits.js';
import type { WireError, WireResult } from '../protocol/services.js';
import { CODES, toWireError } from './plugin-error.js';
import type { BatchHandler, CallContext, MethodHandler, PluginDefinition, StreamHandler } from './types.js';
import { describeValue, isThenable } from '../util/values.js';

const OVERFLOW: WireResult = Object.freeze({ error: Object.freeze({ code: CODES.tooLarge, message: 'batch result over the message limit' }) });

function own<T>(record: Record<string, T> | undefined): Map<string, T> {
  return new Map(record === undefined ? [] : Object.entries(record));
}

export class Dispatcher {
  readonly methods: Map<string, MethodHandler>;
  readonly batches: Map<string, BatchHandler>;
  readonly streams: Map<string, StreamHandler>;
  /** The largest result payload that fits in one message. */
  readonly maxPayload: number;
  readonly #maxMessageBytes: number;
  readonly #maxErrorChars: number;

  constructor(def: PluginDefinition, maxMessageBytes: number) {
    this.methods = own(def.methods);
    this.batches = own(def.batch);
    this.streams = own(def.streams);
    this.#maxMessageBytes = maxMessageBytes;
    this.maxPayload = Math.max(0, maxMessageBytes - FRAME_OVERHEAD);
    // A UTF-16 unit is at most 3 UTF-8 bytes: an error always fits well inside a message.
    this.#maxErrorChars = Math.max(64, Math.min(4096, Math.floor(this.maxPayload / 8)));
  }

  error(code: string, message: string): WireResult {
    return { error: this.wireError(code, message) };
  }

  wireError(code: string, message: string): WireError {
    return { code, message: message.length > this.#maxErrorChars ? `${message.slice(0, this.#maxErrorChars)}…` : message };
  }

  failure(err: unknown): WireResult {
    return { error: toWireError(err, this.#maxErrorChars) };
  }

  unknownMethod(method: string, kind = 'method'): WireResult {
    return this.error(CODES.unknownMethod, `plugin has no ${kind} "${method}"`);
  }

  tooLarge(method: string, bytes: number): WireResult {
    return this.error(
      CODES.tooLarge,
      `result of "${method}" is ${bytes} bytes, over the ${this.maxPayload}-byte limit (max message ${this.#maxMessageBytes} bytes)`,
    );
  }

  #unknownUnary(method: string): WireResult {
    return this.streams.has(method) ? this.unknownMethod(method, 'UNARY method (it is a STREAM method)') : this.unknownMethod(method);
  }

  /** A method's return value as a Result: a Uint8Array that fits, else an error. */
  outcome(method: string, value: unknown): WireResult {
    if (value instanceof Uint8Array) return value.length <= this.maxPayload ? { payload: value } : this.tooLarge(method, value.length);
    return this.error(CODES.exception, `"${method}" returned ${describeValue(value)}, not a Uint8Array`);
  }

  /** Runs a UNARY method. Never throws; a promise only if the method returned one. */
  call(method: string, payload: Uint8Array, ctx: CallContext): WireResult | Promise<WireResult> {
    const fn = this.methods.get(method);
    if (fn === undefined) return this.#unknownUnary(method);
    let value: unknown;
    try {
      value = fn(payload, ctx);
    } catch (err) {
      return this.failure(err);
    }
    if (value instanceof Uint8Array) return value.length <= this.maxPayload ? { payload: value } : this.tooLarge(method, value.length);
    if (isThenable(value)) {
      return Promise.resolve(value).then(
        (v) => this.outcome(method, v),
        (err: unknown) => this.failure(err),
      );
    }
    return this.outcome(method, value);
  }

  /** Runs a batch: one Result per payload, in order; a failing item fails only itself. */
  batch(method: string, payloads: Uint8Array[], ctx: CallContext): WireResult[] | Promise<WireResult[]> {
    const whole = this.batches.get(method);
    if (whole !== undefined) return this.#wholeBatch(whole, method, payloads, ctx);
    const fn = this.methods.get(method);
    const n = payloads.length;
    if (fn === undefined) {
      return new Array<WireResult>(n).fill(this.#unknownUnary(method));
    }
    const results = new Array<WireResult>(n);
    let pending: Array<PromiseLike<void>> | undefined;
    for (let i = 0; i < n; i++) {
      let value: unknown;
      try {
        value = fn(payloads[i]!, ctx);
      } catch (err) {
        results[i] = this.failure(err);
        continue;
      }
      if (value instanceof Uint8Array) {
        results[i] = value.length <= this.maxPayload ? { payload: value } : this.tooLarge(method, value.length);
      } else if (isThenable(value)) {
        (pending ??= []).push(
          Promise.resolve(value).then(
            (v) => void (results[i] = this.outcome(method, v)),
            (err: unknown) => void (results[i] = this.failure(err)),
          ),
        );
      } else {
        results[i] = this.outcome(method, value);
      }
    }
    if (pending === undefined) return this.#fit(method, results);
    return Promise.all(pending).then(() => this.#fit(method, results));
  }

  #wholeBatch(fn: BatchHandler, method: string, payloads: Uint8Array[], ctx: CallContext): WireResult[] | Promise<WireResult[]> {
    const n = payloads.length;
    const finish = (values: unknown): WireResult[] => {
      if (!Array.isArray(values) || values.length !== n) {
        const got = Array.isArray(values) ? `${values.length} results` : describeValue(values);
        return new Array<WireResult>(n).fill(this.error(CODES.exception, `batch handler for "${method}" returned ${got} for ${n} payloads`));
      }
      const results = new Array<WireResult>(n);
      for (let i = 0; i < n; i++) results[i] = this.outcome(method, values[i]);
      return this.#fit(method, results);
    };
    const failAll = (err: unknown): WireResult[] => new Array<WireResult>(n).fill(this.failure(err));
    let values: unknown;
    try {
      values = fn(payloads, ctx);
    } catch (err) {
      return failAll(err);
    }
    if (isThenable(values)) return Promise.resolve(values).then(finish, failAll);
    return finish(values);
  }

  /** Keeps the whole batch under the message limit: results past it become PLUGHOST_MESSAGE_TOO_LARGE. */
  #fit(method: string, results: WireResult[]): WireResult[] {
    let used = 0;
    let overflowed = false;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const size = r.payload !== undefined ? r.payload.length : 3 * ((r.error?.code?.length ?? 0) + (r.error?.message?.length ?? 0));
      if (used + size + BATCH_ITEM_OVERHEAD <= this.maxPayload) {
        used += size + BATCH_ITEM_OVERHEAD;
        continue;
      }
      // The first item over the limit says why; the rest stay small.
      const replacement = overflowed
        ? OVERFLOW
        : this.error(
            CODES.tooLarge,
            `batch result of "${method}" goes over the ${this.maxPayload}-byte limit at item ${i} (max message ${this.#maxMessageBytes} bytes)`,
          );
      overflowed = true;
      results[i] = replacement;
      used += 3 * (replacement.error!.message!.length + CODES.tooLarge.length) + BATCH_ITEM_OVERHEAD;
    }
    return results;
  }
}
