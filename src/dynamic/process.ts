// Starting a plugin subprocess and reading its handshake (docs/protocol.md §1).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { PluginHandshakeError, PluginStartError } from '../errors.js';
import { parsePluginLogLine, type Logger } from '../logger.js';
import { ENV, type HandshakeLine } from '../protocol/handshake.js';
import { findExecHelper, warnWithoutHelper, wrapCommand, type ResourceLimits } from './exec-helper.js';
import { looksLikeHandshake, parseHandshake } from './handshake.js';

export interface ProcessSpec {
  readonly name: string;
  /** argv: the program and its arguments. */
  readonly command: readonly string[];
  readonly cwd?: string | undefined;
  /** Extra environment for the plugin (on top of the host's, unless `inheritEnv` is false). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly inheritEnv?: boolean | undefined;
  readonly cookie: { readonly key: string; readonly value: string };
  readonly appVersions: readonly number[];
  readonly maxMessageBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
  /** Kernel-enforced limits (through plughost-exec). */
  readonly limits?: ResourceLimits | undefined;
  /** Host environment variables the plugin may see; undefined = all (unless inheritEnv is false). */
  readonly envAllow?: readonly string[] | undefined;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PluginProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly pid: number;
  readonly handshake: HandshakeLine;
  readonly socketDir: string;
  readonly startedAt: number;
  readonly readyMs: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  hasExited(): boolean;
  stderrTail(): string[];
  /** Signals the process only while it is ours and alive (never a recycled PID). */
  kill(signal: NodeJS.Signals): boolean;
  /** Removes the private socket directory. */
  cleanup(): void;
}

const STDERR_TAIL_LINES = 20;

/** The host's environment as the plugin may see it: all, none, or the allowed names. */
function inheritedEnv(spec: ProcessSpec): Record<string, string> {
  if (spec.inheritEnv === false) return {};
  const all = process.env as Record<string, string>;
  if (spec.envAllow === undefined) return { ...all };
  const allowed: Record<string, string> = {};
  for (const name of spec.envAllow) if (all[name] !== undefined) allowed[name] = all[name];
  return allowed;
}

export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `killed by ${status.signal}` : `exited with status ${status.code}`;
}

