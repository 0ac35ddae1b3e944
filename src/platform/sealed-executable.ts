// An executable dynamic plugin runs from a private copy of the bytes that
// matched its pin, rewritten from freshly verified bytes before every start:
// replacing or rewriting the deployed file after the check (by rename or in
// place) cannot change what starts. The copy lives in a private directory
// (0700) that only this user can reach, removed when the host exits.
import fs from 'node:fs';
import path from 'node:path';

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
  };
}

function privateHome(pluginFile: string, env: NodeJS.ProcessEnv): string {
  let lastError: unknown;
  for (const dir of copyDirs(pluginFile, env)) {
    try {
      sweepStaleCopies(dir);
      const home = fs.mkdtempSync(path.join(dir, `${PRIVATE_DIR_PREFIX}${process.pid}-`));
      remember(home);
      return home;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

function remember(home: string): void {
  made.add(home);
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  // Synchronous on purpose: 'exit' allows nothing else. A SIGKILLed host's
  // copies are swept by the next host (by the pid in their name).
  process.on('exit', () => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
}
