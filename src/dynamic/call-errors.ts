// The errors a call can end with, built in one place so that every path
// (unary RPC, Channel frame, batch item, waiting for an instance) reports the
// same code and words: callers and tests match on them.
import { PluginCallCancelledError, PluginCallError, PluginUnavailableError } from '../errors.js';

/** An error as the plugin sent it (Result.error, StreamEnd.error, ConfigureResponse.error). */
export interface WireErrorLike {
  readonly code?: string | null | undefined;
  readonly message?: string | null | undefined;
}

/** The caller's AbortSignal fired; its reason is kept as the cause. */
export function callAborted(signal: AbortSignal | undefined): PluginCallCancelledError {
  return new PluginCallCancelledError('PLUGHOST_CALL_ABORTED', 'call aborted by its signal', { cause: signal?.reason });
}

/** The plugin's own refusal of a call, with the plugin's code and message. */
export function pluginCallError(plugin: string, method: string, error: WireErrorLike): PluginCallError {
  return new PluginCallError(plugin, method, error.code ?? '', error.message ?? '');
}

/** The call's deadline passed before the plugin answered. */
export function deadlineExceeded(plugin: string, method: string, timeoutMs: number | undefined): PluginCallCancelledError {
  return new PluginCallCancelledError('PLUGHOST_DEADLINE_EXCEEDED', `"${plugin}.${method}" exceeded its ${timeoutMs} ms deadline`);
}

/** The call failed between host and plugin (not the plugin's refusal, not a crash). */
export function transportError(plugin: string, method: string, message: string): PluginCallError {
  return new PluginCallError(plugin, method, 'PLUGHOST_TRANSPORT_ERROR', message);
}

/** The plugin (or this instance of it) was closed by the host, so it takes no calls. */
export function pluginClosed(plugin: string, how: 'is closed' | 'was stopped' | 'was closed during reload'): PluginUnavailableError {
  return new PluginUnavailableError('PLUGHOST_PLUGIN_CLOSED', `plugin "${plugin}" ${how}`);
}
