// Runs a build tool as a child process, keeping its output for error reports.
import { spawn } from 'node:child_process';

import { BuildError } from '../errors.js';

export interface ToolRun {
  readonly command: string;
  readonly output: string;
  readonly ms: number;
}

/** Runs `node args...` (the running Node), or any program with `options.program`. */
export function runTool(
  label: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; program?: string },
): Promise<ToolRun> {
  const started = Date.now();
  const program = options.program ?? process.execPath;
  const command = [program, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new BuildError('PLUGHOST_BUILD_FAILED', `${label}: cannot run ${program}: ${err.code === 'ENOENT' ? 'not found' : err.message}`, {
          hint: err.code === 'ENOENT' ? `Install ${program}, or run the build where it is on PATH` : undefined,
          cause: err,
        }),
      ),
    );
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (code === 0) {
        resolve({ command, output, ms: Date.now() - started });
        return;
      }
      const tail = output.trimEnd().split('\n').slice(-40).join('\n');
      reject(
        new BuildError('PLUGHOST_BUILD_FAILED', `${label} failed (${signal ?? `exit ${code}`}) in ${options.cwd}\n${tail}`, {
          hint: `Re-run by hand to see everything: (cd ${options.cwd} && ${command})`,
        }),
      );
    });
  });
}
