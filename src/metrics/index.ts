// `plughost/metrics`: the host's Prometheus metrics (host.metrics() returns
// a HostMetrics) and timing for native calls made outside the host.
export { HostMetrics, CALL_DURATION_BUCKETS, LOAD_DURATION_BUCKETS } from './host-metrics.js';
export type { CallRecorder, MetricsServer, MetricsServerOptions, PluginKind } from './host-metrics.js';
export { instrumentNative } from './instrument-native.js';
