// The shapes a plugin author writes against (docs/protocol.md §3).

/** What every method call gets besides its payload. */
export interface CallContext {
  /** The method being called. */
  readonly method: string;
  /** Aborted when the host cancels the call (deadline, abort) or the connection ends. Its reason is a PluginError with code PLUGHOST_CANCELLED. */
  readonly signal: AbortSignal;
}

/** A UNARY method: one payload in, one payload out (or a thrown error). */
export type MethodHandler = (payload: Uint8Array, ctx: CallContext) => Uint8Array | Promise<Uint8Array>;

/** A whole-batch handler for a method in `methods`: exactly one result per payload, in order. */
export type BatchHandler = (payloads: Uint8Array[], ctx: CallContext) => Uint8Array[] | Promise<Uint8Array[]>;

/** A STREAM method: the host's messages in, the plugin's messages out, until each side ends. */
export type StreamHandler = (input: AsyncIterable<Uint8Array>, ctx: CallContext) => AsyncIterable<Uint8Array>;

export interface PluginDefinition {
  /** The plugin's name, as Describe reports it. */
  name: string;
  /** The plugin's version, as Describe reports it. */
  version: string;
  /** UNARY methods. */
  methods?: Record<string, MethodHandler>;
  /** Optional faster whole-batch handlers, keyed by a method in `methods`. Without one, a batch runs the method per payload. */
  batch?: Record<string, BatchHandler>;
  /** STREAM methods. */
  streams?: Record<string, StreamHandler>;
  /** Hot configuration (opaque bytes, by convention UTF-8 JSON). Throw to refuse it (and keep the old one). */
  configure?: (config: Uint8Array) => void | Promise<void>;
  /** The app protocol versions this plugin speaks; the highest one the host also offers is chosen. Default [1]. */
  appVersions?: number[];
  /** The magic cookie the host must set. Default PLUGHOST_COOKIE. */
  cookie?: { key: string; value: string };
  /**
   * Optional features to advertise (default: all). Without `channel` the host
   * makes one unary Call RPC per call; without `batch` it never batches;
   * with `flow: false` streams have no flow control (as before plughost had it).
   */
  advertise?: { channel?: boolean; batch?: boolean; flow?: boolean };
}

/** A plugin that is serving. */
export interface RunningPlugin {
  /** The Unix socket path the plugin listens on. */
  readonly address: string;
  /** The negotiated app protocol version. */
  readonly appVersion: number;
  /** Stops serving (open streams end) and removes the socket. Does not exit the process. */
  close(): Promise<void>;
}
