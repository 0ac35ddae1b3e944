// An executable dynamic plugin runs from a private copy of the bytes that
// matched its pin, rewritten from freshly verified bytes before every start:
// replacing or rewriting the deployed file after the check (by rename or in
// place) cannot change what starts. The copy lives in a private directory
// (0700) in a directory no other user can rename it out of; it is removed
// when the plugin is closed or the host exits, and swept by the next host
// after a kill.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { PluginStartError } from '../errors.js';
import { PRIVATE_DIR_PREFIX, sweepStaleCopies } from './sealed-copy.darwin.js';
import { copyDirs } from './sealed-copy.js';
import { writeAll } from '../util/regular-file.js';

const made = new Set<string>();
let cleanupInstalled = false;

export interface SealedExecutable {
  /** The path to start: stable for the plugin's life, its content renewed by `write`. */
  readonly path: string;
  /** Replaces the copy with `bytes` (verified by the caller), atomically. */
  write(bytes: Uint8Array): void;
  /** Removes the copy and its directory (when the plugin is closed). */
  dispose(): void;
}

/** A private home for one plugin's executable; `pluginFile` is the deployed file (copies go beside it when they may). */
export function sealedExecutable(pluginFile: string, env: NodeJS.ProcessEnv = process.env): SealedExecutable {
  const home = privateHome(pluginFile, env);
  const target = path.join(home, path.basename(pluginFile));
  let generation = 0;
  return {
    path: target,
    write(bytes) {
      // Written beside, then renamed over: a running instance keeps its inode,
      // a starting one sees either copy whole, never a torn one.
      const next = `${target}.${++generation}`;
      const fd = fs.openSync(next, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o500);
      try {
        writeAll(fd, bytes);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(next, target);
    },
    dispose() {
      made.delete(home);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

function privateHome(pluginFile: string, env: NodeJS.ProcessEnv): string {
  const tried: string[] = [];
  for (const dir of copyDirs(pluginFile, env)) {
    let home: string;
    try {
      sweepStaleCopies(dir);
      home = fs.mkdtempSync(path.join(dir, `${PRIVATE_DIR_PREFIX}${process.pid}-`));
    } catch (err) {
      tried.push(`${dir} (${(err as NodeJS.ErrnoException).code ?? 'not writable'})`);
      continue;
    }
    if (canExecuteIn(dir, home)) {
      remember(home);
      return home;
    }
    fs.rmSync(home, { recursive: true, force: true });
    tried.push(`${dir} (mounted noexec?)`);
  }
  throw new PluginStartError('PLUGHOST_SPAWN_FAILED', 'no directory can hold the private, executable copy of the plugin', {
    file: pluginFile,
    found: tried.length > 0 ? `tried ${tried.join(', ')}` : 'no directory that only this user (or root) can write',
    hint: 'Set PLUGHOST_LOAD_DIR to a directory this user owns, writable by it alone, on a filesystem mounted with exec',
  });
}

/** Directories already tried for exec, and the answer: a mount's noexec does not change while we run. */
const executableIn = new Map<string, boolean>();

/** A filesystem mounted noexec refuses execve, whatever the file's mode: try it once per directory (in `home`, made there). */
function canExecuteIn(dir: string, home: string): boolean {
  const known = executableIn.get(dir);
  if (known !== undefined) return known;
  const probe = path.join(home, 'probe');
  let ok = false;
  try {
    fs.writeFileSync(probe, '#!/bin/sh\nexit 0\n', { mode: 0o500 });
    ok = spawnSync(probe, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    ok = false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
  executableIn.set(dir, ok);
  return ok;
}

function remember(home: string): void {
  made.add(home);
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  // Synchronous on purpose: 'exit' allows nothing else. A host killed by a
  // signal runs no handler; its copies are swept by the next host (by the
  // pid in their name).
  process.on('exit', () => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
}
