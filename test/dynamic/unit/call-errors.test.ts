// The errors calls end with (src/dynamic/call-errors.ts, exit-error.ts):
// codes, classes and words are what callers match on, so they are pinned here.
import { describe, expect, it } from 'vitest';

import {
  PluginCallCancelledError,
  PluginCallError,
  PluginCrashedError,
  PluginResourceLimitError,
  PluginUnavailableError,
} from '../../../src/errors.js';
import { callAborted, deadlineExceeded, pluginCallError, pluginClosed, transportError } from '../../../src/dynamic/call-errors.js';
import { crashError } from '../../../src/dynamic/exit-error.js';

describe('call errors', () => {
  it('callAborted keeps the signal’s reason as the cause', () => {
    const err = callAborted(AbortSignal.abort('user left'));
    expect(err).toBeInstanceOf(PluginCallCancelledError);
    expect(err.code).toBe('PLUGHOST_CALL_ABORTED');
    expect(err.message).toBe('call aborted by its signal');
    expect(err.cause).toBe('user left');
  });

  it('pluginCallError carries the plugin’s code and message (PLUGHOST_PLUGIN_EXCEPTION when it sent no code)', () => {
    const err = pluginCallError('kv', 'get', { code: 'KV_MISSING', message: 'no such key' });
    expect(err).toBeInstanceOf(PluginCallError);
    expect([err.code, err.plugin, err.method]).toEqual(['KV_MISSING', 'kv', 'get']);
    expect(err.message).toContain('no such key');
    expect(pluginCallError('kv', 'get', { code: null, message: null }).code).toBe('PLUGHOST_PLUGIN_EXCEPTION');
  });

  it('deadlineExceeded, transportError and pluginClosed', () => {
    const late = deadlineExceeded('kv', 'get', 50);
    expect([late.code, late.message]).toEqual(['PLUGHOST_DEADLINE_EXCEEDED', '"kv.get" exceeded its 50 ms deadline']);
    const transport = transportError('kv', 'get', 'batch result missing for this call');
    expect(transport).toBeInstanceOf(PluginCallError);
    expect(transport.code).toBe('PLUGHOST_TRANSPORT_ERROR');
    const closed = pluginClosed('kv', 'was stopped');
    expect(closed).toBeInstanceOf(PluginUnavailableError);
    expect([closed.code, closed.message]).toEqual(['PLUGHOST_PLUGIN_CLOSED', 'plugin "kv" was stopped']);
  });
});

describe('crashError', () => {
  const instance = { name: 'kv', pid: 42 };

  it('a crash names the exit and the last stderr lines', () => {
    const err = crashError(instance, { code: null, signal: 'SIGSEGV' }, ['1', '2', '3', '4', '5', '6']);
    expect(err).toBeInstanceOf(PluginCrashedError);
    expect(err).not.toBeInstanceOf(PluginResourceLimitError);
    expect(err.code).toBe('PLUGHOST_PLUGIN_CRASHED');
    expect(err.message).toMatch(/^plugin "kv" \(pid 42\) killed by SIGSEGV while calls were in flight/);
    expect(err.found).toBe('killed by SIGSEGV; stderr: 2 | 3 | 4 | 5 | 6');
    expect(crashError(instance, { code: 3, signal: null }, []).found).toBe('exited with status 3');
  });

  it('a kill after the CPU limit is the CPU limit, but only with one set', () => {
    const limited = crashError({ ...instance, limits: { cpuSeconds: 2 } }, { code: null, signal: 'SIGXCPU' }, []);
    expect(limited).toBeInstanceOf(PluginResourceLimitError);
    expect([limited.code, (limited as PluginResourceLimitError).resource]).toEqual(['PLUGHOST_RESOURCE_LIMIT', 'cpu']);
    expect(crashError(instance, { code: null, signal: 'SIGXCPU' }, [])).not.toBeInstanceOf(PluginResourceLimitError);
  });

  it('an allocation failure on stderr under a memory limit is the memory limit', () => {
    const limits = { memoryBytes: 1 << 30 };
    const oom = crashError({ ...instance, limits }, { code: 134, signal: null }, ['FATAL ERROR: Reached heap limit Allocation failed']);
    expect(oom).toBeInstanceOf(PluginResourceLimitError);
    expect((oom as PluginResourceLimitError).limit).toBe(1 << 30);
    expect(crashError({ ...instance, limits }, { code: 1, signal: null }, ['TypeError: x is undefined'])).not.toBeInstanceOf(PluginResourceLimitError);
  });
});
