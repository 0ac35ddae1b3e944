// Loads a verified native plugin: the bytes that were checked are the bytes
// that are mapped (a private copy of them), each file (by device+inode) is
// initialised at most once per process, and the module's own descriptor must
// match the file's.
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

import { PluginIntegrityError, PluginLoadError, PlughostError } from '../errors.js';
import { checkPluginBytes, openPluginFile, type CheckedPlugin, type Expectations } from './verify.js';
import { sealedCopies } from '../platform/sealed-copy.js';

/** The name under which a plugin re-exports its descriptor (PLUGHOST_EXPORT_KEY in plughost.h). */
export const DESCRIPTOR_EXPORT_KEY = '__plughost';

export type NativeFunction = (...args: any[]) => any;

export interface LoadedModule {
  /** `dev:ino` of the loaded file: a copy via hard link or symlink has the same key. */
  readonly key: string;
  readonly file: string;
  readonly checked: CheckedPlugin;
  readonly methods: Readonly<Record<string, NativeFunction>>;
  readonly timings: LoadTimings;
}

export interface LoadTimings {
  /** Open, read and every pre-load check. */
  readonly verifyMs: number;
  /** process.dlopen, which includes the plugin's initialisation. */
  readonly dlopenMs: number;
  readonly totalMs: number;
}

export interface LoadOutcome {
  readonly module: LoadedModule;
  /** True when the file was already loaded in this process and its init did not run again. */
  readonly cached: boolean;
}

// dlopen is process-wide, so is this: two hosts in one process still load a file once.
const loadedByKey = new Map<string, LoadedModule>();
// A file whose init failed stays mapped (Node never dlcloses); retrying would run its code again.
const failedByKey = new Map<string, PlughostError>();

export function loadNativeModule(file: string, expect: Expectations): LoadOutcome {
  const started = performance.now();
  const opened = openPluginFile(file);
  let mapped = false;
  try {
    const key = `${opened.stat.dev}:${opened.stat.ino}`;
    // Re-check even a loaded file: this caller's expectations may differ from the first caller's.
    const checked = checkPluginBytes(opened.bytes, file, expect);
    const previous = loadedByKey.get(key);
    if (previous !== undefined) {
      if (previous.checked.sha256 !== checked.sha256) {
        throw new PluginIntegrityError('PLUGHOST_CHECKSUM_MISMATCH', 'file changed on disk after it was loaded', {
          file,
          expected: previous.checked.sha256,
          found: checked.sha256,
          hint: 'A loaded plugin cannot be replaced in place; restart the host to load the new file',
        });
      }
      return { module: previous, cached: true };
    }
    const failure = failedByKey.get(key);
    if (failure !== undefined) throw failure;

    const verified = performance.now();
    let exports: Record<string, unknown>;
    try {
      exports = dlopenVerified(opened.bytes, file, () => {
        mapped = true;
      });
      checkExportedDescriptor(exports, checked);
    } catch (err) {
      if (err instanceof PlughostError) failedByKey.set(key, err);
      throw err;
    }
    const loaded = performance.now();

    const module: LoadedModule = {
      key,
      file,
      checked,
      methods: collectMethods(exports),
      timings: { verifyMs: verified - started, dlopenMs: loaded - verified, totalMs: loaded - started },
    };
    loadedByKey.set(key, module);
    return { module, cached: false };
  } finally {
    // A loaded file keeps its descriptor open for the life of the process: it
    // stops the inode number (our cache key) from being recycled for another
    // file. What the loader mapped is the private copy, not this file.
    if (!mapped) fs.closeSync(opened.fd);
  }
}

// The loader could not map a copy's segments executable: its filesystem is
// mounted noexec. Another directory may do; any other failure is final.
const NOT_EXECUTABLE_HERE = /failed to map segment from shared object|operation not permitted/i;

