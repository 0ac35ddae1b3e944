// Size budgets of plughost.v1 messages (proto/plughost/v1/plugin.proto),
// shared by the host, which refuses a request that would not fit, and the
// SDK, which replaces a result that would not fit. Both sides must agree, or
// one side sends a frame the other's gRPC limit rejects, and a rejected frame
// fails the whole Channel stream rather than one call. Kept free of imports:
// `plughost/sdk` loads this file too.

/**
 * Bytes kept free in a message for the fields around one payload: the Frame's
 * id and oneof tag, the CallRequest/Result tags and lengths, the Error of a
 * result. A payload's own framing needs under 32 bytes; the rest is slack,
 * so no side has to count each field exactly.
 */
export const FRAME_OVERHEAD = 256;

/**
 * What one item of a batch costs beyond its payload bytes. The larger of the
 * two directions sets it: a BatchRequest item is a tag and a length (at most
 * 1 + 5 bytes), but a BatchResponse item is a Result nested in the repeated
 * field, so a tag and a length for the Result and again for its payload (at
 * most 2 × (1 + 5) = 12 bytes). 16 covers both, so a batch the host packs and
 * the results the plugin sends back are budgeted alike.
 */
export const BATCH_ITEM_OVERHEAD = 16;

/** A host call's deadline when the plugin gives none (HostCall.timeout_ms 0). */
export const HOST_CALL_DEFAULT_TIMEOUT_MS = 30_000;

/** Host calls one plugin instance may have open at once; more are refused (PLUGHOST_HOST_CALLS_EXHAUSTED). */
export const MAX_OPEN_HOST_CALLS = 256;
