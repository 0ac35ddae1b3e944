// Shared helpers for dynamic-path tests: fixture commands, a capturing logger,
// process checks. Every test closes its host, which stops every plugin.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import type { DynamicPluginOptions, LogFields, Logger, LogLevel } from '../../src/index.js';
import { waitFor as waitUntil } from '../support/wait-for.js';

export const root = path.resolve(import.meta.dirname, '../..');
export const dist = (p: string): string => path.join(root, 'dist', p);

/** The TypeScript fixture plugin (test/fixtures/dynamic/fixture-plugin.ts), built before the tests by test/setup/build-typescript.ts. */
export function fixturePlugin(env: Record<string, string> = {}, extra: Partial<DynamicPluginOptions> = {}): DynamicPluginOptions {
  return {
    name: 'fixture',
    command: [process.execPath, dist('test/fixtures/dynamic/fixture-plugin.js')],
    env,
    handshakeTimeoutMs: 10_000,
    ...extra,
  };
}

export function rawPlugin(script: string, args: string[] = [], extra: Partial<DynamicPluginOptions> = {}): DynamicPluginOptions {
  return {
    name: script,
    command: [process.execPath, path.join(root, 'test/fixtures/dynamic/raw', script), ...args],
    handshakeTimeoutMs: 3_000,
    ...extra,
  };
}

export interface CapturedLog {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

export function capturingLogger(): Logger & { entries: CapturedLog[] } {
  const entries: CapturedLog[] = [];
  return { entries, log: (level, message, fields = {}) => void entries.push({ level, message, fields }) };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it holds (test/support/wait-for.ts), failing after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  await waitUntil(check, { timeoutMs, what });
}

export const bytes = (s: string): Uint8Array => Buffer.from(s);
export const text = (b: Uint8Array): string => Buffer.from(b).toString();

export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; found?: string; expected?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, the promise resolved');
}

/**
 * Runs `body` (ES module code with `createHost`, `silentLogger` and `fixture`
 * — the fixture plugin's argv — in scope) in a separate host process; its
 * body must print one JSON array of plugin PIDs. Resolves with them.
 */
export async function hostProcess(body: string): Promise<{ child: ChildProcess; pids: number[] }> {
  const script = `
    import { createHost, silentLogger } from ${JSON.stringify(dist('src/index.js'))};
    const fixture = [process.execPath, ${JSON.stringify(dist('test/fixtures/dynamic/fixture-plugin.js'))}];
    ${body}
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pids = await new Promise<number[]>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))));
  return { child, pids };
}