/**
 * Loads a private copy of the verified bytes (platform/sealed-copy.ts), never
 * the file by its path: a rewrite of the file after verification cannot change
 * what runs. `onMapped` runs once the loader has mapped it (even if its init
 * then throws).
 */
function dlopenVerified(bytes: Uint8Array, file: string, onMapped: () => void): Record<string, unknown> {
  const tried: string[] = [];
  for (const copy of sealedCopies(bytes, file)) {
    try {
      const exports = dlopenCopy(copy.path, file, () => {
        copy.mapped();
        onMapped();
      });
      return exports;
    } catch (err) {
      if (err instanceof PluginLoadError && err.code === 'PLUGHOST_DLOPEN_FAILED') {
        copy.discard();
        if (NOT_EXECUTABLE_HERE.test(err.message)) {
          tried.push(`${copy.dir} (mounted noexec?)`);
          continue;
        }
      }
      throw err;
    }
  }
  throw new PluginLoadError('PLUGHOST_DLOPEN_FAILED', 'no private copy of the verified plugin could be made and mapped', {
    file,
    found: tried.length > 0 ? `tried ${tried.join(', ')}` : 'no writable directory for the copy',
    hint: 'Set PLUGHOST_LOAD_DIR to a directory this user can write, on a filesystem mounted with exec',
  });
}

function dlopenCopy(target: string, file: string, onMapped: () => void): Record<string, unknown> {
  const { RTLD_NOW, RTLD_LOCAL } = os.constants.dlopen as Record<string, number | undefined>;
  // RTLD_NOW: an unresolved symbol fails here, not as a process exit at the first call.
  // RTLD_LOCAL (explicit: macOS defaults to global): the plugin's symbols stay its own.
  const flags = (RTLD_NOW ?? 0) | (RTLD_LOCAL ?? 0);
  const module = { exports: {} as Record<string, unknown> };
  try {
    process.dlopen(module, target, flags);
    onMapped();
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split(target).join(file);
    if ((err as NodeJS.ErrnoException)?.code === 'ERR_DLOPEN_FAILED') {
      throw new PluginLoadError('PLUGHOST_DLOPEN_FAILED', `the dynamic loader refused the plugin: ${message}`, {
        file,
        cause: err,
        hint: /undefined symbol|symbol not found/i.test(message)
          ? 'The plugin references a symbol nothing provides; link the library that defines it'
          : undefined,
      });
    }
    onMapped();
    throw new PluginLoadError('PLUGHOST_INIT_FAILED', `the plugin's initialisation threw: ${message}`, {
      file,
      cause: err,
    });
  }
  return module.exports;
}

function checkExportedDescriptor(exports: Record<string, unknown>, checked: CheckedPlugin): void {
  const exported = exports[DESCRIPTOR_EXPORT_KEY];
  const expected = Buffer.from(checked.descriptorBytes);
  if (exported instanceof Uint8Array && expected.equals(exported)) return;
  throw new PluginIntegrityError(
    'PLUGHOST_DESCRIPTOR_MISMATCH',
    "the loaded module's descriptor differs from the file's",
    {
      file: checked.file,
      expected: `${checked.descriptor.name} ${checked.descriptor.version} build ${checked.descriptor.buildId} (from the file)`,
      found: exported instanceof Uint8Array ? describeBytes(exported) : `no ${DESCRIPTOR_EXPORT_KEY} export`,
      hint: 'The module was not registered by PLUGHOST_PLUGIN, or another module registered in its place',
    },
  );
}

function describeBytes(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('latin1').replace(/\0+/g, ' ').replace(/[^\x20-\x7e]/g, '.');
  return `"${text.trim().slice(0, 120)}"`;
}

function collectMethods(exports: Record<string, unknown>): Readonly<Record<string, NativeFunction>> {
  const methods: Record<string, NativeFunction> = Object.create(null);
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value === 'function') methods[name] = value as NativeFunction;
  }
  return Object.freeze(methods);
}
