// A grpc-js name resolver over an EndpointSet: gRPC's own round_robin
// balances calls over the addresses it reports, and this resolver reports
// only the healthy ones (grpc-js has no client-side health checking).
// Targets are `plughost-endpoints:<key>`, one key per remote plugin.
import * as grpc from '@grpc/grpc-js';

import type { EndpointSet } from './endpoint-set.js';

const SCHEME = 'plughost-endpoints';
const sets = new Map<string, EndpointSet>();
let registered = false;
let nextKey = 0;

class EndpointSetResolver implements grpc.experimental.Resolver {
  readonly #set: EndpointSet | undefined;
  readonly #listener: grpc.experimental.ResolverListener;
  #unsubscribe: (() => void) | undefined;

  constructor(target: grpc.experimental.GrpcUri, listener: grpc.experimental.ResolverListener) {
    this.#set = sets.get(target.path);
    this.#listener = listener;
  }

  updateResolution(): void {
    const set = this.#set;
    if (set === undefined) {
      process.nextTick(() => this.#listener(grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: 'remote plugin closed' }), {}, null, ''));
      return;
    }
    // grpc-js asks again whenever an address fails; the set reports changes
    // itself, so a repeated ask only hurries the next health check (answering
    // each ask with the same list would spin with the load balancer).
    if (this.#unsubscribe !== undefined) {
      set.recheck();
      return;
    }
    this.#unsubscribe = set.subscribe(() => this.#report());
    process.nextTick(() => this.#report());
  }

  destroy(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path;
  }

  #report(): void {
    const healthy = this.#set?.healthy() ?? [];
    if (healthy.length === 0) {
      this.#listener(
        grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: `no healthy endpoint (${this.#set?.describe() ?? 'closed'})` }),
        {},
        null,
        'no healthy endpoint',
      );
      return;
    }
    this.#listener(grpc.experimental.statusOrFromValue(healthy.map((address) => ({ addresses: [address] }))), {}, null, '');
  }
}

/** Registers `set` and returns the gRPC target that resolves to its healthy endpoints; `release` when done. */
export function endpointTarget(set: EndpointSet): { target: string; release(): void } {
  if (!registered) {
    grpc.experimental.registerResolver(SCHEME, EndpointSetResolver);
    registered = true;
  }
  const key = `set${nextKey++}`;
  sets.set(key, set);
  return { target: `${SCHEME}:${key}`, release: () => void sets.delete(key) };
}
