// The endpoints behind one remote plugin and which of them are healthy: each
// address is health-checked (grpc.health.v1) on its own small channel, a
// dns:/// name is resolved again now and then, and every change is told to
// the subscribers (the resolver, which hands the healthy ones to gRPC's
// round_robin). An endpoint that fails its check is taken out; one that
// answers SERVING again is put back.
import dns from 'node:dns';

import * as grpc from '@grpc/grpc-js';

import type { Logger } from '../logger.js';
import { formatAddress } from '../protocol/addresses.js';
import { HealthService, SERVING_STATUS } from '../protocol/services.js';
import type { Address, RemoteSpec } from './options.js';

const HealthClient = grpc.makeGenericClientConstructor(HealthService, 'Health');

interface Probe {
  readonly address: Address;
  readonly client: grpc.Client & Record<string, any>;
  healthy: boolean;
  /** Why it was last found unhealthy. */
  reason: string;
  checked: boolean;
}

const addressKey = (a: Address): string => formatAddress(a.host, a.port);

export class EndpointSet {
  readonly #spec: RemoteSpec;
  readonly #logger: Logger;
  readonly #probes = new Map<string, Probe>();
  readonly #listeners = new Set<() => void>();
  readonly #onHealth: (healthy: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #resolveTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #resolveError = '';
  #recheck: NodeJS.Timeout | undefined;

  constructor(spec: RemoteSpec, logger: Logger, onHealth: (healthy: number) => void) {
    this.#spec = spec;
    this.#logger = logger;
    this.#onHealth = onHealth;
  }

  /** Resolves the addresses and checks each once; then keeps checking in the background. */
  async start(): Promise<void> {
    await this.#resolve();
    await this.#checkAll();
    this.#timer = setInterval(() => void this.#checkAll(), this.#spec.healthIntervalMs);
    this.#timer.unref();
    if (this.#spec.source.kind === 'dns') {
      this.#resolveTimer = setInterval(() => void this.#resolve().then(() => this.#checkAll()), this.#spec.resolveIntervalMs);
      this.#resolveTimer.unref();
    }
  }

  healthy(): Address[] {
    return [...this.#probes.values()].filter((p) => p.healthy).map((p) => p.address);
  }

  /** How many are healthy, without building the list (read on every call's pick of a stream). */
  get healthyCount(): number {
    let n = 0;
    for (const probe of this.#probes.values()) if (probe.healthy) n++;
    return n;
  }

  /** Every endpoint, and whether it is in rotation. */
  list(): Array<{ address: string; healthy: boolean }> {
    return [...this.#probes.values()].map((p) => ({ address: addressKey(p.address), healthy: p.healthy }));
  }

  get size(): number {
    return this.#probes.size;
  }

  /** Each endpoint and why it is out, for an error message. */
  describe(): string {
    if (this.#probes.size === 0) return this.#resolveError || 'no addresses';
    return [...this.#probes.values()].map((p) => `${addressKey(p.address)}: ${p.healthy ? 'healthy' : p.reason || 'not checked yet'}`).join('; ');
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Something went wrong on a call: check again soon rather than at the next interval (at most every 100 ms). */
  recheck(): void {
    if (this.#closed || this.#recheck !== undefined) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = undefined;
      if (!this.#closed) void this.#checkAll();
    }, 100);
    this.#recheck.unref();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#resolveTimer);
    clearTimeout(this.#recheck);
    for (const probe of this.#probes.values()) probe.client.close();
    this.#probes.clear();
    this.#listeners.clear();
  }

  async #resolve(): Promise<void> {
    const source = this.#spec.source;
    let addresses: readonly Address[];
    if (source.kind === 'static') addresses = source.addresses;
    else {
      try {
        const found = await dns.promises.lookup(source.host, { all: true });
        addresses = found.map((f) => ({ host: f.address, port: source.port }));
        this.#resolveError = '';
      } catch (err) {
        // Keep what we had: a DNS hiccup must not take every endpoint out.
        this.#resolveError = `cannot resolve ${source.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        return;
      }
    }
    if (this.#closed) return;
    const keys = new Set(addresses.map(addressKey));
    let changed = false;
    for (const [key, probe] of this.#probes) {
      if (keys.has(key)) continue;
      probe.client.close();
      this.#probes.delete(key);
      changed = true;
    }
    for (const address of addresses) {
      const key = addressKey(address);
      if (this.#probes.has(key)) continue;
      const options: grpc.ChannelOptions = { 'grpc.enable_retries': 0 };
      if (this.#spec.serverName !== undefined) {
        options['grpc.ssl_target_name_override'] = this.#spec.serverName;
        options['grpc.default_authority'] = this.#spec.serverName;
      }
      const client = new HealthClient(key, this.#spec.credentials, options) as grpc.Client & Record<string, any>;
      this.#probes.set(key, { address, client, healthy: false, reason: '', checked: false });
    }
    if (changed) this.#changed();
  }

  async #checkAll(): Promise<void> {
    await Promise.all([...this.#probes.values()].map((probe) => this.#check(probe)));
  }

  async #check(probe: Probe): Promise<void> {
    const reason = await new Promise<string>((resolve) => {
      const deadline = Date.now() + Math.min(this.#spec.healthIntervalMs, 5_000);
      probe.client.Check({ service: '' }, { deadline }, (err: grpc.ServiceError | null, res?: { status?: number }) => {
        if (err) resolve(err.details || err.message);
        else resolve(res?.status === SERVING_STATUS.SERVING ? '' : `health status ${res?.status ?? 'UNKNOWN'}, not SERVING`);
      });
    });
    if (this.#closed || !this.#probes.has(addressKey(probe.address))) return;
    const healthy = reason === '';
    const was = probe.checked ? probe.healthy : undefined;
    probe.checked = true;
    probe.reason = reason;
    if (was === healthy) return;
    probe.healthy = healthy;
    if (was !== undefined || !healthy) {
      this.#logger.log(healthy ? 'info' : 'warn', healthy ? 'remote endpoint is healthy again; back in rotation' : 'remote endpoint is unhealthy; taken out of rotation', {
        plugin: this.#spec.name,
        endpoint: addressKey(probe.address),
        ...(healthy ? {} : { reason }),
      });
    }
    this.#changed();
  }

  #changed(): void {
    this.#onHealth(this.healthyCount);
    for (const listener of [...this.#listeners]) listener();
  }
}
