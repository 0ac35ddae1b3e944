// Keeps a plugin's slots filled: watches each instance, restarts one that
// crashed after a backoff, gives a slot up when it crash-loops, and swaps in
// new instances for a reload. Which instance serves a call is the pool's job.
import { PluginUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ObserverReporter } from '../metrics/plugin-observer.js';
import { describeExit, type ExitStatus } from './process.js';
import type { RestartPolicy } from './restart-policy.js';
import { newSlot, wake, type Slot, type SupervisedInstance } from './slot.js';

export interface SupervisorContext<I> {
  readonly policy: Required<RestartPolicy>;
  readonly logger: Logger;
  /** The plugin's name, for logs and errors. */
  name(): string;
  /** Starts a replacement for a crashed instance, configured like the others. */
  start(): Promise<I>;
  readonly reporter: ObserverReporter;
}

export class Supervisor<I extends SupervisedInstance> {
  readonly slots: Slot<I>[] = [];
  /** The instance whose Describe answer the plugin shows (name, version, methods). */
  described: I | null = null;
  #restarts = 0;
  #crashes = 0;
  #closed = false;
  readonly #context: SupervisorContext<I>;

  constructor(context: SupervisorContext<I>) {
    this.#context = context;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Successful restarts after a crash. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Unexpected exits of any instance. */
  get crashes(): number {
    return this.#crashes;
  }

  addSlot(): Slot<I> {
    const slot = newSlot<I>(this.#context.policy);
    this.slots.push(slot);
    return slot;
  }

  /** Makes `instance` the slot's running instance and watches it. */
  install(slot: Slot<I>, instance: I): void {
    slot.instance = instance;
    slot.state = 'ready';
    slot.failure = undefined;
    if (this.described === null || !this.described.alive) this.described = instance;
    instance.onExit((status, expected) => {
      if (expected || slot.instance !== instance || this.#closed) return;
      this.#crashes++;
      this.#scheduleRestart(slot, status, instance.process.stderrTail());
      this.#reportUp();
    });
    wake(slot);
    this.#reportUp();
  }

  /**
   * Puts fresh[i] in slot i (a reload), cancelling any restart under way and
   * forgetting earlier crashes; returns the instances they replace.
   */
  replaceAll(fresh: readonly I[]): Array<I | null> {
    const previous = this.slots.map((slot, i) => {
      const old = slot.instance;
      this.#cancelRestart(slot);
      slot.crashes.reset();
      this.install(slot, fresh[i]!);
      return old;
    });
    this.described = this.slots[0]!.instance;
    return previous;
  }

  /**
   * Stops supervising: no more restarts, every waiter fails with `closed`.
   * Resolves once the current instances are shut down and any restart in
   * flight has seen the close and stopped what it started.
   */
  close(closed: Error): Promise<unknown> {
    this.#closed = true;
    const instances = this.slots.map((s) => s.instance);
    const restarts = this.slots.map((s) => s.restarting);
    for (const slot of this.slots) {
      this.#cancelRestart(slot);
      slot.state = 'closed';
      slot.failure = closed;
      wake(slot);
    }
    this.#reportUp();
    return Promise.all([...instances.map((i) => i?.shutdown()), ...restarts]);
  }

  /** Tells the observer when "some instance is ready" changes. */
  #reportUp(): void {
    this.#context.reporter.up(!this.#closed && this.slots.some((s) => s.state === 'ready'));
  }

  #cancelRestart(slot: Slot<I>): void {
    slot.generation++;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
  }

  #scheduleRestart(slot: Slot<I>, status: ExitStatus, stderrTail: string[]): void {
    const { policy, logger } = this.#context;
    const name = this.#context.name();
    const backoff = slot.crashes.crashed(Date.now());
    slot.instance = null;
    if (backoff === null) {
      slot.state = 'failed';
      slot.failure = new PluginUnavailableError(
        'PLUGHOST_PLUGIN_UNAVAILABLE',
        `plugin "${name}" crashed ${slot.crashes.crashes} times within ${policy.windowMs} ms; not restarting it`,
        {
          expected: `at most ${policy.maxRestarts} restarts per ${policy.windowMs} ms`,
          found: `last: ${describeExit(status)}${stderrTail.length > 0 ? `; stderr: ${stderrTail.slice(-3).join(' | ')}` : ''}`,
          hint: 'Fix the crash, then reload the plugin or restart the host',
        },
      );
      logger.log('error', 'plugin crash loop: giving up', { plugin: name, crashes: slot.crashes.crashes });
      wake(slot);
      return;
    }
    slot.state = 'restarting';
    logger.log('warn', 'restarting plugin', { plugin: name, after: describeExit(status), backoffMs: backoff });
    this.#cancelRestart(slot);
    const generation = slot.generation;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      const attempt = this.#context.start().then(
        async (instance) => {
          // Closed or reloaded meanwhile: this instance is not wanted.
          if (this.#closed || slot.generation !== generation) {
            await instance.shutdown();
            return;
          }
          this.#restarts++;
          this.install(slot, instance);
          this.#context.reporter.restart();
        },
        (err: Error) => {
          if (this.#closed || slot.generation !== generation) return;
          logger.log('error', 'plugin restart failed', { plugin: this.#context.name(), error: err.message });
          // A failed start counts as a crash of the same loop.
          this.#scheduleRestart(slot, { code: null, signal: null }, [err.message]);
        },
      );
      const tracked: Promise<void> = attempt.finally(() => {
        if (slot.restarting === tracked) slot.restarting = undefined;
      });
      slot.restarting = tracked;
    }, backoff);
  }
}
