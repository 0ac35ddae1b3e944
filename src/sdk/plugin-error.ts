// Coded errors: a method throws PluginError to give the host a stable code.
import type { WireError } from '../protocol/services.js';

/** An error a method throws to fail with a specific code (raised by the host as PluginCallError with this code). */
export class PluginError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PluginError';
    this.code = code;
  }
}

export const CODES = Object.freeze({
  exception: 'PLUGHOST_PLUGIN_EXCEPTION',
  unknownMethod: 'PLUGHOST_UNKNOWN_METHOD',
  tooLarge: 'PLUGHOST_MESSAGE_TOO_LARGE',
  cancelled: 'PLUGHOST_CANCELLED',
  deadlineExceeded: 'PLUGHOST_DEADLINE_EXCEEDED',
  hostServiceNotFound: 'PLUGHOST_HOST_SERVICE_NOT_FOUND',
  hostServiceFailed: 'PLUGHOST_HOST_SERVICE_FAILED',
  hostCallsUnavailable: 'PLUGHOST_HOST_CALLS_UNAVAILABLE',
});

/** A thrown value as a wire Error: its own string `code`, else PLUGHOST_PLUGIN_EXCEPTION. The message is cut to `maxChars`. */
export function toWireError(err: unknown, maxChars: number): WireError {
  let code: string = CODES.exception;
  let message: string;
  try {
    if (typeof err === 'object' && err !== null) {
      const own = (err as { code?: unknown }).code;
      if (typeof own === 'string' && own !== '') code = own;
      const text = (err as { message?: unknown }).message;
      message = typeof text === 'string' ? text : String(err);
      // An uncoded TypeError etc.: keep its kind in the message.
      const name = (err as { name?: unknown }).name;
      if (code === CODES.exception && err instanceof Error && typeof name === 'string' && name !== 'Error') message = `${name}: ${message}`;
    } else {
      message = String(err);
    }
  } catch {
    message = 'an exception that could not be described';
  }
  if (code.length > 256) code = code.slice(0, 256);
  if (message.length > maxChars) message = `${message.slice(0, maxChars)}…`;
  return { code, message };
}
