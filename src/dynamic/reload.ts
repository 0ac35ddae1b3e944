// Hot reload: start a full set of new instances beside the old ones, switch
// new calls to them once all are ready, let the old ones finish what they
// have in flight, then stop them. All or nothing: if any new instance fails
// to start, the old ones keep serving and the reload rejects.
import { pluginClosed } from './call-errors.js';
import type { PluginInstance } from './instance.js';
import type { Launcher, SpecChanges } from './launcher.js';
import type { Supervisor } from './supervisor.js';

export interface ReloadChanges extends SpecChanges {
  /** How long old instances may take to finish their calls before they are stopped (default 30 s). */
  readonly drainTimeoutMs?: number;
}

export class Reloader {
  readonly #launcher: Launcher;
  readonly #supervisor: Supervisor<PluginInstance>;
  readonly #name: () => string;
  readonly #running = new Set<Promise<void>>();

  constructor(launcher: Launcher, supervisor: Supervisor<PluginInstance>, name: () => string) {
    this.#launcher = launcher;
    this.#supervisor = supervisor;
    this.#name = name;
  }

  async reload(changes: ReloadChanges): Promise<void> {
    if (this.#supervisor.closed) throw pluginClosed(this.#name(), 'is closed');
    const spec = this.#launcher.withChanges(changes);
    const reloading = (async () => {
      const started = await Promise.allSettled(this.#supervisor.slots.map(() => this.#launcher.start(spec)));
      const fresh = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined || this.#supervisor.closed) {
        await Promise.all(fresh.map((i) => i.shutdown()));
        if (failed !== undefined) throw failed.reason;
        throw pluginClosed(this.#name(), 'was closed during reload');
      }
      this.#launcher.adopt(spec);
      const old = this.#supervisor.replaceAll(fresh);
      await Promise.all(
        old.map(async (instance) => {
          if (instance === null) return;
          await instance.drain(changes.drainTimeoutMs ?? 30_000);
          await instance.shutdown();
        }),
      );
    })();
    this.#running.add(reloading);
    try {
      await reloading;
    } finally {
      this.#running.delete(reloading);
    }
  }

  /** Settles once every reload in flight has (close() waits for them to stop what they started). */
  settled(): Promise<unknown> {
    return Promise.all([...this.#running].map((r) => r.catch(() => undefined)));
  }
}
