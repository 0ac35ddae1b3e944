// What a user may ask of a dynamic plugin, and the InstanceSpec every
// instance of it starts from (the defaults live here, in one place).
import { PlughostUsageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PluginObserver } from '../metrics/plugin-observer.js';
import { DEFAULT_MAX_MESSAGE_BYTES, PLUGHOST_COOKIE } from '../protocol/handshake.js';
import type { ResourceLimits } from './exec-helper.js';
import { HostServiceTable, type HostServices } from './host-services.js';
import type { InstanceSpec } from './instance.js';
import { resolveProgram } from './program.js';
import type { RestartPolicy } from './restart-policy.js';

export interface DynamicPluginOptions {
  /** A name for logs and errors (the plugin's own name comes from Describe). */
  readonly name: string;
  /** argv of the plugin program, e.g. ['node', 'plugin.js'] or ['./kv-plugin']. */
  readonly command: readonly string[];
  readonly cwd?: string;
  /** Extra environment variables for the plugin, on top of what it may see of the host's. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How much of the host's environment the plugin sees. Default (undefined):
   * only the minimal set a runtime needs to start (BASE_ENV in plugin-env.ts:
   * PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR, and Windows'
   * SYSTEMROOT, WINDIR, COMSPEC, PATHEXT, TEMP, TMP, USERPROFILE) plus
   * `envAllow`. true: all of it, secrets included (an explicit opt-in).
   * false: none of it, not even the minimal set.
   */
  readonly inheritEnv?: boolean;
  /**
   * More host environment variables the plugin may see, by name (a trailing
   * `*` matches a prefix: 'MYAPP_*'); the rest, e.g. secrets, stays out.
   * `env` is added on top.
   */
  readonly envAllow?: readonly string[];
  /** Kernel-enforced limits, through plughost-exec (which also makes the plugin die with the host). */
  readonly limits?: ResourceLimits;
  /** go-plugin handshake cookie; default plughost's own (its SDKs expect it). */
  readonly cookie?: { readonly key: string; readonly value: string };
  /** App protocol versions offered in PLUGIN_PROTOCOL_VERSIONS (default [1]). */
  readonly appVersions?: readonly number[];
  /** Instances of the plugin; calls go to the least busy (default 1). */
  readonly pool?: number;
  readonly handshakeTimeoutMs?: number;
  /** Timeout of health, Describe, Configure and Shutdown RPCs (default 5000). */
  readonly rpcTimeoutMs?: number;
  /** Default deadline of every call, unless the call gives its own (default: none). */
  readonly callTimeoutMs?: number;
  readonly maxMessageBytes?: number;
  /** Calls in flight per instance; more wait in the host (default 4096). */
  readonly window?: number;
  /** Coalesce concurrent calls into batch frames, up to maxBatch each (default 256); false to disable. */
  readonly microBatch?: { readonly maxBatch: number } | false;
  readonly restart?: RestartPolicy;
  readonly shutdownGraceMs?: number;
  readonly killGraceMs?: number;
  /** After a call misses its deadline, a plugin whose health check takes longer than this is killed and restarted (default 1000). */
  readonly livenessTimeoutMs?: number;
  /**
   * Runs before every start of an instance (first start, restarts, reloads);
   * throwing refuses that start. The registry re-verifies the plugin's pinned
   * file here, so a restart never runs bytes that changed on disk.
   */
  readonly beforeStart?: () => void | Promise<void>;
  /**
   * Runs after every start of an instance, once it is up and described and
   * before it takes a call; throwing stops that instance and refuses the
   * start. The registry re-checks an interpreted plugin's pins here: its
   * interpreter read them by path after beforeStart checked them.
   */
  readonly afterStart?: () => void | Promise<void>;
  /** Runs once, after close() stopped every instance (the registry removes an executable's private copy here). */
  readonly afterClose?: () => void;
  /** Told of every call, restart and up/down change (e.g. HostMetrics.dynamicObserver(name)); no timing work without one. */
  readonly observer?: PluginObserver;
  /**
   * Host services this plugin may call, on top of createHost({ services })
   * (a name here wins). docs/dynamic-plugins.md, "Host services".
   */
  readonly services?: HostServices;
  /**
   * 'auto': go-plugin AutoMTLS — the host and the plugin each make a one-time
   * certificate and speak TLS, trusting only each other's; the plugin may then
   * listen on TCP. Default false: a Unix socket in a private directory.
   */
  readonly tls?: 'auto' | false;
}

/** The spec of every instance, with defaults filled in; throws PlughostUsageError for an unusable command. */
export function instanceSpecOf(options: DynamicPluginOptions, logger: Logger, hostServices: HostServiceTable = HostServiceTable.empty): InstanceSpec {
  if (!Array.isArray(options.command) || options.command.length === 0 || typeof options.command[0] !== 'string') {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `dynamic plugin "${options.name}" needs a command (argv array)`, {
      found: JSON.stringify(options.command),
    });
  }
  if (options.tls !== undefined && options.tls !== false && options.tls !== 'auto') {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `tls of dynamic plugin "${options.name}" must be 'auto' or false`, { found: String(options.tls) });
  }
  // The same program rules as manifest entries: "node" is the host's Node, "python3" a Python with grpc.
  const launch = resolveProgram(options.command, options.env);
  return {
    name: options.name,
    command: launch.command,
    cwd: options.cwd,
    env: launch.env,
    inheritEnv: options.inheritEnv,
    envAllow: options.envAllow,
    limits: options.limits,
    cookie: options.cookie ?? PLUGHOST_COOKIE,
    appVersions: options.appVersions ?? [1],
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    logger: logger,
    rpcTimeoutMs: options.rpcTimeoutMs ?? 5_000,
    window: options.window ?? 4096,
    maxBatch: options.microBatch === false ? false : (options.microBatch?.maxBatch ?? 256),
    shutdownGraceMs: options.shutdownGraceMs ?? 2_000,
    killGraceMs: options.killGraceMs ?? 2_000,
    livenessTimeoutMs: options.livenessTimeoutMs ?? 1_000,
    hostServices: hostServices.with(options.services),
    tls: options.tls ?? false,
  };
}

/** The number of instances, checked. */
export function poolSizeOf(options: DynamicPluginOptions): number {
  const size = options.pool ?? 1;
  if (!Number.isInteger(size) || size < 1) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `pool size of "${options.name}" must be a positive integer`, { found: String(size) });
  }
  return size;
}
