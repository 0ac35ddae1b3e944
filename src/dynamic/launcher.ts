// How an instance of the plugin is started, whenever it is (load, restart,
// reload): the current spec, the beforeStart check, and the latest
// configuration, so a restarted instance comes up configured, also with a
// configuration set while it was starting.
import { PluginCallError, PlughostUsageError } from '../errors.js';
import { PluginInstance, type InstanceSpec } from './instance.js';
import { resolveProgram } from './program.js';

export interface SpecChanges {
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export class Launcher {
  #spec: InstanceSpec;
  /** The latest configuration set (kept for every later start), and how many times one was set. */
  #config: Uint8Array | undefined;
  #generation = 0;
  /** Every instance this launcher started that has not exited, and which generation each one has. */
  readonly #live = new Map<PluginInstance, number>();
  /** Instances start() is still configuring, and when it is done: configure() leaves them to it and waits. */
  readonly #starting = new Map<PluginInstance, Promise<void>>();
  /** The configuration an instance last accepted: what a start falls back to when the latest is refused. */
  #accepted: Uint8Array | undefined;
  /** Refusals a starting instance met, by generation, for the configure() that set it. */
  readonly #refused = new Map<number, Error>();
  readonly #beforeStart: (() => void | Promise<void>) | undefined;
  readonly #afterStart: (() => void | Promise<void>) | undefined;

  constructor(spec: InstanceSpec, beforeStart: (() => void | Promise<void>) | undefined, afterStart?: () => void | Promise<void>) {
    this.#spec = spec;
    this.#beforeStart = beforeStart;
    this.#afterStart = afterStart;
  }

  get spec(): InstanceSpec {
    return this.#spec;
  }

  /** Starts an instance of `spec` (default: the current one) and gives it the latest configuration, even one set while it started. */
  async start(spec: InstanceSpec = this.#spec): Promise<PluginInstance> {
    await this.#beforeStart?.();
    const instance = await PluginInstance.start(spec);
    try {
      await this.#afterStart?.();
    } catch (err) {
      await instance.shutdown();
      throw err;
    }
    this.#live.set(instance, 0);
    instance.onExit(() => this.#live.delete(instance));
    let configured!: () => void;
    this.#starting.set(instance, new Promise<void>((resolve) => (configured = resolve)));
    try {
      // A configure() during this await does not send to a starting instance: the loop sees its generation.
      let fellBack = false;
      while (this.#config !== undefined && this.#live.get(instance) !== this.#generation) {
        const generation = this.#generation;
        const config = this.#config;
        if (!instance.configurable) throw configureUnsupported(instance);
        try {
          await instance.configure(config);
        } catch (err) {
          // The plugin refused it (not a crash): that configure() hears of it,
          // and this instance comes up with the last accepted one instead.
          if (!(err instanceof PluginCallError) || err.code === 'PLUGHOST_TRANSPORT_ERROR' || fellBack) throw err;
          this.#refused.set(generation, err);
          fellBack = true;
          if (this.#generation === generation) {
            this.#config = this.#accepted;
            this.#generation++;
          }
          continue;
        }
        this.#accepted = config;
        this.#live.set(instance, generation);
      }
    } catch (err) {
      await instance.shutdown();
      throw err;
    } finally {
      this.#starting.delete(instance);
      configured();
    }
    return instance;
  }

  /**
   * Hot configuration of every live instance, `running` and any still
   * starting. A refusal by the plugin rejects and the previous configuration
   * stays the one later starts get; an instance that crashes meanwhile rejects
   * too, but the configuration is kept, so its restart comes up with it.
   */
  async configure(running: readonly PluginInstance[], config: Uint8Array | object): Promise<void> {
    const bytes = config instanceof Uint8Array ? config : Buffer.from(JSON.stringify(config));
    const targets = new Set([...running, ...this.#live.keys()].filter((i) => i.alive));
    const refusing = [...targets].find((i) => !i.configurable);
    if (refusing !== undefined) throw configureUnsupported(refusing);
    const previous = this.#config;
    const generation = ++this.#generation;
    this.#config = bytes;
    const results = await Promise.allSettled(
      [...targets].map(async (instance) => {
        // Still starting: start() sees the new generation and sends the latest; wait for its answer.
        const starting = this.#starting.get(instance);
        if (starting !== undefined) {
          await starting;
          const refusal = this.#refused.get(generation);
          if (refusal !== undefined) throw refusal;
          return;
        }
        await instance.configure(bytes);
        this.#accepted = bytes;
        if ((this.#live.get(instance) ?? generation) < generation) this.#live.set(instance, generation);
      }),
    );
    this.#refused.delete(generation);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    // An instance stopped meanwhile (a reload) does not count.
    const failure = failures.find((e) => (e as { code?: string }).code !== 'PLUGHOST_PLUGIN_CLOSED');
    if (failure === undefined) return;
    if (failure instanceof PluginCallError && failure.code !== 'PLUGHOST_TRANSPORT_ERROR' && this.#generation === generation) this.#config = previous;
    throw failure;
  }

  /** The current spec with a new command or env (resolved by the same program rules as at load). */
  withChanges(changes: SpecChanges): InstanceSpec {
    const current = this.#spec;
    const launch = changes.command === undefined ? undefined : resolveProgram(changes.command, changes.env ?? current.env);
    return { ...current, command: launch?.command ?? current.command, env: launch?.env ?? changes.env ?? current.env };
  }

  /** From now on, instances start from `spec` (a reload succeeded). */
  adopt(spec: InstanceSpec): void {
    this.#spec = spec;
  }
}

/** configure() on a plugin that does not advertise the `configure` capability: refused before anything is sent. */
export function configureUnsupported(instance: Pick<PluginInstance, 'spec' | 'description'>): PlughostUsageError {
  const goPlugin = instance.description === null;
  return new PlughostUsageError('PLUGHOST_CONFIGURE_UNSUPPORTED', `plugin "${instance.spec.name}" does not take configuration`, {
    expected: "the 'configure' capability in the plugin's Describe answer",
    found: goPlugin ? 'a go-plugin plugin (no Describe)' : `capabilities [${instance.description!.capabilities.join(', ')}]`,
    hint: goPlugin ? 'Configure it through its own service (appService) or its environment' : 'Give the plugin a configure function (serve({ configure }))',
  });
}
