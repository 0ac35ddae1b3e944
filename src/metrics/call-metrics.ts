// Per-call accounting for plugin_call_total and plugin_call_duration_seconds.
//
// A call into a native plugin costs ~35 ns; prom-client's own observe() and
// inc() cost ~180 ns and ~130 ns each (label validation and a label-hash
// string per call). So calls are counted here, in plain numbers per
// (plugin, method) series, and turned into prom-client samples only when the
// registry is scraped: the two metrics below are ordinary prom-client metrics
// whose get() reads this store instead of prom-client's per-call state.
import { Counter, Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

/** Upper bounds (seconds) of plugin_call_duration_seconds: 1-2.5-5 per decade, 1 µs to 10 s. */
export const CALL_DURATION_BUCKETS: readonly number[] = Object.freeze([
  1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const BOUNDS = CALL_DURATION_BUCKETS;
const BOUND_COUNT = BOUNDS.length;

/** One (plugin, method) series: counts by status, and the duration histogram. */
export class CallSeries {
  readonly plugin: string;
  readonly method: string;
  /** Calls that ended `ok` (kept apart from the map: the common case). */
  ok = 0;
  /** Calls that failed, by status (the error code). */
  readonly failed = new Map<string, number>();
  /** Observations per bucket, not cumulative; the last slot is above the largest bound. */
  readonly buckets = new Float64Array(BOUND_COUNT + 1);
  sum = 0;
  count = 0;

  constructor(plugin: string, method: string) {
    this.plugin = plugin;
    this.method = method;
  }

  record(status: string, seconds: number): void {
    if (status === 'ok') this.ok++;
    else this.failed.set(status, (this.failed.get(status) ?? 0) + 1);
    // NaN and negative durations are counted as calls but not observed.
    if (!(seconds >= 0)) return;
    let i = 0;
    while (i < BOUND_COUNT && seconds > BOUNDS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** Every call series of one HostMetrics, by plugin then method. */
export class CallStore {
  readonly #byPlugin = new Map<string, Map<string, CallSeries>>();

  /** The methods of one plugin; kept by recorders so a call costs one map lookup. */
  methodsOf(plugin: string): Map<string, CallSeries> {
    let methods = this.#byPlugin.get(plugin);
    if (methods === undefined) {
      methods = new Map();
      this.#byPlugin.set(plugin, methods);
    }
    return methods;
  }

  record(plugin: string, method: string, status: string, seconds: number): void {
    recordIn(this.methodsOf(plugin), plugin, method, status, seconds);
  }

  *series(): IterableIterator<CallSeries> {
    for (const methods of this.#byPlugin.values()) yield* methods.values();
  }

  clear(): void {
    // Recorders hold the per-plugin maps: empty them rather than drop them.
    for (const methods of this.#byPlugin.values()) methods.clear();
  }
}

export function recordIn(methods: Map<string, CallSeries>, plugin: string, method: string, status: string, seconds: number): void {
  let series = methods.get(method);
  if (series === undefined) {
    series = new CallSeries(plugin, method);
    methods.set(method, series);
  }
  series.record(status, seconds);
}

type CallLabel = 'plugin' | 'method' | 'status';
type DurationLabel = 'plugin' | 'method' | 'le';

// prom-client's .d.ts declares MetricObject.type as a numeric enum that its
// runtime neither exports nor uses (it writes 'counter', 'histogram'), and a
// `collect` member its own get() does not return: the one cast is here.
function metricObject<T extends string>(
  metric: { name: string; help: string; aggregator: string },
  type: 'counter' | 'histogram',
  values: MetricValueWithName<T>[],
): MetricObjectWithValues<MetricValueWithName<T>> {
  return { name: metric.name, help: metric.help, type, aggregator: metric.aggregator, values } as unknown as MetricObjectWithValues<
    MetricValueWithName<T>
  >;
}

interface MetricFields {
  name: string;
  help: string;
  aggregator: string;
}

/** plugin_call_total, read from a CallStore at scrape time. */
export class CallCounter extends Counter<CallLabel> {
  // Set after super(): prom-client's constructor calls reset() before it exists.
  declare store: CallStore | undefined;

  constructor(registry: Registry, store: CallStore) {
    super({
      name: 'plugin_call_total',
      help: 'Plugin calls, by plugin, method and status (ok, or the error code)',
      labelNames: ['plugin', 'method', 'status'],
      registers: [registry],
    });
    this.store = store;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<CallLabel>>> {
    const values: MetricValueWithName<CallLabel>[] = [];
    for (const s of this.store?.series() ?? []) {
      if (s.ok > 0) values.push({ labels: { plugin: s.plugin, method: s.method, status: 'ok' }, value: s.ok });
      for (const [status, n] of s.failed) values.push({ labels: { plugin: s.plugin, method: s.method, status }, value: n });
    }
    return metricObject(this as unknown as MetricFields, 'counter', values);
  }

  /** registry.resetMetrics() lands here: forget every call (both call metrics share the store). */
  override reset(): void {
    super.reset();
    this.store?.clear();
  }
}

/** plugin_call_duration_seconds, read from a CallStore at scrape time. */
export class CallDurationHistogram extends Histogram<DurationLabel> {
  declare store: CallStore | undefined;

  constructor(registry: Registry, store: CallStore) {
    super({
      name: 'plugin_call_duration_seconds',
      help: 'Duration of plugin calls in seconds, by plugin and method (failed calls included)',
      labelNames: ['plugin', 'method'] as DurationLabel[],
      buckets: [...BOUNDS],
      registers: [registry],
    });
    this.store = store;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<DurationLabel>>> {
    const name = (this as unknown as MetricFields).name;
    const values: MetricValueWithName<DurationLabel>[] = [];
    for (const s of this.store?.series() ?? []) {
      if (s.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < BOUND_COUNT; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { plugin: s.plugin, method: s.method, le: BOUNDS[i]! }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { plugin: s.plugin, method: s.method, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: { plugin: s.plugin, method: s.method }, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: { plugin: s.plugin, method: s.method }, value: s.count, metricName: `${name}_count` });
    }
    return metricObject(this as unknown as MetricFields, 'histogram', values);
  }

  /** The registry prefers this to get() when writing the text format. */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<DurationLabel>>> {
    return this.get();
  }

  override reset(): void {
    super.reset();
    this.store?.clear();
  }
}
