// The pool on its own, over plain slots: which instance a call goes to, and
// waiting for one within the call's deadline and signal. The instances are
// stand-ins with the two fields the pool reads; no process, no gRPC.
import { describe, expect, it } from 'vitest';

import { PluginCallCancelledError, PluginUnavailableError } from '../../../src/errors.js';
import { Pool, pickLeastBusy } from '../../../src/dynamic/pool.js';
import { restartPolicy } from '../../../src/dynamic/restart-policy.js';
import { newSlot, wake, type Slot, type SlotState } from '../../../src/dynamic/slot.js';

interface Member {
  readonly id: string;
  alive: boolean;
  inFlight: number;
}

function slot(state: SlotState, instance: Member | null = null): Slot<Member> {
  const s = newSlot<Member>(restartPolicy(undefined));
  s.state = state;
  s.instance = instance;
  return s;
}

const member = (id: string, inFlight = 0, alive = true): Member => ({ id, inFlight, alive });

function pool(slots: Slot<Member>[], closed = { value: false }): Pool<Member> {
  return new Pool(slots, { name: () => 'fixture', isClosed: () => closed.value });
}

/** Makes the slot ready with `instance` and tells its waiters, as the supervisor does. */
function becomeReady(s: Slot<Member>, instance: Member): void {
  s.instance = instance;
  s.state = 'ready';
  wake(s);
}

/** Lets every pending promise job run (a macrotask boundary, not a sleep). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('pickLeastBusy', () => {
  it('takes the ready instance with the fewest calls in flight, the first of equals', () => {
    const slots = [slot('ready', member('a', 3)), slot('ready', member('b', 1)), slot('ready', member('c', 1))];
    expect(pickLeastBusy(slots)?.id).toBe('b');
  });

  it('skips slots that are not ready, empty, or whose instance is dying', () => {
    const slots = [
      slot('restarting', member('restarting')),
      slot('ready', null),
      slot('ready', member('dead', 0, false)),
      slot('closed', member('closed')),
      slot('ready', member('busy', 99)),
    ];
    expect(pickLeastBusy(slots)?.id).toBe('busy');
  });

  it('is null when nothing is ready', () => {
    expect(pickLeastBusy([slot('starting'), slot('failed')])).toBeNull();
  });
});

describe('Pool', () => {
  it('lists the ready instances for configure', () => {
    const p = pool([slot('ready', member('a')), slot('restarting'), slot('ready', member('b', 0, false))]);
    expect(p.ready().map((m) => m.id)).toEqual(['a', 'b']);
  });

  it('acquire returns a ready instance at once, with the options untouched', async () => {
    const options = { timeoutMs: 50 };
    const [instance, rest] = await pool([slot('ready', member('a'))]).acquire(options);
    expect(instance.id).toBe('a');
    expect(rest).toBe(options);
  });

  it('acquire waits for a restarting slot and leaves the call the rest of its deadline', async () => {
    const waiting = slot('restarting');
    const acquired = pool([waiting]).acquire({ timeoutMs: 10_000 });
    // acquire registers its waiter before it first awaits: the slot's readiness is what wakes it.
    expect(waiting.waiters.length).toBe(1);
    becomeReady(waiting, member('fresh'));
    const [instance, rest] = await acquired;
    expect(instance.id).toBe('fresh');
    expect(rest.timeoutMs).toBeGreaterThan(0);
    expect(rest.timeoutMs).toBeLessThanOrEqual(10_000);
  });

  it('acquire gives up at the deadline with PLUGHOST_DEADLINE_EXCEEDED', async () => {
    const err = await rejectionOf(pool([slot('starting')]).acquire({ timeoutMs: 20 }));
    expect(err).toBeInstanceOf(PluginCallCancelledError);
    expect(err.code).toBe('PLUGHOST_DEADLINE_EXCEEDED');
    expect(err.message).toBe('no instance of "fixture" was ready within the 20 ms deadline');
  });

  it('acquire gives up when the signal aborts, before or while waiting', async () => {
    const before = AbortSignal.abort('stop');
    const early = await rejectionOf(pool([slot('starting')]).acquire({ signal: before }));
    expect(early.code).toBe('PLUGHOST_CALL_ABORTED');
    expect(early.cause).toBe('stop');

    const controller = new AbortController();
    const acquired = pool([slot('starting')]).acquire({ signal: controller.signal });
    controller.abort('later');
    const late = await rejectionOf(acquired);
    expect(late.code).toBe('PLUGHOST_CALL_ABORTED');
    expect(late.message).toBe('call aborted by its signal');
    expect(late.cause).toBe('later');
  });

  it('acquire fails with the slot failure once nothing is starting', async () => {
    const failed = slot('failed');
    failed.failure = new PluginUnavailableError('PLUGHOST_PLUGIN_UNAVAILABLE', 'crash loop');
    expect((await rejectionOf(pool([failed]).acquire({}))).message).toBe('crash loop');
  });

  it('acquire fails with PLUGHOST_PLUGIN_UNAVAILABLE when there is no instance and no reason', async () => {
    const err = await rejectionOf(pool([slot('failed')]).acquire({}));
    expect(err.code).toBe('PLUGHOST_PLUGIN_UNAVAILABLE');
    expect(err.message).toBe('plugin "fixture" has no running instance');
  });

  it('a waiter woken by a close fails with PLUGHOST_PLUGIN_CLOSED', async () => {
    const closed = { value: false };
    const waiting = slot('restarting');
    const acquired = pool([waiting], closed).acquire({});
    await settle();
    closed.value = true;
    waiting.state = 'closed';
    wake(waiting);
    const err = await rejectionOf(acquired);
    expect(err.code).toBe('PLUGHOST_PLUGIN_CLOSED');
    expect(err.message).toBe('plugin "fixture" is closed');
  });

  it('a waiter woken by a sibling that failed keeps waiting for the one still restarting', async () => {
    const failing = slot('restarting');
    const restarting = slot('restarting');
    const acquired = pool([failing, restarting]).acquire({});
    await settle();
    failing.state = 'failed';
    wake(failing);
    // It now waits on `restarting` alone.
    await settle();
    expect(restarting.waiters.length).toBe(2);
    becomeReady(restarting, member('survivor'));
    expect((await acquired)[0].id).toBe('survivor');
  });
});
