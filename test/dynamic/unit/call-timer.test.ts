// Call timing and observer reporting (src/metrics/call-timer.ts and
// plugin-observer.ts), which the dynamic plugin uses: what each hook hears,
// and that a throwing hook changes nothing.
import { describe, expect, it } from 'vitest';

import { CallTimer } from '../../../src/metrics/call-timer.js';
import { ObserverReporter, type ObserverHook, type PluginObserver } from '../../../src/metrics/plugin-observer.js';

type Call = [method: string, status: string, seconds: number];

function timerWith(observer: PluginObserver | undefined) {
  const hookErrors: Array<[ObserverHook, unknown]> = [];
  const reporter = new ObserverReporter(observer, (hook, err) => hookErrors.push([hook, err]));
  return { timer: new CallTimer(reporter), reporter, hookErrors };
}

describe('CallTimer', () => {
  it('reports a call that resolves as ok, with a non-negative duration, and passes the result through', async () => {
    const calls: Call[] = [];
    const { timer } = timerWith({ onCall: (...c) => calls.push(c) });
    await expect(timer.call('echo', async () => 'result')).resolves.toBe('result');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.slice(0, 2)).toEqual(['echo', 'ok']);
    expect(calls[0]![2]).toBeGreaterThanOrEqual(0);
  });

  it('reports a failed call under its error code (or "error"), and rethrows the same error', async () => {
    const calls: Call[] = [];
    const { timer } = timerWith({ onCall: (...c) => calls.push(c) });
    const coded = Object.assign(new Error('no'), { code: 'FIXTURE_NO' });
    await expect(timer.call('m', () => Promise.reject(coded))).rejects.toBe(coded);
    await expect(timer.call('m', () => Promise.reject(new Error('plain')))).rejects.toThrow('plain');
    expect(calls.map((c) => c[1])).toEqual(['FIXTURE_NO', 'error']);
  });

  it('reports every item of a batch with its own status and the batch duration', async () => {
    const calls: Call[] = [];
    const { timer } = timerWith({ onCall: (...c) => calls.push(c) });
    const items = await timer.batch('m', 3, async () => ['a', 'B_FAILED', 'c'], (item) => (item === item.toUpperCase() ? item : 'ok'));
    expect(items).toEqual(['a', 'B_FAILED', 'c']);
    expect(calls.map((c) => c[1])).toEqual(['ok', 'B_FAILED', 'ok']);
    expect(new Set(calls.map((c) => c[2])).size).toBe(1);
  });

  it('reports each item of a batch that failed as a whole as failed', async () => {
    const calls: Call[] = [];
    const { timer } = timerWith({ onCall: (...c) => calls.push(c) });
    const crashed = Object.assign(new Error('gone'), { code: 'PLUGHOST_PLUGIN_CRASHED' });
    await expect(timer.batch('m', 2, () => Promise.reject(crashed), () => 'ok')).rejects.toBe(crashed);
    expect(calls.map((c) => c[1])).toEqual(['PLUGHOST_PLUGIN_CRASHED', 'PLUGHOST_PLUGIN_CRASHED']);
  });

  it('without an onCall hook, returns the call’s own promise (no timing work)', () => {
    const { timer } = timerWith({ onUp: () => {} });
    const promise = Promise.resolve(1);
    expect(timer.call('m', () => promise)).toBe(promise);
  });

  it('a throwing onCall is handed to the error callback and the outcome is unchanged', async () => {
    const boom = new Error('observer bug');
    const { timer, hookErrors } = timerWith({
      onCall: () => {
        throw boom;
      },
    });
    await expect(timer.call('m', async () => 'still ok')).resolves.toBe('still ok');
    expect(hookErrors).toEqual([['onCall', boom]]);
  });
});

describe('ObserverReporter', () => {
  it('tells onUp of changes only', () => {
    const ups: boolean[] = [];
    const { reporter } = timerWith({ onUp: (up) => ups.push(up) });
    for (const up of [false, true, true, false, false, true]) reporter.up(up);
    expect(ups).toEqual([true, false, true]);
  });

  it('catches throwing onUp and onRestart hooks', () => {
    const { reporter, hookErrors } = timerWith({
      onUp: () => {
        throw new Error('up');
      },
      onRestart: () => {
        throw new Error('restart');
      },
    });
    reporter.up(true);
    reporter.restart();
    expect(hookErrors.map(([hook]) => hook)).toEqual(['onUp', 'onRestart']);
  });

  it('without an observer, does nothing', () => {
    const { reporter, hookErrors } = timerWith(undefined);
    reporter.up(true);
    reporter.restart();
    reporter.call('m', 'ok', 0);
    expect(reporter.wantsCalls).toBe(false);
    expect(hookErrors).toEqual([]);
  });
});
