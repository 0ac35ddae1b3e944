// Host calls as the plugin's code sees them (docs/protocol.md, "Host calls"):
// which services the host offers (its last Describe), which Channel carries a
// call, and the checks made before anything is sent. The frames themselves are
// host-line.ts's.
import { FRAME_OVERHEAD, HOST_CALL_DEFAULT_TIMEOUT_MS } from '../protocol/limits.js';
import type { HostLine } from './host-line.js';
import { CODES, PluginError } from './plugin-error.js';
import type { CallContext, HostCallOptions, HostServices } from './types.js';

/** The Channel a host call goes over, or why there is none. */
export type Route = () => HostLine | string;

/** setTimeout's largest delay (about 24.8 days); larger ones fire at once. */
const MAX_TIMEOUT_MS = 0x7fff_ffff;
const NONE: readonly string[] = Object.freeze([]);

function timeoutOf(options: HostCallOptions | undefined): number {
  const timeout = options?.timeoutMs;
  if (timeout === undefined) return HOST_CALL_DEFAULT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !(timeout > 0)) throw new TypeError(`host.call(): timeoutMs must be a positive number, got ${String(timeout)}`);
  return Math.min(Math.ceil(timeout), MAX_TIMEOUT_MS);
}

function payloadOf(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  throw new TypeError('host.call(): payload must be a Uint8Array or a string');
}

export class HostRegistry {
  readonly #maxMessageBytes: number;
  /** Channels in the order they opened; the plugin-wide `host` uses the newest. */
  readonly #lines: HostLine[] = [];
  #services: readonly string[] = NONE;
  /** The plugin-wide HostServices (RunningPlugin.host). */
  readonly plugin: HostServices;

  /** Server mode: many hosts describe it, so the last one's list says nothing of another's; each host answers for itself. */
  readonly #shared: boolean;

  constructor(maxMessageBytes: number, shared = false) {
    this.#maxMessageBytes = maxMessageBytes;
    this.#shared = shared;
    this.plugin = this.scoped(() => this.#lines.at(-1) ?? 'no host has a Channel open to this plugin');
  }

  /** DescribeRequest.host_services: what the host offers from now on. */
  described(services: unknown): void {
    const names = Array.isArray(services) ? services.filter((s): s is string => typeof s === 'string' && s !== '') : [];
    this.#services = Object.freeze([...new Set(names)]);
  }

  attach(line: HostLine): void {
    this.#lines.push(line);
  }

  detach(line: HostLine): void {
    const i = this.#lines.indexOf(line);
    if (i >= 0) this.#lines.splice(i, 1);
  }

  /** A method's `ctx.host`: over `route`, cancelled with the method. */
  forCall(route: Route, ctx: CallContext): HostServices {
    return this.scoped(route, () => ctx.signal);
  }

  /** `ctx.host` of a method reached by the unary Call (or Batch) RPC: no Channel carries its host calls. */
  readonly forUnary = (ctx: CallContext): HostServices =>
    this.forCall(() => `"${ctx.method}" was called over a unary RPC, which has no Channel to carry host calls`, ctx);

  /** HostServices over `route`; `inherited` (a method's signal) is combined with each call's own. */
  scoped(route: Route, inherited?: () => AbortSignal): HostServices {
    // The class's private state, reached from the object below.
    const services = (): readonly string[] => this.#services;
    const call = (service: string, payload: Uint8Array | string, options?: HostCallOptions): Promise<Uint8Array> => {
      try {
        return this.#call(route, service, payload, options, inherited?.());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    };
    return {
      get services() {
        return services();
      },
      call,
    };
  }

  #call(route: Route, service: string, payload: unknown, options: HostCallOptions | undefined, inherited: AbortSignal | undefined): Promise<Uint8Array> {
    if (typeof service !== 'string' || service === '') throw new TypeError('host.call(): service must be a non-empty string');
    const bytes = payloadOf(payload);
    const timeoutMs = timeoutOf(options);
    const own = options?.signal;
    if (own !== undefined && !(own instanceof AbortSignal)) throw new TypeError('host.call(): signal must be an AbortSignal');
    const signals = [inherited, own].filter((s): s is AbortSignal => s !== undefined);
    const aborted = signals.find((s) => s.aborted);
    if (aborted !== undefined) {
      const reason = aborted.reason as unknown;
      const why = reason instanceof Error ? reason.message : String(reason);
      throw new PluginError(CODES.cancelled, `host call to "${service}" was cancelled before it started: ${why}`, { cause: reason });
    }
    const line = route();
    if (typeof line === 'string' || line.closed) {
      throw new PluginError(CODES.hostCallsUnavailable, `host call to "${service}" cannot be made: ${typeof line === 'string' ? line : 'its Channel has ended'}`);
    }
    if (!this.#shared && !this.#services.includes(service)) {
      const offered = this.#services.length === 0 ? 'the host offers none' : `the host offers ${this.#services.map((s) => JSON.stringify(s)).join(', ')}`;
      throw new PluginError(CODES.hostServiceNotFound, `no host service "${service}" for this plugin (${offered})`);
    }
    const limit = this.#maxMessageBytes - FRAME_OVERHEAD - Buffer.byteLength(service);
    if (bytes.length > limit) {
      throw new PluginError(
        CODES.tooLarge,
        `host call to "${service}": payload is ${bytes.length} bytes, over the ${Math.max(0, limit)}-byte limit (max message ${this.#maxMessageBytes} bytes)`,
      );
    }
    return line.call(service, bytes, timeoutMs, signals);
  }
}
