// The supervisor over stand-in instances: a crash is restarted after the
// backoff, a crash loop gives the slot up with an error that says why, a
// close stops everything. The stand-ins exit when told to; no process, no gRPC.
import { describe, expect, it } from 'vitest';

import { PluginUnavailableError, type PlughostError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { ObserverReporter } from '../../../src/metrics/plugin-observer.js';
import type { ExitStatus } from '../../../src/dynamic/process.js';
import { restartPolicy, type RestartPolicy } from '../../../src/dynamic/restart-policy.js';
import type { SupervisedInstance } from '../../../src/dynamic/slot.js';
import { Supervisor } from '../../../src/dynamic/supervisor.js';

class StandIn implements SupervisedInstance {
  static started = 0;
  readonly id = ++StandIn.started;
  alive = true;
  inFlight = 0;
  shutdowns = 0;
  readonly process = { stderrTail: (): string[] => ['boom'] };
  #listeners: Array<(status: ExitStatus, expected: boolean) => void> = [];

  onExit(listener: (status: ExitStatus, expected: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** The process died on its own. */
  crash(status: ExitStatus = { code: 1, signal: null }): void {
    this.alive = false;
    for (const l of this.#listeners) l(status, false);
  }

  async shutdown(): Promise<void> {
    this.shutdowns++;
    if (!this.alive) return;
    this.alive = false;
    for (const l of this.#listeners) l({ code: 0, signal: null }, true);
  }
}

function supervise(policy: RestartPolicy, start: () => Promise<StandIn> = async () => new StandIn()) {
  const events: string[] = [];
  const started: StandIn[] = [];
  const reporter = new ObserverReporter({ onRestart: () => events.push('restart'), onUp: (up) => events.push(up ? 'up' : 'down') }, () => {});
  const supervisor = new Supervisor<StandIn>({
    policy: restartPolicy(policy),
    logger: silentLogger,
    name: () => 'fixture',
    start: async () => {
      const instance = await start();
      started.push(instance);
      return instance;
    },
    reporter,
  });
  return { supervisor, events, started };
}

/** Resolves once `predicate` holds, re-checked whenever the first slot wakes its waiters (ready, failed, closed). */
async function until(supervisor: Supervisor<StandIn>, predicate: () => boolean): Promise<void> {
  const slot = supervisor.slots[0]!;
  while (!predicate()) await new Promise<void>((resolve) => slot.waiters.push({ resolve }));
}

describe('Supervisor', () => {
  it('restarts a crashed instance after the backoff and reports down, up and the restart', async () => {
    const { supervisor, events, started } = supervise({ initialBackoffMs: 5 });
    const slot = supervisor.addSlot();
    const first = new StandIn();
    supervisor.install(slot, first);
    expect(supervisor.described).toBe(first);
    first.crash();
    expect(slot.state).toBe('restarting');
    expect(slot.instance).toBeNull();
    await until(supervisor, () => slot.state === 'ready');
    expect(slot.instance).toBe(started[0]);
    expect(supervisor.crashes).toBe(1);
    expect(supervisor.restarts).toBe(1);
    // The described instance died: the new one describes the plugin.
    expect(supervisor.described).toBe(started[0]);
    expect(events).toEqual(['up', 'down', 'up', 'restart']);
  });

  it('ignores an expected exit (a shutdown)', async () => {
    const { supervisor } = supervise({});
    const slot = supervisor.addSlot();
    const only = new StandIn();
    supervisor.install(slot, only);
    await only.shutdown();
    expect(slot.state).toBe('ready');
    expect(supervisor.crashes).toBe(0);
  });

  it('gives a crash-looping slot up with PLUGHOST_PLUGIN_UNAVAILABLE naming the limit and the last exit', async () => {
    const { supervisor } = supervise({ maxRestarts: 1, initialBackoffMs: 1 });
    const slot = supervisor.addSlot();
    supervisor.install(slot, new StandIn());
    slot.instance!.crash();
    await until(supervisor, () => slot.state === 'ready');
    slot.instance!.crash({ code: null, signal: 'SIGSEGV' });
    expect(slot.state).toBe('failed');
    const failure = slot.failure as PlughostError;
    expect(failure).toBeInstanceOf(PluginUnavailableError);
    expect(failure.code).toBe('PLUGHOST_PLUGIN_UNAVAILABLE');
    expect(failure.message).toMatch(/^plugin "fixture" crashed 2 times within 60000 ms; not restarting it/);
    expect(failure.expected).toBe('at most 1 restarts per 60000 ms');
    expect(failure.found).toContain('SIGSEGV');
    expect(failure.found).toContain('stderr: boom');
    expect(failure.hint).toBe('Fix the crash, then reload the plugin or restart the host');
  });

  it('counts a failed restart as a crash of the same loop', async () => {
    let attempts = 0;
    const { supervisor } = supervise({ maxRestarts: 2, initialBackoffMs: 1 }, async () => {
      attempts++;
      throw new Error('cannot start');
    });
    const slot = supervisor.addSlot();
    supervisor.install(slot, new StandIn());
    slot.instance!.crash();
    await until(supervisor, () => slot.state === 'failed');
    expect(attempts).toBe(2);
    expect(supervisor.restarts).toBe(0);
  });

  it('close cancels a pending restart, fails waiters, reports down and shuts the instances down', async () => {
    const { supervisor, events, started } = supervise({ initialBackoffMs: 10_000 });
    const restarting = supervisor.addSlot();
    const ready = supervisor.addSlot();
    const crasher = new StandIn();
    const survivor = new StandIn();
    supervisor.install(restarting, crasher);
    supervisor.install(ready, survivor);
    crasher.crash();
    const woken = new Promise<void>((resolve) => restarting.waiters.push({ resolve }));
    const closedError = new Error('closed');
    await supervisor.close(closedError);
    await woken;
    expect(supervisor.closed).toBe(true);
    expect(restarting.state).toBe('closed');
    expect(restarting.failure).toBe(closedError);
    expect(restarting.restartTimer).toBeUndefined();
    expect(survivor.shutdowns).toBe(1);
    expect(started).toEqual([]);
    expect(events.at(-1)).toBe('down');
  });

  it('a restart that finishes after close shuts its instance down instead of installing it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let begun!: () => void;
    const starting = new Promise<void>((resolve) => (begun = resolve));
    const { supervisor, started } = supervise({ initialBackoffMs: 1 }, async () => {
      begun();
      await gate;
      return new StandIn();
    });
    const slot = supervisor.addSlot();
    supervisor.install(slot, new StandIn());
    slot.instance!.crash();
    await starting;
    const closing = supervisor.close(new Error('closed'));
    release();
    await closing;
    expect(started).toHaveLength(1);
    expect(started[0]!.shutdowns).toBe(1);
    expect(slot.instance).toBeNull();
    expect(supervisor.restarts).toBe(0);
  });

  it('replaceAll swaps every slot, cancels restarts and forgets crashes', () => {
    const { supervisor } = supervise({ initialBackoffMs: 10_000 });
    const a = supervisor.addSlot();
    const b = supervisor.addSlot();
    const oldA = new StandIn();
    supervisor.install(a, oldA);
    supervisor.install(b, new StandIn());
    b.instance!.crash();
    expect(b.crashes.crashes).toBe(1);
    const freshA = new StandIn();
    const freshB = new StandIn();
    expect(supervisor.replaceAll([freshA, freshB])).toEqual([oldA, null]);
    expect([a.instance, b.instance]).toEqual([freshA, freshB]);
    expect(b.state).toBe('ready');
    expect(b.restartTimer).toBeUndefined();
    expect(b.crashes.crashes).toBe(0);
    expect(supervisor.described).toBe(freshA);
  });
});
