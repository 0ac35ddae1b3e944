// Every error plughost raises, in one place. Codes are stable and documented
// in docs/errors.md; messages may improve, codes may not change.

export type ErrorCode =
  // The file itself: plughost refuses it before reading any descriptor.
  | 'PLUGHOST_FILE_NOT_FOUND'
  | 'PLUGHOST_NOT_A_FILE'
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
  | 'PLUGHOST_BUILD_FAILED';

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
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly expected: string | undefined;
  readonly found: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
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

function composeMessage(message: string, d: ErrorDetails): string {
  let text = d.file === undefined ? message : `${d.file}: ${message}`;
  if (d.expected !== undefined || d.found !== undefined) {
    text += ` (expected ${d.expected ?? 'n/a'}, found ${d.found ?? 'n/a'})`;
  }
  if (d.hint !== undefined) text += `. ${d.hint}`;
  return text;
}
