// The shapes a plugin author writes against (docs/protocol.md §3).

/** What every method call gets besides its payload. */
export interface CallContext {
  /** The method being called. */
  readonly method: string;
  /** Aborted when the host cancels the call (deadline, abort) or the connection ends. Its reason is a PluginError with code PLUGHOST_CANCELLED. */
  readonly signal: AbortSignal;
  /**
   * The host's services, called over the Channel this call came on. A host
   * call's `signal` defaults to this call's `signal` (an explicit one is
   * combined with it), so cancelling the method cancels its host calls. On
   * the unary Call RPC there is no Channel: `call` fails with
   * PLUGHOST_HOST_CALLS_UNAVAILABLE.
   */
  readonly host: HostServices;
}

/** Options of one host call. */
export interface HostCallOptions {
  /** Milliseconds to wait for the answer (default 30000). Sent to the host, and kept locally too: PLUGHOST_DEADLINE_EXCEEDED. */
  timeoutMs?: number;
  /** Aborting it gives the call up (the host is told): PLUGHOST_CANCELLED. */
  signal?: AbortSignal;
}

/**
 * Services the host offers this plugin (docs/protocol.md, "Host calls").
 * Failures reject with a PluginError whose `code` is the host's answer
 * (e.g. PLUGHOST_HOST_SERVICE_FAILED, or the service's own code) or one of
 * the SDK's: PLUGHOST_HOST_SERVICE_NOT_FOUND (not in `services`, nothing is
 * sent), PLUGHOST_HOST_CALLS_UNAVAILABLE (no Channel to carry it, or the
 * Channel ended), PLUGHOST_MESSAGE_TOO_LARGE (nothing is sent),
 * PLUGHOST_DEADLINE_EXCEEDED, PLUGHOST_CANCELLED.
 */
export interface HostServices {
  /**
   * The names the host listed in its last Describe (empty before one, or
   * with a host that offers none). A server-mode plugin that several hosts
   * reach sees the list of the one that described it last.
   */
  readonly services: readonly string[];
  /** Calls host service `service` with `payload` (a string is sent as UTF-8) and resolves with its answer. */
  call(service: string, payload: Uint8Array | string, options?: HostCallOptions): Promise<Uint8Array>;
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
  /**
   * Names in `methods` that are safe to run twice (Describe reports them as
   * MethodInfo.idempotent): a host may retry them on another endpoint when a
   * connection to a remote plugin is lost mid-call.
   */
  idempotent?: string[];
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
  /**
   * Where the plugin listens: the Unix socket path when a host started it;
   * `host:port` (the bound port, `[v6]:port` for IPv6) in server mode (PLUGHOST_LISTEN).
   */
  readonly address: string;
  /** The app protocol version: negotiated with the host, or in server mode the highest of `appVersions`. */
  readonly appVersion: number;
  /**
   * The host's services for calls made outside a method (at start-up, from a
   * timer): they go over the most recently opened Channel that is still
   * open; with none, PLUGHOST_HOST_CALLS_UNAVAILABLE.
   */
  readonly host: HostServices;
  /** Stops serving (open streams end) and removes the socket. Does not exit the process. */
  close(): Promise<void>;
}
