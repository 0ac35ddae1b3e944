// Prometheus metrics of one host: loads, calls, restarts, liveness, calls in
// flight. Each HostMetrics owns its own prom-client Registry (never the
// global default one), so two hosts in one process never collide.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { CallCounter, CallDurationHistogram, CallStore, recordIn, CALL_DURATION_BUCKETS } from './call-metrics.js';
import type { PluginObserver } from './plugin-observer.js';

export { CALL_DURATION_BUCKETS };

/** 'native' or 'dynamic' for plughost's own plugins; any string is accepted. */
export type PluginKind = 'native' | 'dynamic' | (string & {});

/** Records one call: status is 'ok' or the error's code; seconds is its duration. */
export type CallRecorder = (method: string, status: string, seconds: number) => void;

export interface MetricsServerOptions {
  /** Default 0: an ephemeral port (read it from the returned url). */
  readonly port?: number;
  /** Default 127.0.0.1: metrics are not exposed beyond this machine unless you ask. */
  readonly host?: string;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:39123/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/** Upper bounds (seconds) of plugin_load_duration_seconds: 0.5 ms to 30 s. */
export const LOAD_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

export class HostMetrics {
  /** This host's registry; register your own metrics (or collectDefaultMetrics) on it if you like. */
  readonly registry: Registry;
  readonly #loads: Counter<'plugin' | 'kind' | 'status'>;
  readonly #loadDuration: Histogram<'plugin' | 'kind'>;
  readonly #restarts: Counter<'plugin'>;
  readonly #up: Gauge<'plugin' | 'kind'>;
  readonly #inflight = new Map<string, () => number>();
  readonly #hostCalls: Counter<'plugin' | 'service' | 'status'>;
  readonly #hostCallDuration: Histogram<'plugin' | 'service'>;
  readonly #calls = new CallStore();

  constructor() {
    const registry = new Registry();
    this.registry = registry;
    this.#loads = new Counter({
      name: 'plugin_load_total',
      help: 'Plugin load attempts, by plugin, kind (native or dynamic) and status',
      labelNames: ['plugin', 'kind', 'status'],
      registers: [registry],
    });
    this.#loadDuration = new Histogram({
      name: 'plugin_load_duration_seconds',
      help: 'Time to load a plugin in seconds (native: verify and dlopen; dynamic: spawn to ready)',
      labelNames: ['plugin', 'kind'],
      buckets: [...LOAD_DURATION_BUCKETS],
      registers: [registry],
    });
    new CallCounter(registry, this.#calls);
    new CallDurationHistogram(registry, this.#calls);
    this.#restarts = new Counter({
      name: 'plugin_restarts_total',
      help: 'Successful restarts of a dynamic plugin instance after a crash',
      labelNames: ['plugin'],
      registers: [registry],
    });
    this.#up = new Gauge({
      name: 'plugin_up',
      help: '1 while the plugin can serve calls, 0 when it is down (crashed, restarting, given up on or closed)',
      labelNames: ['plugin', 'kind'],
      registers: [registry],
    });
    this.#hostCalls = new Counter({
      name: 'plugin_host_call_total',
      help: "Calls a plugin made to the host's services, by plugin, service and status ('ok' or the error code)",
      labelNames: ['plugin', 'service', 'status'],
      registers: [registry],
    });
    this.#hostCallDuration = new Histogram({
      name: 'plugin_host_call_duration_seconds',
      help: "Time the host took to answer a plugin's host call, in seconds",
      labelNames: ['plugin', 'service'],
      buckets: [...LOAD_DURATION_BUCKETS],
      registers: [registry],
    });
    const inflight = this.#inflight;
    new Gauge({
      name: 'plugin_inflight',
      help: 'Calls in flight on the plugin, read at scrape time',
      labelNames: ['plugin'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [plugin, read] of inflight) {
          let value: number;
          try {
            value = read();
          } catch {
            continue; // a broken callback must not break the scrape
          }
          if (Number.isFinite(value)) this.set({ plugin }, value);
        }
      },
    });
  }

  recordLoad(plugin: string, kind: PluginKind, status: string, seconds: number): void {
    this.#loads.inc({ plugin, kind, status });
    if (seconds >= 0 && Number.isFinite(seconds)) this.#loadDuration.observe({ plugin, kind }, seconds);
  }

  /** One call: status is 'ok' or the error's code. Cheap (no prom-client work until a scrape). */
  recordCall(plugin: string, method: string, status: string, seconds: number): void {
    this.#calls.record(plugin, method, status, seconds);
  }

  /** A recorder bound to one plugin, for instrumentNative: one map lookup per call. */
  recorder(plugin: string): CallRecorder {
    const methods = this.#calls.methodsOf(plugin);
    return (method, status, seconds) => recordIn(methods, plugin, method, status, seconds);
  }

  /** An observer for DynamicPluginOptions.observer that feeds this plugin's calls, restarts and liveness here. */
  /** `kind`: "native" for an isolated native plugin (it runs as a subprocess but is a native plugin). */
  dynamicObserver(plugin: string, kind: PluginKind = 'dynamic'): PluginObserver {
    const record = this.recorder(plugin);
    return {
      onCall: record,
      onHostCall: (service, status, seconds) => this.recordHostCall(plugin, service, status, seconds),
      onRestart: () => this.recordRestart(plugin),
      onUp: (up) => this.setUp(plugin, kind, up),
    };
  }

  recordHostCall(plugin: string, service: string, status: string, seconds: number): void {
    this.#hostCalls.inc({ plugin, service, status });
    this.#hostCallDuration.observe({ plugin, service }, seconds);
  }

  recordRestart(plugin: string): void {
    this.#restarts.inc({ plugin });
  }

  setUp(plugin: string, kind: PluginKind, up: boolean): void {
    this.#up.set({ plugin, kind }, up ? 1 : 0);
  }

  /** plugin_inflight{plugin} is read from `read` at each scrape (replacing an earlier callback for the same plugin). */
  trackInflight(plugin: string, read: () => number): void {
    this.#inflight.set(plugin, read);
  }

  untrack(plugin: string): void {
    this.#inflight.delete(plugin);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** A small HTTP server: GET /metrics answers the exposition, anything else 404. */
  async serve(options: MetricsServerOptions = {}): Promise<MetricsServer> {
    const host = options.host ?? '127.0.0.1';
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
        return;
      }
      this.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${shown}:${address.port}/metrics`,
      close: () => {
        closing ??= new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        });
        return closing;
      },
    };
  }
}
