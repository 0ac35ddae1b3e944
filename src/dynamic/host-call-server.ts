// The host's side of host calls on one instance's Channel (docs/protocol.md,
// "Host calls"): runs the service, enforces its deadline and the bound on
// open calls, and answers every call exactly once — unless the plugin
// cancelled it. A service's failure is the plugin's error, never the host's.
import type { Logger } from '../logger.js';
import { FRAME_OVERHEAD, HOST_CALL_DEFAULT_TIMEOUT_MS, MAX_OPEN_HOST_CALLS } from '../protocol/limits.js';
import type { WireFrame, WireHostCall } from '../protocol/services.js';
import { serviceFailure, type HostServiceTable } from './host-services.js';

export interface HostCallReport {
  (service: string, status: string, seconds: number): void;
}

/** Host services running for one plugin instance (or one remote plugin, across its streams). */
export interface HostCallBudget {
  running: number;
}

interface Open {
  readonly controller: AbortController;
  readonly timer: NodeJS.Timeout;
  readonly service: string;
  readonly started: number;
}

export class HostCallServer {
  readonly #plugin: string;
  readonly #table: HostServiceTable;
  readonly #maxMessageBytes: number;
  readonly #send: (frame: WireFrame) => void;
  readonly #logger: Logger;
  readonly #report: HostCallReport | undefined;
  readonly #open = new Map<number, Open>();
  /**
   * Services still running, answered or not: a cancelled call's service
   * counts until it returns, so cancelling cannot lift the bound. Shared by
   * every stream of one remote plugin, so more streams do not lift it either.
   */
  readonly #budget: HostCallBudget;
  #closed = false;

  constructor(options: {
    plugin: string;
    table: HostServiceTable;
    maxMessageBytes: number;
    send: (frame: WireFrame) => void;
    logger: Logger;
    report?: HostCallReport | undefined;
    budget?: HostCallBudget;
  }) {
    this.#budget = options.budget ?? { running: 0 };
    this.#plugin = options.plugin;
    this.#table = options.table;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#send = options.send;
    this.#logger = options.logger;
    this.#report = options.report;
  }

  get open(): number {
    return this.#open.size;
  }

  /** A host_call or host_cancel frame from the plugin. */
  receive(frame: WireFrame & { kind?: string }): void {
    const id = frame.id ?? 0;
    if (frame.kind === 'hostCancel') {
      const open = this.#open.get(id);
      if (open === undefined) return;
      this.#finish(id, open);
      open.controller.abort(new Error(`the plugin cancelled the host call: ${frame.hostCancel?.reason ?? ''}`));
      this.#report?.(open.service, 'PLUGHOST_CANCELLED', (performance.now() - open.started) / 1000);
      return;
    }
    if (frame.kind === 'hostCall') this.#start(id, frame.hostCall ?? {});
  }

  /** The plugin is going away: every open host call is aborted and gets no answer. */
  closeAll(reason: string): void {
    this.#closed = true;
    for (const [id, open] of this.#open) {
      this.#finish(id, open);
      open.controller.abort(new Error(reason));
    }
  }

  #start(id: number, call: WireHostCall): void {
    const service = call.service ?? '';
    const started = performance.now();
    // A name the plugin made up is one label, not one series each: a plugin must not grow the host's metrics.
    const label = this.#table.has(service) ? service : '(unknown)';
    const fail = (code: string, message: string): void => {
      this.#send({ id, hostResult: { error: { code, message } } });
      this.#report?.(label, code, (performance.now() - started) / 1000);
    };
    if (this.#closed) return fail('PLUGHOST_PLUGIN_CLOSED', `the host is stopping plugin "${this.#plugin}"`);
    if (id === 0 || this.#open.has(id)) {
      // The plugin broke the id rule; answering would confuse its other call.
      this.#logger.log('warn', 'plugin sent a host call with an id already in use; ignored', { plugin: this.#plugin, id });
      return;
    }
    if (this.#budget.running >= MAX_OPEN_HOST_CALLS) {
      return fail('PLUGHOST_HOST_CALLS_EXHAUSTED', `plugin "${this.#plugin}" has ${MAX_OPEN_HOST_CALLS} host calls open already`);
    }
    // timeout_ms is a uint32; setTimeout takes at most 2^31-1 ms (more fires at once).
    const timeoutMs = Math.min(call.timeoutMs || HOST_CALL_DEFAULT_TIMEOUT_MS, 0x7fffffff);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      if (this.#open.get(id) !== open) return;
      this.#finish(id, open);
      controller.abort(new Error(`host call deadline of ${timeoutMs} ms passed`));
      fail('PLUGHOST_DEADLINE_EXCEEDED', `host service "${service}" did not answer within ${timeoutMs} ms`);
    }, timeoutMs);
    const open: Open = { controller, timer, service: label, started };
    const running = this.#table.invoke(service, call.payload ?? new Uint8Array(0), {
      plugin: this.#plugin,
      service,
      signal: controller.signal,
      deadline: Date.now() + timeoutMs,
    });
    if (running === undefined) {
      clearTimeout(timer);
      return fail('PLUGHOST_HOST_SERVICE_NOT_FOUND', `the host offers plugin "${this.#plugin}" no service "${service}" (it offers: ${this.#table.names.join(', ') || 'none'})`);
    }
    this.#open.set(id, open);
    const budget = this.#budget;
    budget.running++;
    const done = (): void => void budget.running--;
    running.then(done, done);
    running.then(
      (result) => {
        if (this.#open.get(id) !== open) return; // cancelled or timed out: no answer
        this.#finish(id, open);
        const payload = typeof result === 'string' ? Buffer.from(result) : result;
        if (!(payload instanceof Uint8Array)) {
          return fail('PLUGHOST_HOST_SERVICE_FAILED', `host service "${service}" returned ${typeof payload}, not bytes or a string`);
        }
        if (payload.length + FRAME_OVERHEAD > this.#maxMessageBytes) {
          return fail('PLUGHOST_MESSAGE_TOO_LARGE', `host service "${service}" answered ${payload.length} bytes, over the ${this.#maxMessageBytes - FRAME_OVERHEAD}-byte limit`);
        }
        this.#send({ id, hostResult: { payload } });
        this.#report?.(label, 'ok', (performance.now() - started) / 1000);
      },
      (err: unknown) => {
        if (this.#open.get(id) !== open) return;
        this.#finish(id, open);
        const error = serviceFailure(err, this.#logger, this.#plugin, service);
        fail(error.code, error.message);
      },
    );
  }

  #finish(id: number, open: Open): void {
    clearTimeout(open.timer);
    this.#open.delete(id);
  }
}
