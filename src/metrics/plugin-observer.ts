// The hooks a supervised plugin reports to (HostMetrics.dynamicObserver is
// one), and the one place that calls them. Metrics must never change a call's
// outcome or break a restart, so a hook that throws is handed to `onHookError`
// and otherwise ignored.

/**
 * Hooks for metrics. onCall: every call() and every item of batch(), with
 * status 'ok' or the error's code and the duration in seconds (a batch's
 * items each get the whole batch's duration). onRestart: each successful
 * restart after a crash. onUp: the plugin became able to serve calls (an
 * instance is ready) or stopped being able to (crashed, restarting, given up
 * on, closed). A hook that throws is logged and ignored.
 */
export interface PluginObserver {
  onCall?(method: string, status: string, seconds: number): void;
  /** A host call the plugin made (docs/protocol.md, "Host calls"): the service, 'ok' or the error code, seconds. */
  onHostCall?(service: string, status: string, seconds: number): void;
  onRestart?(): void;
  onUp?(up: boolean): void;
}

export type ObserverHook = keyof PluginObserver;

export class ObserverReporter {
  readonly #observer: PluginObserver | undefined;
  readonly #onHookError: (hook: ObserverHook, err: unknown) => void;
  /** What onUp last reported: it hears of changes only. */
  #up = false;

  constructor(observer: PluginObserver | undefined, onHookError: (hook: ObserverHook, err: unknown) => void) {
    this.#observer = observer;
    this.#onHookError = onHookError;
  }

  /** False without an onCall hook: then calls are not timed at all. */
  get wantsCalls(): boolean {
    return this.#observer?.onCall !== undefined;
  }

  call(method: string, status: string, seconds: number): void {
    const observer = this.#observer;
    if (observer?.onCall === undefined) return;
    try {
      observer.onCall(method, status, seconds);
    } catch (err) {
      this.#onHookError('onCall', err);
    }
  }

  hostCall(service: string, status: string, seconds: number): void {
    const observer = this.#observer;
    if (observer?.onHostCall === undefined) return;
    try {
      observer.onHostCall(service, status, seconds);
    } catch (err) {
      this.#onHookError('onHostCall', err);
    }
  }

  restart(): void {
    const observer = this.#observer;
    if (observer?.onRestart === undefined) return;
    try {
      observer.onRestart();
    } catch (err) {
      this.#onHookError('onRestart', err);
    }
  }

  /** Reports `up` if it differs from what was last reported. */
  up(up: boolean): void {
    const observer = this.#observer;
    if (observer === undefined || up === this.#up) return;
    this.#up = up;
    try {
      observer.onUp?.(up);
    } catch (err) {
      this.#onHookError('onUp', err);
    }
  }
}
