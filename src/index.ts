// plughost's root entry: the host, the plugin types and the errors. Tooling
// is `plughost/tools`, metrics `plughost/metrics`, the plugin SDK `plughost/sdk`.
export { createHost } from './host.js';
export type {
  Host,
  HostOptions,
  HostStats,
  LoadEvent,
  LoadNativeOptions,
  LoadPackageOptions,
  LoadStatus,
  PackageLoad,
} from './host.js';
export type { InProcessPlugin, Plugin, SubprocessPlugin } from './registry/plugin.js';
export type { LoadOptions, PluginListing } from './registry/registry.js';
export type { MethodTable, NativePlugin } from './native/plugin.js';
export type { ApiVersion, NativeDescriptor } from './native/descriptor.js';
export type {
  AppService,
  BatchItem,
  DynamicPlugin,
  DynamicPluginObserver,
  DynamicPluginOptions,
  DynamicPluginStats,
  RestartPolicy,
} from './dynamic/dynamic-plugin.js';
export type { CallOptions, DynamicStream } from './dynamic/call-channel.js';
export type { AppServiceCallOptions } from './dynamic/app-services.js';
export type { RemotePlugin, RemotePluginOptions, RemotePluginStats, RemoteTls } from './remote/remote-plugin.js';
export type { ResourceLimits } from './dynamic/exec-helper.js';
export type { MethodDescription } from './dynamic/instance.js';
export type { PrebuildCandidate, PrebuildResolution, PrebuildTuple } from './prebuild/index.js';
export type { Logger, LevelLogger, LoggerLike, LogLevel, LogFields } from './logger.js';
export { createJsonLogger, silentLogger } from './logger.js';
export type { GrpcHostService, HostCallContext, HostFunction, HostService, HostServices } from './dynamic/host-services.js';
export {
  BuildError,
  HostServiceError,
  PluginCallCancelledError,
  PluginCallError,
  PluginCompatibilityError,
  PluginCrashedError,
  PluginFormatError,
  PluginHandshakeError,
  PluginIntegrityError,
  PluginLoadError,
  PluginResourceLimitError,
  PluginStartError,
  PluginUnavailableError,
  PlughostError,
  PlughostUsageError,
} from './errors.js';
export type { ErrorCode, ErrorDetails } from './errors.js';
export { NoPrebuildError } from './prebuild/resolve.js';
