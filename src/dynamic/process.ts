// Starting a plugin subprocess and reading its handshake (docs/protocol.md §1).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import os from 'node:os';
import type { Duplex, Readable, Writable } from 'node:stream';

import { PluginHandshakeError, PluginStartError } from '../errors.js';
import { parsePluginLogLine, type Logger } from '../logger.js';
import { ENV, SERVER_ENV, type HandshakeLine } from '../protocol/handshake.js';
import { procEnded } from '../platform/proc.linux.js';
import { onBoundedLines, MAX_LINE_BYTES, truncateText } from './bounded-lines.js';
import { CONTROL_FD, findExecHelper, warnWithoutHelper, wrapCommand, type ResourceLimits } from './exec-helper.js';
import { looksLikeHandshake, parseHandshake } from './handshake.js';
import { inheritedEnv } from './plugin-env.js';
import { createSocketDir, removeSocketDir } from './socket-dir.js';

export interface ProcessSpec {
  readonly name: string;
  /** argv: the program and its arguments. */
  readonly command: readonly string[];
  readonly cwd?: string | undefined;
  /** Extra environment for the plugin, on top of what it may see of the host's (plugin-env.ts). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** true: the host's whole environment; false: none of it; default: the minimal BASE_ENV plus envAllow. */
  readonly inheritEnv?: boolean | undefined;
  readonly cookie: { readonly key: string; readonly value: string };
  readonly appVersions: readonly number[];
  readonly maxMessageBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
  /** Kernel-enforced limits (through plughost-exec). */
  readonly limits?: ResourceLimits | undefined;
  /** More host environment variables the plugin may see, by name (a trailing `*` is a prefix). */
  readonly envAllow?: readonly string[] | undefined;
  /** AutoMTLS: the host's client certificate (PEM) for PLUGIN_CLIENT_CERT; the handshake must then carry the plugin's. */
  readonly clientCert?: string | undefined;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PluginProcess {
  /** The process the host started: plughost-exec when there is one, which runs the plugin as its child. */
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** The plugin's own pid (the helper reports it). */
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

// What the host keeps of a plugin's output, whatever the plugin prints.
// The stderr tail is what errors quote and what tells a limit's death from a
// crash (a runtime's "out of memory" line, 20-odd stack frames before its end).
const STDERR_TAIL_LINES = 64;
/** A stderr line kept for error messages (the log record keeps up to MAX_LINE_BYTES). */
const TAIL_LINE_CHARS = 4096;
/** The whole tail, at most. */
const STDERR_TAIL_CHARS = 64 * 1024;
/** Lines before the handshake logged one by one; later ones are only counted. */
const NOISE_LINES_LOGGED = 20;

/** Whether the helper's child `pid` has ended, where /proc shows it (Linux); elsewhere only the helper's report tells. */
const deadOrZombie = (pid: number): boolean => procEnded(pid);

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(os.constants.signals).find(([, number]) => number === n);
  return entry === undefined ? null : (entry[0] as NodeJS.Signals);
}

export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `killed by ${status.signal}` : `exited with status ${status.code}`;
}

