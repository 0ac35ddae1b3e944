// Automatic micro-batching: calls to one method issued in the same turn of
// the event loop are sent as one batch frame, up to `maxBatch` per frame.
// Calls with a deadline or a signal bypass it (they need their own frame to be
// cancelled on their own).
import { asBytes } from '../protocol/bytes.js';
import { BATCH_ITEM_OVERHEAD } from '../protocol/limits.js';
import type { WireResult } from '../protocol/services.js';
import { pluginCallError, transportError } from './call-errors.js';

export interface BatchSender {
  call(method: string, payload: Uint8Array): Promise<Uint8Array>;
  batch(method: string, payloads: readonly Uint8Array[]): Promise<WireResult[]>;
}

interface Queue {
  bytes: number;
  payloads: Uint8Array[];
  waiters: Array<{ resolve(v: Uint8Array): void; reject(e: Error): void }>;
}

export class MicroBatcher {
  readonly #plugin: string;
  readonly #maxBatch: number;
  readonly #maxBytes: number;
  readonly #queues = new Map<string, Queue>();
  #scheduled = false;

  /** `maxBytes`: payload bytes one batch frame may carry (below the message limit). */
  constructor(plugin: string, maxBatch: number, maxBytes: number) {
    this.#plugin = plugin;
    this.#maxBatch = maxBatch;
    this.#maxBytes = maxBytes;
  }

  /** Queues a call; `sender` is resolved when the batch is flushed (after a restart it may be a new instance). */
  call(method: string, payload: Uint8Array, sender: () => BatchSender): Promise<Uint8Array> {
    // Too big to share a frame: on its own (and refused there if over the limit).
    if (payload.length > this.#maxBytes / 4) return sender().call(method, payload);
    // The same accounting as CallChannel.batch: each item costs its bytes plus BATCH_ITEM_OVERHEAD, the method name once.
    const itemBytes = payload.length + BATCH_ITEM_OVERHEAD;
    let queue = this.#queues.get(method);
    if (queue !== undefined && queue.bytes + itemBytes + method.length > this.#maxBytes) {
      this.#queues.delete(method);
      this.#send(method, queue, sender());
      queue = undefined;
    }
    if (queue === undefined) {
      queue = { bytes: 0, payloads: [], waiters: [] };
      this.#queues.set(method, queue);
    }
    const target = queue;
    const promise = new Promise<Uint8Array>((resolve, reject) => target.waiters.push({ resolve, reject }));
    queue.payloads.push(payload);
    queue.bytes += itemBytes;
    if (queue.payloads.length >= this.#maxBatch) {
      this.#queues.delete(method);
      this.#send(method, queue, sender());
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      // setImmediate runs after the current turn's promise jobs: everything the
      // caller issued "at once" (e.g. Promise.all over a loop) is in the batch.
      setImmediate(() => {
        this.#scheduled = false;
        const queues = [...this.#queues];
        this.#queues.clear();
        let s: BatchSender;
        try {
          s = sender();
        } catch (err) {
          // No one to send to any more (the plugin was closed meanwhile): the queued calls fail with why.
          for (const [, q] of queues) for (const w of q.waiters) w.reject(err as Error);
          return;
        }
        for (const [m, q] of queues) this.#send(m, q, s);
      });
    }
    return promise;
  }

  #send(method: string, queue: Queue, sender: BatchSender): void {
    const { payloads, waiters } = queue;
    if (payloads.length === 1) {
      sender.call(method, payloads[0]!).then(waiters[0]!.resolve, waiters[0]!.reject);
      return;
    }
    sender.batch(method, payloads).then(
      (results) => {
        for (let i = 0; i < waiters.length; i++) {
          const r = results[i];
          if (r === undefined) {
            waiters[i]!.reject(transportError(this.#plugin, method, 'batch result missing for this call'));
          } else if (r.error) {
            waiters[i]!.reject(pluginCallError(this.#plugin, method, r.error));
          } else {
            waiters[i]!.resolve(asBytes(r.payload));
          }
        }
      },
      (err: Error) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }
}