export function startPluginProcess(spec: ProcessSpec): Promise<PluginProcess> {
  const startedAt = performance.now();
  // A private directory per instance: only this user can reach the socket.
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-'));
  fs.chmodSync(socketDir, 0o700);
  const env: Record<string, string> = {
    ...inheritedEnv(spec),
    ...spec.env,
    [spec.cookie.key]: spec.cookie.value,
    [ENV.protocolVersions]: spec.appVersions.join(','),
    [ENV.socketDir]: socketDir,
    [ENV.parentPid]: String(process.pid),
    [ENV.maxMessageBytes]: String(spec.maxMessageBytes),
  };
  // Older go-plugin servers (1.0.x) ignore PLUGIN_UNIX_SOCKET_DIR and put their
  // socket in $TMPDIR; pointing it at the private directory keeps the socket
  // private and removed with the directory (they leave it behind on SIGTERM).
  if (spec.env?.TMPDIR === undefined) env.TMPDIR = socketDir;
  // go-plugin's yamux multiplexing: grpc-js cannot speak it.
  delete env.PLUGIN_MULTIPLEX_GRPC;

  const cleanup = (): void => fs.rmSync(socketDir, { recursive: true, force: true });
  // Through plughost-exec when it is there: dies with the host, enforced limits.
  const helper = findExecHelper();
  if (helper === null) warnWithoutHelper(spec.logger, spec.name, spec.limits);
  const [program, ...args] = helper === null ? spec.command : wrapCommand(helper, spec.command, spec.limits ?? {}, process.pid);
  let child: ChildProcessByStdio<Writable, Readable, Readable>;
  try {
    child = spawn(program!, args, { cwd: spec.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    // Invalid arguments (e.g. a NUL byte) throw synchronously instead of emitting 'error'.
    cleanup();
    return Promise.reject(
      new PluginStartError('PLUGHOST_SPAWN_FAILED', `plugin "${spec.name}": cannot start ${JSON.stringify(program)}: ${(err as Error).message}`, {
        cause: err,
      }),
    );
  }
  const tail: string[] = [];
  // Kept for the child's whole life: a failed kill() (EPERM) also emits 'error',
  // and an 'error' without a listener would crash the host.
  let spawnError: NodeJS.ErrnoException | undefined;
  const errorListeners: Array<(err: NodeJS.ErrnoException) => void> = [];
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid === undefined) spawnError = err;
    for (const listener of errorListeners) listener(err);
    if (child.pid !== undefined) spec.logger.log('warn', 'plugin process error', { plugin: spec.name, pid: child.pid, error: err.message });
  });
  let exitStatus: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      resolve(exitStatus);
    });
  });
  // The host's end of stdin stays open: its EOF tells the plugin the host is gone.
  child.stdin.on('error', () => {});

  readline.createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    tail.push(line);
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
    const entry = parsePluginLogLine(line);
    spec.logger.log(entry.level, entry.message, { ...entry.fields, plugin: spec.name, pid: child.pid, stream: 'stderr' });
  });

  const kill = (signal: NodeJS.Signals): boolean => {
    if (exitStatus !== undefined || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    try {
      return child.kill(signal);
    } catch {
      return false; // e.g. EPERM: never let a failed signal escape into the host
    }
  };

  return new Promise<PluginProcess>((resolve, reject) => {
    let settled = false;
    const stdout = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    const noise: string[] = [];
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stdout.removeAllListeners('line');
      kill('SIGKILL');
      // A child that never spawned emits no 'exit': clean up now.
      if (spawnError !== undefined) cleanup();
      else void exited.then(cleanup);
      reject(err);
    };
    const timer = setTimeout(() => {
      fail(
        new PluginHandshakeError('PLUGHOST_HANDSHAKE_TIMEOUT', `plugin "${spec.name}" printed no handshake line within ${spec.handshakeTimeoutMs} ms`, {
          expected: 'CORE|APP|NETWORK|ADDR|PROTOCOL on stdout',
          found: noise.length > 0 ? `${noise.length} other line(s), last: ${JSON.stringify(noise[noise.length - 1])}` : 'no output',
          hint: `Is ${program} a plughost/go-plugin plugin? stderr: ${tail.slice(-3).join(' | ') || '(empty)'}`,
        }),
      );
    }, spec.handshakeTimeoutMs);

    errorListeners.push((err) => {
      if (spawnError === undefined) return;
      fail(
        new PluginStartError('PLUGHOST_SPAWN_FAILED', `plugin "${spec.name}": cannot start ${JSON.stringify(program)}: ${err.message}`, {
          cause: err,
          hint: err.code === 'ENOENT' ? 'Check the command path (and PATH)' : undefined,
        }),
      );
    });
    void exited.then((status) => {
      // Let stderr drain so the tail is complete.
      setImmediate(() => {
        const helperError = status.code === 127 ? tail.find((l) => l.startsWith('plughost-exec: ')) : undefined;
        if (helperError !== undefined) {
          // The exec helper could not start the program (not found, not executable, a limit refused).
          fail(new PluginStartError('PLUGHOST_SPAWN_FAILED', `plugin "${spec.name}": cannot start ${JSON.stringify(spec.command[0])}: ${helperError.slice('plughost-exec: '.length)}`, {
            hint: 'Check the command path (and PATH)',
          }));
          return;
        }
        fail(
          new PluginHandshakeError('PLUGHOST_HANDSHAKE_EXITED', `plugin "${spec.name}" ${describeExit(status)} before its handshake`, {
            expected: 'a handshake line on stdout',
            found: tail.length > 0 ? `stderr: ${tail.slice(-5).join(' | ')}` : 'no stderr output',
          }),
        );
      });
    });

    stdout.on('line', (line) => {
      if (settled) {
        spec.logger.log('info', line, { plugin: spec.name, pid: child.pid, stream: 'stdout' });
        return;
      }
      if (!looksLikeHandshake(line)) {
        noise.push(line);
        spec.logger.log('warn', 'plugin printed a line before its handshake (ignored)', { plugin: spec.name, line });
        return;
      }
      let handshake: HandshakeLine;
      try {
        handshake = parseHandshake(line, spec.appVersions, spec.name);
      } catch (err) {
        fail(err as Error);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve({
        child,
        pid: child.pid!,
        handshake,
        socketDir,
        startedAt,
        readyMs: performance.now() - startedAt,
        exited,
        hasExited: () => exitStatus !== undefined,
        stderrTail: () => [...tail],
        kill,
        cleanup,
      });
    });
  });
}