export function startPluginProcess(spec: ProcessSpec): Promise<PluginProcess> {
  const startedAt = performance.now();
  // A private directory per instance: only this user can reach the socket.
  const socketDir = createSocketDir();
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
  // TLS is the host's decision, never an inherited variable's; and a plugin
  // the host starts is never a standalone server (SDK server mode).
  if (spec.clientCert === undefined) delete env[ENV.clientCert];
  else env[ENV.clientCert] = spec.clientCert;
  for (const name of Object.values(SERVER_ENV)) delete env[name];

  const cleanup = (): void => removeSocketDir(socketDir);
  // Through plughost-exec when it is there: nothing of the plugin outlives it
  // or the host, enforced limits. It talks to us on a control socket (fd 3).
  const helper = findExecHelper();
  if (helper === null) warnWithoutHelper(spec.logger, spec.name, spec.limits);
  const [program, ...args] =
    helper === null ? spec.command : wrapCommand(helper, spec.command, spec.limits ?? {}, process.pid, { socketDir });
  let child: ChildProcessByStdio<Writable, Readable, Readable>;
  try {
    const stdio: Array<'pipe'> = helper === null ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'];
    child = spawn(program!, args, { cwd: spec.cwd, env, stdio }) as unknown as ChildProcessByStdio<Writable, Readable, Readable>;
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
  let tailChars = 0;
  // Kept for the child's whole life: a failed kill() (EPERM) also emits 'error',
  // and an 'error' without a listener would crash the host.
  let spawnError: NodeJS.ErrnoException | undefined;
  const errorListeners: Array<(err: NodeJS.ErrnoException) => void> = [];
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid === undefined) spawnError = err;
    for (const listener of errorListeners) listener(err);
    if (child.pid !== undefined) spec.logger.log('warn', 'plugin process error', { plugin: spec.name, pid: child.pid, error: err.message });
  });
  // The plugin's exit: as the helper reports it the moment it reaps the
  // plugin (it then still kills what the plugin left), else the child's own.
  let exitStatus: ExitStatus | undefined;
  let onExit: (status: ExitStatus) => void = () => {};
  const exited = new Promise<ExitStatus>((resolve) => {
    onExit = (status) => {
      if (exitStatus !== undefined) return;
      exitStatus = status;
      resolve(status);
    };
    child.once('exit', (code, signal) => onExit({ code, signal }));
  });
  // The host's end of stdin stays open: its EOF tells the plugin the host is gone.
  child.stdin.on('error', () => {});

  // The helper says which pid the plugin got ("pid N"), how it ended ("exit N",
  // "signal N"), and takes signal numbers for it.
  const control = helper === null ? undefined : (child.stdio[CONTROL_FD] as Duplex);
  let pluginPid: number | undefined = helper === null ? child.pid : undefined;
  let pluginReported = false;
  const pidKnown = new Promise<void>((resolve) => {
    if (control === undefined) return resolve();
    let text = '';
    control.on('error', () => {});
    control.on('close', () => resolve());
    control.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n')) {
        const [what, value] = text.slice(0, at).split(' ');
        text = text.slice(at + 1);
        const n = Number(value);
        if (what === 'pid' && pluginPid === undefined) (pluginPid = n), resolve();
        else if (what === 'exit') (pluginReported = true), onExit({ code: n, signal: null });
        else if (what === 'signal') (pluginReported = true), onExit({ code: null, signal: signalName(n) });
      }
      text = text.slice(-64); // a helper that says nothing sensible cannot grow this
    });
  });
  child.once('exit', (_code, signal) => {
    control?.destroy();
    // The helper itself was killed (SIGKILL: it could clean nothing up). The
    // plugin dies with it (its own parent-death signal), but what it started
    // would not: kill the plugin's process group, which the helper made it
    // lead. (A setsid daemon has left that group; only the helper's subreaper
    // sweep, or a cgroup, reaches it.)
    if (signal !== null && pluginPid !== undefined && !pluginReported) {
      try {
        process.kill(-pluginPid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    }
  });

  onBoundedLines(child.stderr, MAX_LINE_BYTES, (line) => {
    const kept = truncateText(line, TAIL_LINE_CHARS);
    tail.push(kept);
    tailChars += kept.length;
    while (tail.length > STDERR_TAIL_LINES || tailChars > STDERR_TAIL_CHARS) tailChars -= tail.shift()!.length;
    const entry = parsePluginLogLine(line);
    spec.logger.log(entry.level, entry.message, { ...entry.fields, plugin: spec.name, pid: pluginPid ?? child.pid, stream: 'stderr' });
  });

  const kill = (signal: NodeJS.Signals): boolean => {
    if (exitStatus !== undefined || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    // Died on its own, its report not read yet (the host saw its sockets close first): not ours to kill.
    if (control !== undefined && pluginPid !== undefined && deadOrZombie(pluginPid)) return false;
    try {
      // Through the helper, which signals its own child (SIGKILL: with all its descendants).
      if (control !== undefined && control.writable) return control.write(`${os.constants.signals[signal]}\n`), true;
      return child.kill(signal);
    } catch {
      return false; // e.g. EPERM: never let a failed signal escape into the host
    }
  };

  return new Promise<PluginProcess>((resolve, reject) => {
    let settled = false;
    // Noise before the handshake: counted, the last line kept, the first few logged.
    let noiseLines = 0;
    let lastNoise = '';
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill('SIGKILL');
      // Now, not at its exit: the host may be gone by then. Again at the exit,
      // in case the dying plugin wrote into it.
      cleanup();
      if (spawnError === undefined) void exited.then(cleanup);
      reject(err);
    };
    const timer = setTimeout(() => {
      fail(
        new PluginHandshakeError('PLUGHOST_HANDSHAKE_TIMEOUT', `plugin "${spec.name}" printed no handshake line within ${spec.handshakeTimeoutMs} ms`, {
          expected: 'CORE|APP|NETWORK|ADDR|PROTOCOL on stdout',
          found: noiseLines > 0 ? `${noiseLines} other line(s), last: ${JSON.stringify(lastNoise)}` : 'no output',
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

    let handshakeSeen = false;
    onBoundedLines(child.stdout, MAX_LINE_BYTES, (line) => {
      if (handshakeSeen) {
        spec.logger.log('info', line, { plugin: spec.name, pid: pluginPid ?? child.pid, stream: 'stdout' });
        return;
      }
      if (settled) return; // refused: nothing more of it is wanted
      if (!looksLikeHandshake(line)) {
        noiseLines++;
        lastNoise = truncateText(line, TAIL_LINE_CHARS);
        if (noiseLines <= NOISE_LINES_LOGGED) {
          spec.logger.log('warn', 'plugin printed a line before its handshake (ignored)', { plugin: spec.name, line: lastNoise });
        } else if (noiseLines === NOISE_LINES_LOGGED + 1) {
          spec.logger.log('warn', `plugin printed more than ${NOISE_LINES_LOGGED} lines before its handshake; further ones are only counted`, { plugin: spec.name });
        }
        return;
      }
      let handshake: HandshakeLine;
      try {
        handshake = parseHandshake(line, spec.appVersions, spec.name, spec.clientCert !== undefined);
      } catch (err) {
        fail(err as Error);
        return;
      }
      handshakeSeen = true;
      settled = true;
      clearTimeout(timer);
      // The helper wrote the plugin's pid before the plugin ran; a lost report (it
      // closed the control socket) leaves the helper's pid.
      void pidKnown.then(() => resolve({
        child,
        pid: pluginPid ?? child.pid!,
        handshake,
        socketDir,
        startedAt,
        readyMs: performance.now() - startedAt,
        exited,
        hasExited: () => exitStatus !== undefined,
        stderrTail: () => [...tail],
        kill,
        cleanup,
      }));
    });
  });
}
