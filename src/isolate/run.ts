// The isolation runner's work, importable without side effects: load and
// verify one native plugin exactly as in-process, then serve its portable
// methods (one Uint8Array in, one Uint8Array out) over the dynamic protocol.
// src/isolate/runner.ts is the executable entry that calls runIsolatedNative().
import fs from 'node:fs';
import path from 'node:path';

import { PlughostError, PlughostUsageError } from '../errors.js';
import { loadNativeModule } from '../native/load.js';
import { createNativePlugin } from '../native/plugin.js';
import type { LogLevel, Logger } from '../logger.js';
import type { NativePlugin } from '../native/plugin.js';
import { PluginError, serve } from '../sdk/index.js';
import type { MethodHandler, PluginDefinition, RunningPlugin } from '../sdk/index.js';
import { describeValue, isThenable } from '../util/values.js';

/** Exit status of a runner whose plugin was refused or failed to load (sysexits' EX_CONFIG). */
export const ISOLATE_REFUSED_EXIT_STATUS = 78;
/** Exit status of a runner started with wrong arguments (sysexits' EX_USAGE). */
export const ISOLATE_USAGE_EXIT_STATUS = 64;

/** hclog-style JSON lines on stderr: the host keeps their level and fields. stdout is the handshake's alone. */
export function stderrLogger(write: (line: string) => void = (line) => void process.stderr.write(line)): Logger {
  return {
    log(level: LogLevel, message: string, fields = {}) {
      write(`${JSON.stringify({ '@level': level, '@message': message, '@timestamp': new Date().toISOString(), ...fields })}\n`);
    },
  };
}

/**
 * The plugin's methods as SDK handlers: each calls the native function with
 * the payload. A result that is not a Uint8Array (or a promise of one) fails
 * the call with PLUGHOST_NOT_PORTABLE; an error the plugin throws keeps its
 * own `code` (the SDK sends it as is).
 */
export function portableMethods(plugin: NativePlugin): Record<string, MethodHandler> {
  const handlers: Record<string, MethodHandler> = {};
  for (const name of plugin.methodNames) {
    const fn = plugin.method(name);
    const portable = (value: unknown): Uint8Array => {
      if (value instanceof Uint8Array) return value;
      throw new PluginError(
        'PLUGHOST_NOT_PORTABLE',
        `native method "${name}" of "${plugin.name}" returned ${describeValue(value)}, not a Uint8Array: only bytes-in/bytes-out methods can run isolated`,
      );
    };
    handlers[name] = (payload) => {
      // `this` is the method table, as for `plugin.methods[name](...)` in-process.
      const value: unknown = fn.call(plugin.methods, payload);
      if (value instanceof Uint8Array) return value;
      return isThenable(value) ? Promise.resolve(value).then(portable) : portable(value);
    };
  }
  return handlers;
}

/** What serve() runs for a loaded native plugin: its descriptor's name and version, one method per native method. */
export function portableDefinition(plugin: NativePlugin): PluginDefinition {
  return { name: plugin.name, version: plugin.version, methods: portableMethods(plugin) };
}

function refusal(err: unknown): Record<string, unknown> {
  if (err instanceof PlughostError) return err.toJSON();
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    code: typeof e?.code === 'string' ? e.code : 'PLUGHOST_INIT_FAILED',
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}

/**
 * Runs the isolation runner: argv `<file> <buildId> [sha256]`. Loads and
 * verifies the plugin before the handshake; on refusal writes the error as
 * one JSON line to stderr and exits with ISOLATE_REFUSED_EXIT_STATUS (the
 * host then reports PLUGHOST_HANDSHAKE_EXITED with that line in its stderr
 * tail). Otherwise serves until the host says Shutdown or goes away.
 */
export async function runIsolatedNative(argv: readonly string[], logger: Logger = stderrLogger()): Promise<RunningPlugin> {
  const fail = (status: number, err: unknown): never => {
    const json = refusal(err);
    // One hclog line: the host logs it at error, and its code lands in the stderr tail of PLUGHOST_HANDSHAKE_EXITED.
    // Written synchronously: process.exit() must not drop it (stderr pipes are asynchronous on macOS).
    const line = `${JSON.stringify({ '@level': 'error', '@message': 'isolated native plugin not loaded', ...json })}\n`;
    try {
      fs.writeSync(2, line);
    } catch {
      process.stderr.write(line);
    }
    process.exit(status);
  };
  const [file, buildId, sha256, ...extra] = argv;
  if (file === undefined || file === '' || buildId === undefined || extra.length > 0) {
    fail(
      ISOLATE_USAGE_EXIT_STATUS,
      new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'the isolation runner takes <file> <buildId> [sha256]', {
        expected: '2 or 3 arguments',
        found: JSON.stringify(argv),
      }),
    );
  }
  let plugin: NativePlugin;
  try {
    // The same checks as the host's loadNative, against the release the host sent.
    const { module } = loadNativeModule(path.resolve(file!), { buildId: buildId!, buildIdOrigin: 'host', sha256 });
    plugin = createNativePlugin(module);
  } catch (err) {
    return fail(ISOLATE_REFUSED_EXIT_STATUS, err);
  }
  logger.log('debug', 'native plugin loaded for isolation', { file: plugin.file, name: plugin.name, version: plugin.version, sha256: plugin.sha256 });
  return serve(portableDefinition(plugin));
}
