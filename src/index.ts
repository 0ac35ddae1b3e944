// plughost's public API. Everything not exported here is internal.
export { createHost } from './host.js';
export type { Host, HostOptions, HostStats, LoadEvent, LoadNativeOptions, LoadStatus } from './host.js';
export type { MethodTable, NativePlugin } from './native/plugin.js';
export type { Plugin } from './registry/plugin.js';
export type { LoadOptions, PluginListing } from './registry/registry.js';
export type { Manifest, PluginEntry, NativeEntry, DynamicEntry, RunOptions } from './manifest/schema.js';
export { readManifest, parseManifest } from './manifest/load.js';
export { isolatedNativeOptions } from './isolate/index.js';
export { packBundle } from './bundle/pack.js';
export { verifyDeploy } from './bundle/verify.js';
export { scaffold } from './scaffold/index.js';
export { HostMetrics, CALL_DURATION_BUCKETS, LOAD_DURATION_BUCKETS } from './metrics/host-metrics.js';
export type { CallRecorder, MetricsServer, MetricsServerOptions, PluginKind } from './metrics/host-metrics.js';
export { instrumentNative } from './native/instrument.js';
export type { DynamicPluginObserver } from './dynamic/dynamic-plugin.js';
export { verifyManifest } from './manifest/verify-entry.js';
export type { VerifyRow } from './manifest/verify-entry.js';
export type { ApiVersion, NativeDescriptor } from './native/descriptor.js';
export { HOST_API_VERSION } from './native/descriptor.js';
export { inspectNative, verifyNative } from './native/inspect.js';
export type { NativeInspection, NativeVerification } from './native/inspect.js';
export { resolveBuildId } from './build/build-id.js';
export { loadPluginPackage, resolvePluginPackage, prebuildPackage, prebuildOverrideVariable, NoPrebuildError } from './prebuild/index.js';
export type {
  LoadPluginPackageOptions,
  PrebuildCandidate,
  PrebuildOptions,
  PrebuildResolution,
  PrebuildResult,
  PrebuildTuple,
  ResolvePluginPackageOptions,
} from './prebuild/index.js';
export type { DynamicPlugin, DynamicPluginOptions, DynamicPluginStats, RestartPolicy, BatchItem, AppService } from './dynamic/dynamic-plugin.js';
export type { CallOptions, DynamicStream } from './dynamic/call-channel.js';
export type { ResourceLimits } from './dynamic/exec-helper.js';
export type { MethodDescription } from './dynamic/instance.js';
export type { Logger, LevelLogger, LoggerLike, LogLevel, LogFields } from './logger.js';
export { createJsonLogger, silentLogger } from './logger.js';
export { PLUGHOST_COOKIE } from './protocol/handshake.js';
export {
  PluginCallCancelledError,
  PluginCallError,
  PluginCrashedError,
  PluginResourceLimitError,
  PluginHandshakeError,
  PluginStartError,
  PluginUnavailableError,
  BuildError,
  PlughostError,
  PluginCompatibilityError,
  PluginFormatError,
  PluginIntegrityError,
  PluginLoadError,
  PlughostUsageError,
} from './errors.js';
export type { ErrorCode, ErrorDetails } from './errors.js';
