// The object a host hands out for a loaded native plugin.
import { PlughostUsageError } from '../errors.js';
import type { NativeDescriptor } from './descriptor.js';
import type { LoadedModule, NativeFunction } from './load.js';

export type MethodTable = Record<string, NativeFunction>;

export interface NativePlugin<M extends MethodTable = MethodTable> {
  readonly kind: 'native';
  readonly name: string;
  readonly version: string;
  /** The path it was loaded from (the first path, for a file loaded through several). */
  readonly file: string;
  readonly descriptor: NativeDescriptor;
  readonly sha256: string;
  readonly gnuBuildId: string | null;
  /**
   * The plugin's own N-API functions, exactly as the module exported them:
   * calling one goes straight into the plugin, the host adds nothing.
   */
  readonly methods: Readonly<M>;
  readonly methodNames: readonly string[];
  /** One method by name; unlike `methods[name]`, an unknown name is a typed error. */
  method<K extends keyof M & string>(name: K): M[K];
}

export function createNativePlugin<M extends MethodTable>(module: LoadedModule): NativePlugin<M> {
  const { descriptor, sha256, binary } = module.checked;
  const methods = module.methods as Readonly<M>;
  const methodNames = Object.freeze(Object.keys(methods));
  return Object.freeze({
    kind: 'native' as const,
    name: descriptor.name,
    version: descriptor.version,
    file: module.file,
    descriptor,
    sha256,
    gnuBuildId: binary.gnuBuildId,
    methods,
    methodNames,
    method<K extends keyof M & string>(name: K): M[K] {
      const fn = methods[name];
      if (fn === undefined) {
        throw new PlughostUsageError('PLUGHOST_UNKNOWN_METHOD', `plugin "${descriptor.name}" has no method "${name}"`, {
          file: module.file,
          expected: `one of ${methodNames.join(', ') || '(no methods)'}`,
          found: name,
        });
      }
      return fn;
    },
  });
}
