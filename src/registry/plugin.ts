// One face for a plugin of either kind: portable methods (bytes in, bytes
// out) through `call` and `batch`; the raw native functions when in-process.
import { PluginCallError, PlughostError, PlughostUsageError } from '../errors.js';
import type { CallOptions } from '../dynamic/call-channel.js';
import type { BatchItem, DynamicPlugin } from '../dynamic/dynamic-plugin.js';
import type { NativePlugin } from '../native/plugin.js';

interface PluginCore {
  readonly name: string;
  /** What the file is: a compiled N-API plugin, or a program speaking the dynamic protocol. */
  readonly kind: 'native' | 'dynamic';
  /** Where it runs: in this process, or in a supervised subprocess. Narrow on this for the extras. */
  readonly runs: 'in-process' | 'subprocess';
  /** A native plugin running in a subprocess (crash-contained). */
  readonly isolated: boolean;
  readonly version: string;
  readonly methods: readonly string[];
  /** A portable method: one payload in, one out. Method errors reject with PluginCallError on every path. */
  call(method: string, payload: Uint8Array, options?: CallOptions): Promise<Uint8Array>;
  /** Many payloads; each item is its result or its PluginCallError. */
  batch(method: string, payloads: readonly Uint8Array[], options?: CallOptions): Promise<BatchItem[]>;
}

/** A native plugin loaded into this process. */
export interface InProcessPlugin extends PluginCore {
  readonly kind: 'native';
  readonly runs: 'in-process';
  readonly isolated: false;
  /** The plugin's own N-API functions and its verified descriptor (no host code on a call). */
  readonly native: NativePlugin;
  readonly dynamic?: undefined;
}

/** A dynamic plugin, or an isolated native one: a supervised process pool. */
export interface SubprocessPlugin extends PluginCore {
  readonly runs: 'subprocess';
  readonly native?: undefined;
  /** The process pool: stream, configure, reload, stats, app services. */
  readonly dynamic: DynamicPlugin;
}

/**
 * One shape for every plugin, whatever path it runs on. `call` and `batch`
 * work on all; `plugin.runs` says which extras it has:
 * `if (plugin.runs === 'in-process') plugin.native.methods.add(...)`.
 */
export type Plugin = InProcessPlugin | SubprocessPlugin;

/** `timed`: instrumented wrappers to call instead of the raw functions (the raw ones stay on `native`). */
export function fromNative(plugin: NativePlugin, timed?: Readonly<Record<string, (...args: any[]) => any>>): InProcessPlugin {
  const invoke = (method: string, payload: Uint8Array): Uint8Array => {
    const fn = timed?.[method] ?? plugin.method(method);
    let out: unknown;
    try {
      out = fn(payload);
    } catch (err) {
      if (err instanceof PlughostError) throw err;
      const e = err as { code?: unknown; message?: string };
      throw new PluginCallError(plugin.name, method, typeof e.code === 'string' ? e.code : 'PLUGHOST_PLUGIN_EXCEPTION', e.message ?? String(err));
    }
    if (!(out instanceof Uint8Array)) {
      throw new PlughostUsageError('PLUGHOST_NOT_PORTABLE', `method "${method}" of plugin "${plugin.name}" is not portable (bytes in, bytes out)`, {
        expected: 'a Uint8Array result',
        found: out === null ? 'null' : typeof out,
        hint: `Call it directly through plugin.native.methods.${method}`,
      });
    }
    return out;
  };
  return {
    name: plugin.name,
    kind: 'native',
    runs: 'in-process',
    isolated: false,
    version: plugin.version,
    methods: plugin.methodNames,
    call: async (method, payload) => invoke(method, payload),
    batch: async (method, payloads) =>
      payloads.map((p) => {
        try {
          return invoke(method, p);
        } catch (err) {
          if (err instanceof PluginCallError) return err;
          throw err;
        }
      }),
    native: plugin,
  };
}

/** `name`: the name it was loaded under (the manifest's), not the one the plugin reports. */
export function fromDynamic(plugin: DynamicPlugin, isolated: boolean, name: string): SubprocessPlugin {
  return {
    name,
    kind: isolated ? 'native' : 'dynamic',
    runs: 'subprocess',
    isolated,
    get version() {
      return plugin.version;
    },
    get methods() {
      return plugin.methods.map((m) => m.name);
    },
    call: (method, payload, options) => plugin.call(method, payload, options),
    batch: (method, payloads, options) => plugin.batch(method, payloads, options),
    dynamic: plugin,
  };
}
