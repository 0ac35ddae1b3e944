// How an instance of the plugin is started, whenever it is (load, restart,
// reload): the current spec, the beforeStart check, and the configuration the
// running instances accepted, so a restarted instance comes up configured.
import { PluginInstance, type InstanceSpec } from './instance.js';
import { resolveProgram } from './program.js';

export interface SpecChanges {
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export class Launcher {
  #spec: InstanceSpec;
  #config: Uint8Array | undefined;
  readonly #beforeStart: (() => void | Promise<void>) | undefined;

  constructor(spec: InstanceSpec, beforeStart: (() => void | Promise<void>) | undefined) {
    this.#spec = spec;
    this.#beforeStart = beforeStart;
  }

  get spec(): InstanceSpec {
    return this.#spec;
  }

  /** Starts an instance of `spec` (default: the current one) and gives it the kept configuration. */
  async start(spec: InstanceSpec = this.#spec): Promise<PluginInstance> {
    await this.#beforeStart?.();
    const instance = await PluginInstance.start(spec);
    if (this.#config !== undefined) {
      try {
        await instance.configure(this.#config);
      } catch (err) {
        await instance.shutdown();
        throw err;
      }
    }
    return instance;
  }

  /** Hot configuration of the running instances; kept for later starts only once all of them accepted it. */
  async configure(running: readonly PluginInstance[], config: Uint8Array | object): Promise<void> {
    const bytes = config instanceof Uint8Array ? config : Buffer.from(JSON.stringify(config));
    await Promise.all(running.map((i) => i.configure(bytes)));
    this.#config = bytes;
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
