// Every error plughost raises, in one place. Codes are stable and documented
// in docs/errors.md; messages may improve, codes may not change.

export type ErrorCode =
  // The file itself: plughost refuses it before reading any descriptor.
  | 'PLUGHOST_FILE_NOT_FOUND'
  | 'PLUGHOST_NOT_A_FILE'
  | 'PLUGHOST_FILE_TOO_LARGE'
  | 'PLUGHOST_FILE_TRUNCATED'
  | 'PLUGHOST_BAD_FORMAT'
  | 'PLUGHOST_WRONG_PLATFORM'
  | 'PLUGHOST_WRONG_WORD_SIZE'
  | 'PLUGHOST_WRONG_ARCH'
  | 'PLUGHOST_NOT_SHARED_OBJECT'
  | 'PLUGHOST_NO_DESCRIPTOR'
  | 'PLUGHOST_BAD_DESCRIPTOR'
  // The descriptor against this host.
  | 'PLUGHOST_API_MISMATCH'
  | 'PLUGHOST_BUILD_ID_MISMATCH'
  | 'PLUGHOST_NAPI_TOO_NEW'
  | 'PLUGHOST_CHECKSUM_MISMATCH'
  // Loading (plugin code has started to run).
  | 'PLUGHOST_DLOPEN_FAILED'
  | 'PLUGHOST_INIT_FAILED'
  | 'PLUGHOST_DESCRIPTOR_MISMATCH'
  // Using the API.
  | 'PLUGHOST_UNKNOWN_METHOD'
  | 'PLUGHOST_INVALID_ARGUMENT'
  // Building plugins.
  | 'PLUGHOST_NO_NODE_HEADERS'
  | 'PLUGHOST_BUILD_TOOL_MISSING'
  | 'PLUGHOST_BUILD_FAILED'
  // Dynamic plugins: starting one.
  | 'PLUGHOST_SPAWN_FAILED'
  | 'PLUGHOST_HANDSHAKE_TIMEOUT'
  | 'PLUGHOST_HANDSHAKE_EXITED'
  | 'PLUGHOST_HANDSHAKE_CORE_VERSION'
  | 'PLUGHOST_HANDSHAKE_APP_VERSION'
  | 'PLUGHOST_HANDSHAKE_PROTOCOL'
  | 'PLUGHOST_HANDSHAKE_BAD_ADDRESS'
  | 'PLUGHOST_CONNECT_FAILED'
  | 'PLUGHOST_UNHEALTHY'
  | 'PLUGHOST_DESCRIBE_FAILED'
  // Dynamic plugins: calls.
  | 'PLUGHOST_PLUGIN_CRASHED'
  | 'PLUGHOST_PLUGIN_UNAVAILABLE'
  | 'PLUGHOST_PLUGIN_CLOSED'
  | 'PLUGHOST_DEADLINE_EXCEEDED'
  | 'PLUGHOST_CALL_ABORTED'
  | 'PLUGHOST_STREAM_OVERFLOW'
  | 'PLUGHOST_MESSAGE_TOO_LARGE'
  | 'PLUGHOST_TRANSPORT_ERROR'
  | 'PLUGHOST_CONFIGURE_UNSUPPORTED'
  | 'PLUGHOST_APP_STREAM_UNSUPPORTED'
  | 'PLUGHOST_BROKER_UNSUPPORTED'
  // Host services (plugins calling back into the host).
  | 'PLUGHOST_HOST_SERVICE_NOT_FOUND'
  | 'PLUGHOST_HOST_SERVICE_FAILED'
  | 'PLUGHOST_HOST_CALLS_EXHAUSTED'
  | 'PLUGHOST_HOST_CALLS_UNAVAILABLE'
  | 'PLUGHOST_HANDSHAKE_TLS'
  // Remote plugins.
  | 'PLUGHOST_REMOTE_UNAVAILABLE'
  | 'PLUGHOST_CONNECTION_LOST'
  | 'PLUGHOST_TLS_CONFIG'
  // Manifests and the registry.
  | 'PLUGHOST_MANIFEST_INVALID'
  | 'PLUGHOST_MANIFEST_MISMATCH'
  | 'PLUGHOST_WRONG_TARGET'
  | 'PLUGHOST_UNKNOWN_PLUGIN'
  | 'PLUGHOST_NOT_PORTABLE'
  | 'PLUGHOST_BUNDLE_UNSAFE'
  | 'PLUGHOST_DEPLOY_INCOMPLETE'
  | 'PLUGHOST_RESOURCE_LIMIT'
  | 'PLUGHOST_NO_PREBUILD';

