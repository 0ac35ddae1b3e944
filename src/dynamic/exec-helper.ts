// Running plugins through plughost-exec (native/exec/): nothing of a plugin
// outlives it or the host, kernel-enforced limits, its socket directory goes
// with it. Without it the host says which guarantees it lacks.
import fs from 'node:fs';
import path from 'node:path';

import type { Logger } from '../logger.js';
import { currentTarget, tupleDirName } from '../platform/target.js';
import { packageRoot } from '../package-root.js';

export interface ResourceLimits {
  /** Address space in bytes (RLIMIT_AS). A Node.js plugin needs about 1 GiB just to start. */
  readonly memoryBytes?: number;
  /** CPU time in seconds (RLIMIT_CPU): past it the plugin gets SIGXCPU, then SIGKILL. */
  readonly cpuSeconds?: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  readonly openFiles?: number;
  /** Allow core dumps (default false: RLIMIT_CORE 0). */
  readonly coreDumps?: boolean;
}

let cached: string | null | undefined;

/** Where plughost ships the helper in its own npm tarball: prebuilds/<platform>-<arch>/plughost-exec[.<libc>]. */
export function execHelperPrebuild(root: string = packageRoot()): string {
  const target = currentTarget();
  return path.join(root, 'prebuilds', tupleDirName(target), `plughost-exec${target.libc ? `.${target.libc}` : ''}`);
}

/** $PLUGHOST_EXEC_HELPER ("none" disables it), else the prebuilt one, else the one built here. */
export function findExecHelper(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env.PLUGHOST_EXEC_HELPER;
  if (explicit !== undefined) return explicit === 'none' || !fs.existsSync(explicit) ? null : explicit;
  if (cached !== undefined) return cached;
  const candidates = [execHelperPrebuild(), path.join(packageRoot(), 'build', 'Release', 'plughost-exec')];
  cached = candidates.find((c) => fs.existsSync(c)) ?? null;
  return cached;
}

/** After a build of plughost itself: the freshly built helper becomes its prebuild for this tuple. */
export function stageExecHelperPrebuild(root: string): string | null {
  const built = path.join(root, 'build', 'Release', 'plughost-exec');
  if (!fs.existsSync(built)) return null;
  const target = execHelperPrebuild(root);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(built, `${target}.tmp`);
  fs.chmodSync(`${target}.tmp`, 0o755);
  fs.renameSync(`${target}.tmp`, target);
  return target;
}

/** The helper's control socket: stdio[3] of the helper (never passed on to the plugin). */
export const CONTROL_FD = 3;

/**
 * The argv that starts `command` under the helper, with these limits. The
 * helper reports the plugin's pid on CONTROL_FD and takes signal numbers
 * there; it kills every descendant and removes `socketDir` when the plugin
 * exits or the host dies (native/exec/plughost-exec.c).
 */
export function wrapCommand(
  helper: string,
  command: readonly string[],
  limits: ResourceLimits,
  parentPid: number,
  extra: { readonly socketDir?: string } = {},
): string[] {
  const args = [helper, '--parent', String(parentPid), '--control', String(CONTROL_FD)];
  if (extra.socketDir !== undefined) args.push('--socket-dir', extra.socketDir);
  if (limits.memoryBytes !== undefined) args.push('--as', String(Math.floor(limits.memoryBytes)));
  if (limits.cpuSeconds !== undefined) args.push('--cpu', String(Math.ceil(limits.cpuSeconds)));
  if (limits.openFiles !== undefined) args.push('--nofile', String(Math.floor(limits.openFiles)));
  if (limits.coreDumps !== true) args.push('--core', '0');
  return [...args, '--', ...command];
}

const warned = new Set<string>();

/** Once per plugin name: what cannot be guaranteed without the helper. */
export function warnWithoutHelper(logger: Logger, plugin: string, limits: ResourceLimits | undefined): void {
  if (warned.has(plugin)) return;
  warned.add(plugin);
  const missing = [
    'the plugin is not killed with the host on SIGKILL (plughost SDK plugins still exit on their own; others, e.g. go-plugin plugins, are orphaned), and processes it starts (children, daemons) can outlive it',
  ];
  if (limits !== undefined && Object.keys(limits).length > 0) missing.push(`resource limits ${JSON.stringify(limits)} are not enforced`);
  if (limits?.coreDumps !== true) missing.push('core dumps are not switched off');
  logger.log('warn', 'plughost-exec not found: running the plugin without its guarantees', {
    plugin,
    missing,
    hint: 'Build plughost (npm install) or set PLUGHOST_EXEC_HELPER to the plughost-exec binary',
  });
}
