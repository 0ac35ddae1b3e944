// What a caller passes with a dynamic call (and its default deadline), and the shape of a STREAM call:
// shared by local (call-channel.ts) and remote plugins.

export interface CallOptions {
  /** Abandons the call when aborted: it rejects with PLUGHOST_CALL_ABORTED and the plugin is told to cancel. */
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds from now; past it the call rejects with PLUGHOST_DEADLINE_EXCEEDED. */
  readonly timeoutMs?: number | undefined;
}

/**
 * A STREAM method call: write messages, read the plugin's messages, end.
 * Leaving `for await` over it early (break, return, throw) cancels the call.
 */
export interface DynamicStream extends AsyncIterable<Uint8Array> {
  /**
   * Sends one message, in order after the earlier ones. Resolves `true` once
   * it is sent, which waits for the plugin's credit (flow control) and for the
   * connection to drain; `false` if the call was over first (the message was
   * dropped; reading the stream tells why). Throws PLUGHOST_MESSAGE_TOO_LARGE
   * at once for a message over the limit.
   */
  write(message: Uint8Array): Promise<boolean>;
  /** Ends the host's side, after the messages written before; the plugin's side ends when it is done. */
  end(): Promise<boolean>;
  cancel(reason?: string): void;
}

/** `options` with a plugin's default deadline (`callTimeoutMs`) when the call gives none. */
export function withDefaultTimeout(options: CallOptions, callTimeoutMs: number | undefined): CallOptions {
  return options.timeoutMs === undefined && callTimeoutMs !== undefined ? { ...options, timeoutMs: callTimeoutMs } : options;
}