export interface ErrorDetails {
  /** The plugin file the error is about. */
  file?: string;
  /** What the host required. */
  expected?: string;
  /** What the file (or plugin) had. */
  found?: string;
  /** A next step for the reader. */
  hint?: string;
  cause?: unknown;
}

/** Base class of every error plughost throws; `code` is stable. */
export class PlughostError extends Error {
  /** One of ErrorCode; for PluginCallError, the plugin's own code. */
  readonly code: ErrorCode | (string & {});
  readonly file: string | undefined;
  readonly expected: string | undefined;
  readonly found: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode | (string & {}), message: string, details: ErrorDetails = {}) {
    super(composeMessage(message, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.file = details.file;
    this.expected = details.expected;
    this.found = details.found;
    this.hint = details.hint;
  }

  /** A plain object for `--json` output and structured logs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      file: this.file,
      expected: this.expected,
      found: this.found,
      hint: this.hint,
    };
  }
}

/** The file is not a loadable plugin binary for this machine. */
export class PluginFormatError extends PlughostError {}

/** The plugin was built for another host: API, build ID or Node-API version. */
export class PluginCompatibilityError extends PlughostError {}

/** The file is not the one that was pinned or verified. */
export class PluginIntegrityError extends PlughostError {}

/** The dynamic loader or the plugin's own initialisation failed. */
export class PluginLoadError extends PlughostError {}

/** The API was called wrongly. */
export class PlughostUsageError extends PlughostError {}

/** A plugin build (node-gyp, cmake-js) could not run or failed. */
export class BuildError extends PlughostError {}

/** A dynamic plugin could not be started: spawn, handshake, connection, health or describe. */
export class PluginStartError extends PlughostError {}

/** The dynamic plugin's handshake line was refused. */
export class PluginHandshakeError extends PluginStartError {}

/** The plugin process died (or its connection broke) while this call was in flight. */
export class PluginCrashedError extends PlughostError {}

/** The plugin was killed for exceeding a resource limit it was started with (a crash with a known cause). */
export class PluginResourceLimitError extends PluginCrashedError {
  readonly resource: 'memory' | 'cpu';
  readonly limit: number;
  constructor(resource: 'memory' | 'cpu', limit: number, message: string, details: ErrorDetails = {}) {
    super('PLUGHOST_RESOURCE_LIMIT', message, details);
    this.resource = resource;
    this.limit = limit;
  }
}

/** The plugin is not serving: it crashed too often and was given up on, or it was closed. */
export class PluginUnavailableError extends PlughostError {}

/** The call was given up on by the host: its deadline passed or its signal aborted. */
export class PluginCallCancelledError extends PlughostError {}

/**
 * Thrown by a host service to fail a plugin's host call with your own code
 * and message, which the plugin receives as they are. Any other error a
 * service throws reaches the plugin only as PLUGHOST_HOST_SERVICE_FAILED
 * (its message stays in the host's log, so host details do not leak).
 */
export class HostServiceError extends PlughostError {
  constructor(code: string, message: string) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new TypeError(`HostServiceError: code ${JSON.stringify(code)} must be UPPER_SNAKE_CASE`);
    super(code, message);
  }
}

/**
 * The plugin's method returned an error. `code` is the plugin's own code
 * (e.g. PLUGHOST_INVALID_ARGUMENT); the plugin keeps running.
 */
export class PluginCallError extends PlughostError {
  readonly plugin: string;
  readonly method: string;
  constructor(plugin: string, method: string, code: string, message: string) {
    super(code || 'PLUGHOST_PLUGIN_EXCEPTION', `plugin "${plugin}" method "${method}" failed: ${message}`);
    this.plugin = plugin;
    this.method = method;
  }
}

function composeMessage(message: string, d: ErrorDetails): string {
  let text = d.file === undefined ? message : `${d.file}: ${message}`;
  if (d.expected !== undefined || d.found !== undefined) {
    const parts = [d.expected === undefined ? '' : `expected ${d.expected}`, d.found === undefined ? '' : `found ${d.found}`];
    text += ` (${parts.filter((p) => p !== '').join(', ')})`;
  }
  if (d.hint !== undefined) text += `. ${d.hint}`;
  return text;
}
